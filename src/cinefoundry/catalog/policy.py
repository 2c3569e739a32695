"""The single rights gate: `allowed(subject, use, territory=..., on=...) -> Decision`.

Every stage that touches media, prompts or outputs asks here; nothing else decides rights. A title is
allowed a use when one of its grants covers that use, territory and date, is not revoked by then and
carries no restriction awaiting legal review. A performer is allowed a kind of likeness use when one of
their consents covers it in the same way. The default is no: no grant or no consent means denied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from cinefoundry.catalog import terms
from cinefoundry.catalog.models import Consent, Grant, Performer, Title
from cinefoundry.catalog.terms import CONSENT_KINDS, TITLE_USES, WORLDWIDE


@dataclass(frozen=True)
class Decision:
    """The answer of the rights gate: `ok`, a reason naming the grant or consent (or what is missing)."""

    ok: bool
    reason: str
    basis: str | None = None  # "grant:12" or "consent:3" when allowed

    def __bool__(self) -> bool:
        return self.ok

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def today() -> dt.date:
    """Today's date in UTC, the default date of every rights check."""
    return dt.datetime.now(dt.UTC).date()


def allowed(
    subject: Title | Performer,
    use: str,
    *,
    territory: str | None = None,
    on: dt.date | None = None,
    title: str | None = None,
    purpose: str | None = None,
) -> Decision:
    """May `subject` be used for `use` in `territory` on date `on`?

    For a Title, `use` is train, generate or reference. For a Performer, `use` is a consent kind
    (digital_replica, digital_alteration, synthetic_likeness, training_use); `title` and `purpose` (a title
    use) narrow the check to a consent whose scope covers them. `territory` None means worldwide.
    """
    where = terms.territory(territory) if territory else WORLDWIDE
    when = on or today()
    if isinstance(subject, Title):
        if use not in TITLE_USES:
            raise ValueError(f"unknown use {use!r} for a title: one of {', '.join(TITLE_USES)}")
        return _title_decision(subject, use, where, when)
    if isinstance(subject, Performer):
        if use not in CONSENT_KINDS:
            raise ValueError(f"unknown consent kind {use!r}: one of {', '.join(CONSENT_KINDS)}")
        return _performer_decision(subject, use, where, when, title, purpose)
    raise TypeError(f"rights are checked for a Title or a Performer, not {type(subject).__name__}")


def _title_decision(t: Title, use: str, where: str, when: dt.date) -> Decision:
    name = f"{t.name} ({t.id})"
    candidates = [g for g in t.grants if use in g.uses]
    if not candidates:
        return Decision(False, f"{name}: no grant for '{use}'")
    problems = []
    for g in candidates:
        label = f"grant #{g.id} ({g.licence})"
        problem = _scope_problem(label, g, where, when) or _restriction_problem(label, g)
        if problem is None:
            return Decision(True, f"{name}: {label} allows '{use}' in {where} on {when}", f"grant:{g.id}")
        problems.append(problem)
    return Decision(False, f"{name}: '{use}' in {where} on {when} is not covered: " + "; ".join(problems))


def _performer_decision(
    p: Performer, kind: str, where: str, when: dt.date, title: str | None, purpose: str | None
) -> Decision:
    candidates = [c for c in p.consents if c.kind == kind]
    if not candidates:
        return Decision(False, f"{p.name}: no {kind} consent on record")
    problems = []
    for c in candidates:
        label = f"consent #{c.id}"
        problem = _scope_problem(label, c, where, when) or _consent_scope_problem(label, c, title, purpose)
        if problem is None:
            scope = f" for {title}" if title else ""
            return Decision(True, f"{p.name}: {label} allows {kind}{scope} in {where} on {when}", f"consent:{c.id}")
        problems.append(problem)
    return Decision(False, f"{p.name}: {kind} in {where} on {when} is not covered: " + "; ".join(problems))


def _scope_problem(label: str, item: Grant | Consent, where: str, when: dt.date) -> str | None:
    """Revocation, window and territory: shared by grants and consents."""
    if item.revoked_by_date(when):
        why = f": {item.revoke_reason}" if item.revoke_reason else ""
        return f"{label} was revoked on {item.revoked_at:%Y-%m-%d}{why}"
    if item.window_start and when < item.window_start:
        return f"{label} window starts {item.window_start}"
    if item.window_end and when > item.window_end:
        return f"{label} expired on {item.window_end}"
    covered = item.territories
    excluded = getattr(item, "excluded_territories", None) or []
    if where == WORLDWIDE:
        if covered != [WORLDWIDE]:
            return f"{label} covers {', '.join(covered)} only, not worldwide"
        if excluded:
            return f"{label} excludes {', '.join(excluded)}, so not worldwide"
        return None
    if where in excluded:
        return f"{label} excludes {where}"
    if WORLDWIDE not in covered and where not in covered:
        return f"{label} covers {', '.join(covered)}, not {where}"
    return None


def _restriction_problem(label: str, g: Grant) -> str | None:
    # Free-text restrictions cannot be evaluated by a machine: such a grant needs legal review first.
    if g.restrictions:
        return f"{label} carries restrictions that need legal review: {g.restrictions!r}"
    return None


def _consent_scope_problem(label: str, c: Consent, title: str | None, purpose: str | None) -> str | None:
    if c.titles and title not in c.titles:
        return f"{label} covers titles {', '.join(c.titles)} only" + (f", not {title}" if title else "")
    if c.uses and purpose and purpose not in c.uses:
        return f"{label} covers {', '.join(c.uses)} only, not {purpose}"
    return None
