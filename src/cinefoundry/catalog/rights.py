"""Recording and revoking rights grants. Changes are audited by the session; revocation never deletes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import Grant, Title
from cinefoundry.catalog.specs import GrantIn
from cinefoundry.core.errors import NotFoundError


def add_grant(s: Session, title: Title, terms: GrantIn, actor: str, source: str = "cli") -> Grant:
    """Record a grant on `title` with validated `terms`."""
    grant = Grant(
        title=title,
        uses=terms.uses,
        territories=terms.territories,
        excluded_territories=terms.excluded_territories,
        window_start=terms.window_start,
        window_end=terms.window_end,
        licence=terms.licence,
        licence_url=terms.licence_url,
        restrictions=terms.restrictions,
        attribution_required=bool(terms.attribution_required),
        source=source,
        created_by=actor,
    )
    s.add(grant)
    s.flush()
    return grant


def revoke_grant(s: Session, grant_id: int, reason: str, actor: str, at: dt.datetime | None = None) -> Grant:
    """Mark a grant revoked from `at` (default now); it keeps answering for checks of earlier dates."""
    grant = s.get(Grant, grant_id)
    if grant is None:
        raise NotFoundError(f"no grant #{grant_id}")
    grant.revoke(reason, actor, at)
    s.flush()
    return grant


def list_grants(s: Session, title: Title | None = None) -> list[Grant]:
    query = select(Grant).order_by(Grant.title_id, Grant.id)
    if title is not None:
        query = query.where(Grant.title_id == title.id)
    return list(s.scalars(query))
