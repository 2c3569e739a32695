"""Provenance tables: one record per generation, every likeness-guard decision, performers' reference faces.

Both are audited (the hash-chained log covers them) and never deleted: a record must still resolve years
later from a watermark found in a file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cinefoundry.core.audit import Audited, snapshot
from cinefoundry.core.db import Base, UTCDateTime, utcnow
from cinefoundry.registry.models import StudioModel


class GenerationRecord(Audited, Base):
    """What made one output: model, dataset version, prompt (and its hash), seed, parameters, inputs, who."""

    __tablename__ = "generations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "gen_" + 16 hex digits of the watermark id
    watermark_id: Mapped[str] = mapped_column(String(16), unique=True)  # 64-bit id, hex, carried in every frame
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    dataset_version: Mapped[str | None] = mapped_column(String(200))
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(40))
    prompt: Mapped[str] = mapped_column(Text)
    prompt_sha256: Mapped[str] = mapped_column(String(64), index=True)
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # role -> {"path", "sha256"}
    outputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{"path", "sha256", "format"}]
    licence: Mapped[str] = mapped_column(String(300))
    attributions: Mapped[list[str]] = mapped_column(JSON, default=list)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("generations.id"))  # the preview a final came from
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    model: Mapped[StudioModel] = relationship()

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self) | {"model": self.model.label if self.model else None}


class LikenessCheck(Audited, Base):
    """One decision of the likeness guard on a prompt, a reference image or an output."""

    __tablename__ = "likeness_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(20))  # prompt | image | output
    digest: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the prompt text or the file
    detail: Mapped[str | None] = mapped_column(Text)  # the prompt, or the file name
    allowed: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    performers: Mapped[list[str]] = mapped_column(JSON, default=list)  # performer ids the decision concerns
    tenant: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    generation_id: Mapped[str | None] = mapped_column(ForeignKey("generations.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class PerformerFace(Audited, Base):
    """A reference image of a performer's face for the likeness guard's face matcher.

    The image bytes live in the workspace's object store under `sha256`; `box` is the face in it (x, y, w, h).
    """

    __tablename__ = "performer_faces"
    __table_args__ = (UniqueConstraint("performer_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    box: Mapped[list[int]] = mapped_column(JSON)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(2000))  # the file it was registered from
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)
