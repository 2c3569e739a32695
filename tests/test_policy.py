"""The rights gate: every reason to deny is named; a grant or consent valid on the asked date allows."""

from __future__ import annotations

import datetime as dt

import pytest

from cinefoundry.catalog.models import Consent, Grant, Performer, Title
from cinefoundry.catalog.policy import allowed
from cinefoundry.workspace import Workspace

D = dt.date


@pytest.fixture
def film(ws: Workspace):
    """A title with no grants, and a session to add some in."""
    with ws.session("test") as s:
        title = Title(id="film", name="The Film", kind="feature", extra={})
        s.add(title)
        s.flush()
        yield s, title


def grant(s, title: Title, **kw) -> Grant:
    fields = {"uses": ["train", "generate"], "territories": ["WW"], "excluded_territories": [], "licence": "ACME-1",
              "source": "test", "created_by": "tester"} | kw  # fmt: skip
    g = Grant(title=title, **fields)
    s.add(g)
    s.flush()
    return g


def test_no_grant_is_denied_and_the_reason_says_so(film) -> None:
    _, title = film
    d = allowed(title, "train")
    assert not d and d.reason == "The Film (film): no grant for 'train'"


def test_a_grant_for_another_use_does_not_count(film) -> None:
    s, title = film
    grant(s, title, uses=["reference"])
    assert "no grant for 'train'" in allowed(title, "train").reason


def test_expired_window_is_denied_naming_the_grant(film) -> None:
    s, title = film
    g = grant(s, title, window_start=D(2020, 1, 1), window_end=D(2025, 12, 31))
    assert allowed(title, "train", on=D(2025, 12, 31)).ok
    d = allowed(title, "train", on=D(2026, 1, 1))
    assert not d and f"grant #{g.id} (ACME-1) expired on 2025-12-31" in d.reason


def test_window_not_yet_started_is_denied(film) -> None:
    s, title = film
    g = grant(s, title, window_start=D(2027, 1, 1))
    d = allowed(title, "generate", on=D(2026, 6, 1))
    assert not d and f"grant #{g.id} (ACME-1) window starts 2027-01-01" in d.reason


def test_wrong_territory_is_denied_naming_what_the_grant_covers(film) -> None:
    s, title = film
    g = grant(s, title, territories=["US", "CA"])
    assert allowed(title, "train", territory="us").ok
    d = allowed(title, "train", territory="FR")
    assert not d and f"grant #{g.id} (ACME-1) covers CA, US, not FR" in d.reason
    assert "covers CA, US only, not worldwide" in allowed(title, "train").reason


def test_excluded_territory_is_denied(film) -> None:
    s, title = film
    grant(s, title, excluded_territories=["CN"])
    assert allowed(title, "train", territory="FR").ok
    assert "excludes CN" in allowed(title, "train", territory="CN").reason
    assert "excludes CN, so not worldwide" in allowed(title, "train").reason


def test_revoked_grant_is_denied_from_its_revocation_on(film) -> None:
    s, title = film
    g = grant(s, title)
    g.revoke("licence ended", "tester", at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
    d = allowed(title, "train", on=D(2026, 3, 1))
    assert not d and f"grant #{g.id} (ACME-1) was revoked on 2026-03-01: licence ended" in d.reason
    assert allowed(title, "train", on=D(2026, 2, 28)).ok, "checks of earlier dates see the grant as it was"


def test_grant_with_restrictions_needs_legal_review(film) -> None:
    s, title = film
    grant(s, title, restrictions="no use of scenes with minors")
    d = allowed(title, "train")
    assert not d and "restrictions that need legal review: 'no use of scenes with minors'" in d.reason


def test_a_valid_grant_allows_and_is_named_as_the_basis(film) -> None:
    s, title = film
    grant(s, title, territories=["US"], window_end=D(2030, 1, 1))  # does not fit FR
    g = grant(s, title, window_start=D(2026, 1, 1), window_end=D(2027, 12, 31))
    d = allowed(title, "train", territory="FR", on=D(2027, 1, 1))
    assert d.ok and d.basis == f"grant:{g.id}"
    assert d.reason == f"The Film (film): grant #{g.id} (ACME-1) allows 'train' in FR on 2027-01-01"


def test_unknown_use_is_a_programming_error(film) -> None:
    _, title = film
    with pytest.raises(ValueError, match="unknown use"):
        allowed(title, "sell")


def consent(s, performer: Performer, **kw) -> Consent:
    fields = {"kind": "synthetic_likeness", "titles": [], "uses": [], "territories": ["WW"],
              "description": "previs of scene 12", "representation": "union", "document_sha256": "0" * 64,
              "created_by": "tester"} | kw  # fmt: skip
    c = Consent(performer=performer, **fields)
    s.add(c)
    s.flush()
    return c


def test_performer_without_consent_is_refused(film) -> None:
    s, _ = film
    p = Performer(id="ada", name="Ada Actor", aliases=[])
    s.add(p)
    d = allowed(p, "digital_replica")
    assert not d and d.reason == "Ada Actor: no digital_replica consent on record"


def test_consent_scope_titles_uses_territory_and_revocation(film) -> None:
    s, _ = film
    p = Performer(id="ada", name="Ada Actor", aliases=[])
    s.add(p)
    c = consent(s, p, titles=["film"], uses=["generate"], territories=["NL"], window_end=D(2027, 6, 30))
    on = D(2027, 1, 1)
    assert allowed(p, "synthetic_likeness", title="film", purpose="generate", territory="NL", on=on).ok
    assert "covers titles film only, not other" in allowed(p, "synthetic_likeness", title="other", territory="NL",
                                                           on=on).reason  # fmt: skip
    assert "covers generate only, not train" in allowed(p, "synthetic_likeness", title="film", purpose="train",
                                                        territory="NL", on=on).reason  # fmt: skip
    assert "covers NL, not FR" in allowed(p, "synthetic_likeness", title="film", territory="FR", on=on).reason
    assert "expired on 2027-06-30" in allowed(p, "synthetic_likeness", title="film", territory="NL",
                                              on=D(2027, 7, 1)).reason  # fmt: skip
    assert "no digital_replica consent" in allowed(p, "digital_replica", title="film", territory="NL", on=on).reason
    c.revoke("performer withdrew", "tester", at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    d = allowed(p, "synthetic_likeness", title="film", territory="NL", on=on)
    assert not d and f"consent #{c.id} was revoked on 2026-12-01: performer withdrew" in d.reason
