"""Performers and their consents: adding people and aliases, recording and revoking consents."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator, model_validator
from sqlalchemy.orm import Session

from cinefoundry.catalog import terms
from cinefoundry.catalog.models import Consent, Performer
from cinefoundry.catalog.specs import _In
from cinefoundry.core.errors import NotFoundError


class ConsentIn(_In):
    """A consent as a performer signed it. The description must say what the use is, specifically."""

    kind: str
    titles: list[str] = []
    uses: list[str] = []
    territories: list[str] = ["WW"]
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    description: str = Field(min_length=10)
    representation: str
    document_sha256: str

    _kind = field_validator("kind")(lambda v: terms.consent_kind(v))
    _uses = field_validator("uses")(lambda v: [terms.use(u) for u in v])
    _terr = field_validator("territories")(lambda v: terms.territories(v))
    _doc = field_validator("document_sha256")(lambda v: terms.sha256_hex(v))

    @field_validator("representation")
    @classmethod
    def _rep(cls, v: str) -> str:
        if v not in ("counsel", "union", "none"):
            raise ValueError("representation is counsel, union or none")
        return v

    @model_validator(mode="after")
    def _window(self) -> ConsentIn:
        terms.window(self.window_start, self.window_end)
        return self


def performer_for(s: Session, name: str, aliases: list[str] | None = None) -> tuple[Performer, bool]:
    """The performer with this name, created if new, with `aliases` added; returns (performer, created).

    The id is the name's slug, so case, accents and spacing do not make a second person.
    """
    found = s.get(Performer, terms.slug(name))
    if found is None:
        found = Performer(id=terms.slug(name), name=name.strip(), aliases=sorted(set(aliases or [])))
        s.add(found)
        s.flush()
        return found, True
    if aliases and not set(aliases) <= set(found.aliases):
        found.aliases = sorted(set(found.aliases) | set(aliases))
    return found, False


def add_consent(s: Session, performer: Performer, consent: ConsentIn, actor: str) -> Consent:
    """Record a signed consent; titles in its scope must exist in the catalog."""
    record = Consent(performer=performer, created_by=actor, **consent.model_dump())
    s.add(record)
    s.flush()
    return record


def revoke_consent(s: Session, consent_id: int, reason: str, actor: str) -> Consent:
    """Mark a consent revoked from now; what it allowed before stays on record."""
    consent = s.get(Consent, consent_id)
    if consent is None:
        raise NotFoundError(f"no consent #{consent_id}")
    consent.revoke(reason, actor)
    s.flush()
    return consent
