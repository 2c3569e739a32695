"""Dataset tables: versions (immutable), the titles and grants each relies on, and titles left out (why)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cinefoundry.core.audit import Audited, snapshot
from cinefoundry.core.db import Base, UTCDateTime, utcnow


class DatasetVersion(Audited, Base):
    """One frozen version of a named dataset: a pinned clip-catalog version plus settings; never changed."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("name", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    catalog_version: Mapped[int] = mapped_column(Integer)  # the Lance version of the clip catalog
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    clips: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    manifest_sha256: Mapped[str] = mapped_column(String(64))  # sorted clip ids, in the object store
    built_on: Mapped[dt.date] = mapped_column(Date)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    titles: Mapped[list[DatasetTitle]] = relationship(order_by="DatasetTitle.title_id")
    exclusions: Mapped[list[DatasetExclusion]] = relationship(order_by="DatasetExclusion.title_id")

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.number}"

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self) | {"label": self.label}


class DatasetTitle(Base):
    """A title in a dataset version and the grant that allowed it on the build date."""

    __tablename__ = "dataset_titles"

    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("rights_grants.id"), index=True)
    licence: Mapped[str] = mapped_column(String(300))
    attribution: Mapped[str | None] = mapped_column(Text)
    clips: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)


class DatasetExclusion(Base):
    """A title that was asked for (or was in the parent version) but is not in this version, and why."""

    __tablename__ = "dataset_exclusions"

    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
