"""Ingest tables: clips (lineage to title, media file, time range and grant) and completion markers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cinefoundry.core.db import Base, UTCDateTime, utcnow


class Clip(Base):
    """A training clip: which title, file, time range and grant it comes from, and its video's sha256."""

    __tablename__ = "clips"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), index=True)
    media_file_id: Mapped[int] = mapped_column(ForeignKey("media_files.id"), index=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("rights_grants.id"), index=True)
    processing_hash: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    frames: Mapped[int] = mapped_column(Integer)
    fps: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    video_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IngestMarker(Base):
    """Completion marker: this media content (of this media file) was processed under this configuration."""

    __tablename__ = "ingest_markers"

    media_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    processing_hash: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The same content recorded under two titles is processed once for each: clips carry their title.
    media_file_id: Mapped[int] = mapped_column(ForeignKey("media_files.id"), primary_key=True)
    clips: Mapped[int] = mapped_column(Integer)
    footage_s: Mapped[float] = mapped_column(Float)
    cpu_s: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    summary: Mapped[str | None] = mapped_column(Text)  # shots, transitions, spans (JSON)
