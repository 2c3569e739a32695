"""Look titles and performers up by what a user types, and shape them for display and `--json`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cinefoundry.catalog import terms
from cinefoundry.catalog.models import Consent, Grant, Performer, Title
from cinefoundry.catalog.policy import today
from cinefoundry.core.errors import NotFoundError


def find_title(s: Session, ref: str) -> Title:
    """A title by id, EIDR id or exact name (any case); a miss suggests the closest names."""
    ref = ref.strip()
    title = s.get(Title, ref)
    if title is None:
        title = s.scalars(
            select(Title).where(or_(Title.eidr_id == ref.upper(), func.lower(Title.name) == ref.lower()))
        ).first()
    if title is None:
        choices = {t.id: f"{t.name} ({t.id})" for t in s.scalars(select(Title))}
        raise NotFoundError(f"no title {ref!r}" + _suggest(ref, choices))
    return title


def find_performer(s: Session, ref: str) -> Performer:
    """A performer by id, name or alias (case and accents ignored); a miss suggests the closest names."""
    try:
        key = terms.slug(ref)
    except ValueError:
        key = ""
    performer = s.get(Performer, key) if key else None
    if performer is None:
        everyone = list(s.scalars(select(Performer)))
        performer = next((p for p in everyone if key in {terms.slug(a) for a in p.aliases}), None)
        if performer is None:
            raise NotFoundError(f"no performer {ref!r}" + _suggest(ref, {p.id: p.name for p in everyone}))
    return performer


def _suggest(ref: str, choices: dict[str, str]) -> str:
    best = process.extract(ref, choices, scorer=fuzz.WRatio, limit=3, score_cutoff=60)
    return f"; did you mean {', '.join(label for label, _, _ in best)}?" if best else ""


def grant_status(g: Grant | Consent, on: dt.date | None = None) -> str:
    """active, revoked, expired or pending (window not started) on date `on`."""
    when = on or today()
    if g.revoked_by_date(when):
        return "revoked"
    if g.window_end and when > g.window_end:
        return "expired"
    if g.window_start and when < g.window_start:
        return "pending"
    return "active"


def grant_view(g: Grant) -> dict[str, Any]:
    return g.as_dict() | {"status": grant_status(g)}


def consent_view(c: Consent) -> dict[str, Any]:
    return c.as_dict() | {"status": grant_status(c), "performer": c.performer.name}


def title_summary(t: Title) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "year": t.year,
        "kind": t.kind,
        "eidr_id": t.eidr_id,
        "media_files": len(t.media_files),
        "duration_s": round(sum(m.duration_s for m in t.media_files), 3),
        "frames": sum(m.frame_count for m in t.media_files),
        "performers": len(t.credits),
        "active_grants": sum(grant_status(g) == "active" for g in t.grants),
        "uses": sorted({u for g in t.grants if grant_status(g) == "active" for u in g.uses}),
    }


def title_detail(t: Title) -> dict[str, Any]:
    return t.as_dict() | {
        "media_files": [m.as_dict() for m in t.media_files],
        "subtitles": [sub.as_dict() for sub in t.subtitles],
        "cast": [{"performer": c.performer.name, "performer_id": c.performer_id, "role": c.role} for c in t.credits],
        "characters": [
            {"name": c.name, "performer": c.performer.name if c.performer else None, "performance": c.performance}
            for c in t.characters
        ],
        "grants": [grant_view(g) for g in t.grants],
    }


def performer_view(p: Performer) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "aliases": p.aliases,
        "titles": sorted({c.title_id for c in p.credits} | {c.title_id for c in p.characters}),
        "characters": [{"title": c.title_id, "name": c.name, "performance": c.performance} for c in p.characters],
        "consents": [consent_view(c) for c in p.consents],
    }
