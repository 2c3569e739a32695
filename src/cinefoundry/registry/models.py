"""Registry tables: trained models (numbered per name, audited) and the title grants each one relied on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cinefoundry.core.audit import Audited, snapshot
from cinefoundry.core.db import Base, UTCDateTime, utcnow
from cinefoundry.dataset.models import DatasetVersion

TRAINED = "trained"
AFFECTED = "affected"  # a title it was trained on was removed from a dataset: re-train or retire it


class StudioModel(Audited, Base):
    """One registered model version, `name@vN`: what it was trained on, from what, with which code, for whom.

    Rows are never deleted; when the rights behind a model change, `status` (and `status_note`) say so.
    """

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    number: Mapped[int] = mapped_column(Integer)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    recipe: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # None only for models not trained on a dataset here (imported base weights)
    dataset_version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))
    base_weights: Mapped[str | None] = mapped_column(Text)
    lora_rank: Mapped[int | None] = mapped_column(Integer)
    code_version: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(2000))  # checkpoint folder, relative to the workspace home
    licence: Mapped[str] = mapped_column(String(300))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=TRAINED)
    status_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    dataset: Mapped[DatasetVersion | None] = relationship()
    parent: Mapped[StudioModel | None] = relationship(remote_side=[id])
    grants: Mapped[list[ModelGrant]] = relationship(order_by="ModelGrant.title_id")

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.number}"

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self) | {
            "label": self.label,
            "dataset": self.dataset.label if self.dataset else None,
            "parent": self.parent.label if self.parent else None,
        }


class ModelGrant(Base):
    """A title a model relied on (through its dataset version or its parent) and the grant that allowed it."""

    __tablename__ = "model_grants"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True)
    # indexed on its own: "which models used this title" is asked whenever a title is removed
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), primary_key=True, index=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("rights_grants.id"), index=True)
