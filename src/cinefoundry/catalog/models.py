"""Catalog tables: what the studio owns (titles, media), who appears in it, and what it may do with it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from cinefoundry.catalog import terms
from cinefoundry.catalog.terms import (  # noqa: F401  (re-exported: the vocabulary of these tables)
    CONSENT_KINDS,
    PERFORMANCES,
    REPRESENTATIONS,
    TITLE_KINDS,
    TITLE_USES,
    WORLDWIDE,
)
from cinefoundry.core.audit import Audited, snapshot
from cinefoundry.core.db import Base, UTCDateTime, utcnow
from cinefoundry.core.errors import CinefoundryError


class Revocable:
    """Mixin for grants and consents: revocation is recorded (when, by whom, why), never a deletion."""

    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    def revoke(self, reason: str, actor: str, at: dt.datetime | None = None) -> None:
        """Revoke from `at` (default now); checks of earlier dates still see it as it was."""
        label = f"{type(self).__name__.lower()} #{getattr(self, 'id', '?')}"
        if self.revoked_at is not None:
            raise CinefoundryError(f"{label} was already revoked on {self.revoked_at:%Y-%m-%d}")
        if not reason.strip():
            raise CinefoundryError(f"revoking {label} needs a reason (licence ended, takedown, withdrawn, ...)")
        self.revoked_at, self.revoked_by, self.revoke_reason = at or utcnow(), actor, reason.strip()

    def revoked_by_date(self, on: dt.date) -> bool:
        return self.revoked_at is not None and self.revoked_at.date() <= on

    # Whatever path writes a grant or consent, its terms are stored in one canonical form.
    @validates("territories")
    def _territories(self, _key: str, value: list[str]) -> list[str]:
        return terms.territories(value)

    @validates("excluded_territories")
    def _excluded(self, _key: str, value: list[str]) -> list[str]:
        return sorted({terms.territory(c) for c in value})


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Title(Audited, Base):
    """A film, episode, short, trailer or element library the studio holds; `id` is a stable slug used
    everywhere downstream."""

    __tablename__ = "titles"
    __table_args__ = (CheckConstraint(_in("kind", TITLE_KINDS), name="kind"),)

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    eidr_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    rights_holder: Mapped[str | None] = mapped_column(String(300))
    director: Mapped[str | None] = mapped_column(String(300))
    attribution: Mapped[str | None] = mapped_column(Text)
    live_action: Mapped[bool | None] = mapped_column(Boolean)
    has_dialogue: Mapped[bool | None] = mapped_column(Boolean)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    media_files: Mapped[list[MediaFile]] = relationship(back_populates="title", order_by="MediaFile.id")
    subtitles: Mapped[list[Subtitle]] = relationship(back_populates="title", order_by="Subtitle.id")
    characters: Mapped[list[Character]] = relationship(back_populates="title", order_by="Character.id")
    credits: Mapped[list[CastCredit]] = relationship(back_populates="title", order_by="CastCredit.billing")
    grants: Mapped[list[Grant]] = relationship(back_populates="title", order_by="Grant.id")

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class MediaFile(Audited, Base):
    """A video file of a title, with properties measured by decoding it with PyAV (not read from a manifest)."""

    __tablename__ = "media_files"
    __table_args__ = (UniqueConstraint("title_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), index=True)
    uri: Mapped[str] = mapped_column(String(2000))
    role: Mapped[str] = mapped_column(String(40), default="primary")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    container: Mapped[str] = mapped_column(String(100))
    video_codec: Mapped[str] = mapped_column(String(50))
    audio_codecs: Mapped[list[str]] = mapped_column(JSON, default=list)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    fps_rational: Mapped[str] = mapped_column(String(30))
    frame_count: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    probe: Mapped[str] = mapped_column(String(100))
    # Where this file starts in the full title's timeline (aligns full-film subtitles); None when unknown.
    film_offset_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    title: Mapped[Title] = relationship(back_populates="media_files")

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class Subtitle(Audited, Base):
    """A subtitle file of a title; `timeline` says which cut its timings follow."""

    __tablename__ = "subtitles"
    __table_args__ = (UniqueConstraint("title_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), index=True)
    uri: Mapped[str] = mapped_column(String(2000))
    language: Mapped[str | None] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64))
    cue_count: Mapped[int] = mapped_column(Integer)
    timeline: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    title: Mapped[Title] = relationship(back_populates="subtitles")

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class Performer(Audited, Base):
    """A person whose likeness or voice appears in the catalog; aliases feed the likeness guard."""

    __tablename__ = "performers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    credits: Mapped[list[CastCredit]] = relationship(back_populates="performer")
    characters: Mapped[list[Character]] = relationship(back_populates="performer")
    consents: Mapped[list[Consent]] = relationship(back_populates="performer", order_by="Consent.id")

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class Character(Audited, Base):
    """A character of a title and the performer who plays it, on screen or by voice only."""

    __tablename__ = "characters"
    __table_args__ = (
        UniqueConstraint("title_id", "name", "performer_id"),
        CheckConstraint(_in("performance", PERFORMANCES), name="performance"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    performer_id: Mapped[str | None] = mapped_column(ForeignKey("performers.id"), index=True)
    performance: Mapped[str] = mapped_column(String(20))

    title: Mapped[Title] = relationship(back_populates="characters")
    performer: Mapped[Performer | None] = relationship(back_populates="characters")

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class CastCredit(Audited, Base):
    """A performer credited in a title (`role` is the credit text, e.g. 'voice of Sintel')."""

    __tablename__ = "cast_credits"

    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), primary_key=True)
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.id"), primary_key=True)
    role: Mapped[str | None] = mapped_column(String(300))
    billing: Mapped[int] = mapped_column(Integer, default=0)

    title: Mapped[Title] = relationship(back_populates="credits")
    performer: Mapped[Performer] = relationship(back_populates="credits")


class Grant(Audited, Revocable, Base):
    """A right the studio holds on a title: uses, territories, window, licence and restrictions.

    Revocation is recorded, never deleted: a grant revoked on day D still answers for checks of earlier dates.
    """

    __tablename__ = "rights_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id"), index=True)
    uses: Mapped[list[str]] = mapped_column(JSON)
    territories: Mapped[list[str]] = mapped_column(JSON)
    excluded_territories: Mapped[list[str]] = mapped_column(JSON, default=list)
    window_start: Mapped[dt.date | None] = mapped_column(Date)
    window_end: Mapped[dt.date | None] = mapped_column(Date)
    licence: Mapped[str] = mapped_column(String(300))
    licence_url: Mapped[str | None] = mapped_column(String(2000))
    restrictions: Mapped[str | None] = mapped_column(Text)
    attribution_required: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    title: Mapped[Title] = relationship(back_populates="grants")

    @validates("uses")
    def _uses(self, _key: str, value: list[str]) -> list[str]:
        return terms.uses(value)

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)


class Consent(Audited, Revocable, Base):
    """A performer's consent of one kind, scoped by titles, uses, territories and window; revocable.

    Empty `titles` or `uses` means every title or every use. The signed document is referenced by sha256.
    """

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint(_in("kind", CONSENT_KINDS), name="kind"),
        CheckConstraint(_in("representation", REPRESENTATIONS), name="representation"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    performer_id: Mapped[str] = mapped_column(ForeignKey("performers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    titles: Mapped[list[str]] = mapped_column(JSON, default=list)
    uses: Mapped[list[str]] = mapped_column(JSON, default=list)
    territories: Mapped[list[str]] = mapped_column(JSON)
    window_start: Mapped[dt.date | None] = mapped_column(Date)
    window_end: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    representation: Mapped[str] = mapped_column(String(20))
    document_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    performer: Mapped[Performer] = relationship(back_populates="consents")

    @validates("uses")
    def _uses(self, _key: str, value: list[str]) -> list[str]:
        return sorted({terms.use(u) for u in value})

    def as_dict(self) -> dict[str, Any]:
        return snapshot(self)
