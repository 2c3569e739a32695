"""Storyboard tables: a project per screenplay board, a record per shot (stable id), every take kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cinefoundry.core.audit import Audited, snapshot
from cinefoundry.core.db import Base, UTCDateTime, utcnow
from cinefoundry.registry.models import StudioModel


class StoryboardProject(Audited, Base):
    """A board made from one screenplay (by content hash) with one model, for one tenant."""

    __tablename__ = "storyboard_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    script_path: Mapped[str] = mapped_column(String(2000))
    script_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    credit: Mapped[str] = mapped_column(String(500), default="")
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    style: Mapped[str] = mapped_column(Text, default="")  # the house style appended to every prompt
    scenes: Mapped[list[int]] = mapped_column(JSON, default=list)  # the scenes boarded
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # steps, guidance, seed base
    folder: Mapped[str] = mapped_column(String(2000))  # where takes and exports go
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)  # what the parser could not place
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    model: Mapped[StudioModel] = relationship()
    shots: Mapped[list[StoryboardShot]] = relationship(order_by="(StoryboardShot.scene, StoryboardShot.number)",
                                                       back_populates="project")  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class StoryboardShot(Audited, Base):
    """One shot of the board: its plan (size, angle, move, characters, dialogue, duration) and prompt."""

    __tablename__ = "storyboard_shots"
    __table_args__ = (UniqueConstraint("project_id", "scene", "number"),)

    id: Mapped[str] = mapped_column(String(240), primary_key=True)  # "<project>-s003-02"
    project_id: Mapped[int] = mapped_column(ForeignKey("storyboard_projects.id"), index=True)
    scene: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(String(500))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    prompt: Mapped[str] = mapped_column(Text)
    approved_take: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[StoryboardProject] = relationship(back_populates="shots")
    takes: Mapped[list[StoryboardTake]] = relationship(order_by="StoryboardTake.number", back_populates="shot")

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class StoryboardTake(Audited, Base):
    """A take of a shot: generated (files and record), refused by the guard, or failed; never deleted."""

    __tablename__ = "storyboard_takes"
    __table_args__ = (UniqueConstraint("shot_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shot_id: Mapped[str] = mapped_column(ForeignKey("storyboard_shots.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    size: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # generated | refused | failed
    reason: Mapped[str | None] = mapped_column(Text)
    record_id: Mapped[str | None] = mapped_column(ForeignKey("generations.id"))
    clip: Mapped[str | None] = mapped_column(String(2000))
    image: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    shot: Mapped[StoryboardShot] = relationship(back_populates="takes")

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)
