"""Dataset versions: immutable and content-hashed, rights re-checked on the build date, filters on stored
scores, titles removed with lineage, and the rights audit with its public summary."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.catalog.models import Grant
from cinefoundry.catalog.rights import revoke_grant
from cinefoundry.core.errors import CinefoundryError
from cinefoundry.dataset.audit import audit_dataset, summary_markdown
from cinefoundry.dataset.build import BuildSettings, build_dataset, read_manifest, remove_title
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.config import FilterConfig
from cinefoundry.ingest.run import run_ingest
from cinefoundry.testing.film import make_shots
from cinefoundry.workspace import Workspace

SHORT = BuildSettings(width=64, height=64, frames=9, fps=8)  # 1 s samples: the synthetic shots are short


@pytest.fixture
def ingested_library(ws: Workspace, tmp_path: Path) -> Workspace:
    """Three titles (CC BY, CC0 and a contract), each one synthetic file with two shots, ingested."""
    rows = []
    for i, (title, licence) in enumerate([("Alpha", "CC-BY-4.0"), ("Beta", "CC0-1.0"), ("Gamma", "ACME-1")]):
        make_shots(tmp_path / f"{title}.mp4", [40 + i, 80], size=(160, 90), seed=i + 1)
        row = {"title": title, "kind": "short", "media": f"{title}.mp4", "licence": licence,
               "attribution": f"{title} (c) Studio", "year": 2020 + i}  # fmt: skip
        if licence == "ACME-1":
            row |= {"uses": "train", "territories": "WW"}
        rows.append(row)
    (tmp_path / "m.json").write_text(json.dumps(rows))
    assert import_catalog(tmp_path / "m.json", ws.session, ws.actor).ok
    assert run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri)).ok
    return ws


def build(ws: Workspace, name: str = "ds", settings: BuildSettings = SHORT, on: dt.date | None = None):
    return build_dataset(ws.session, ClipCatalog(ws.clips_uri), ws.store, name, settings, ws.actor, on)


def test_a_build_freezes_a_content_hashed_version_and_an_identical_build_changes_nothing(ingested_library):
    first = build(ingested_library)
    assert first.created and first.version["number"] == 1
    assert [t["title_id"] for t in first.titles] == ["alpha", "beta", "gamma"]
    again = build(ingested_library)
    assert not again.created and again.version["content_hash"] == first.version["content_hash"]
    members = read_manifest(ingested_library.store, first.version["manifest_sha256"])
    assert len(members) == first.version["clips"] and all(m["caption"] for m in members)
    assert [m["clip_id"] for m in members] == sorted(m["clip_id"] for m in members)


def test_filters_act_on_stored_scores_at_build_time(ingested_library):
    loose = build(ingested_library)
    strict = build(ingested_library, settings=BuildSettings(64, 64, 9, 8, FilterConfig(min_seconds=2.5)))
    assert strict.created and strict.version["clips"] < loose.version["clips"]
    assert strict.rejected["too_short"] > 0
    with pytest.raises(CinefoundryError, match=r"would have no clips \(left out: \{'shorter_than_sample': 6\}"):
        build(ingested_library, "long", BuildSettings(64, 64, 33, 8))  # 33 frames at 8 fps need 4 s clips


def test_a_title_whose_grant_is_revoked_is_left_out_of_the_next_version_and_the_audit_says_why(ingested_library):
    ws = ingested_library
    before = build(ws)
    with ws.session("rights.revoke") as s:
        grant = s.scalars(select(Grant).where(Grant.title_id == "beta")).one()
        revoke_grant(s, grant.id, "rights holder takedown", ws.actor)
    after = build(ws)
    assert after.created and after.version["number"] == before.version["number"] + 1
    assert [t["title_id"] for t in after.titles] == ["alpha", "gamma"]
    with ws.session("t") as s:
        audit = audit_dataset(s, "ds")
        old = audit_dataset(s, "ds@v1")
    [excluded] = audit["excluded"]
    assert excluded["title_id"] == "beta" and "revoked" in excluded["reason"] and "takedown" in excluded["reason"]
    assert [t["title_id"] for t in old["titles"]] == ["alpha", "beta", "gamma"], "old versions never change"
    # built on a date before the revocation, the title is back: the rights check is for the build date
    past = build(ws, "past", on=dt.date.today() - dt.timedelta(days=1))
    assert [t["title_id"] for t in past.titles] == ["alpha", "beta", "gamma"]


def test_remove_title_makes_a_new_version_and_lists_what_relied_on_it(ingested_library):
    ws = ingested_library
    v1 = build(ws)
    build(ws, "other")
    result, affected = remove_title(ws.session, ws.store, "ds", "Gamma", "licence ended", ws.actor)
    v2 = result.version
    assert v2["number"] == 2 and v2["parent_id"] == v1.version["id"] and v2["note"] == "removed gamma: licence ended"
    assert v2["catalog_version"] == v1.version["catalog_version"], "same clips, minus the title"
    assert [t["title_id"] for t in result.titles] == ["alpha", "beta"]
    assert sorted(a["label"] for a in affected) == ["ds@v1", "other@v1"]
    with pytest.raises(CinefoundryError, match="does not contain gamma"):
        remove_title(ws.session, ws.store, "ds", "gamma", "again", ws.actor)


def test_the_audit_lists_grants_and_attribution_lines_and_writes_a_summary(ingested_library):
    ws = ingested_library
    build(ws)
    with ws.session("t") as s:
        audit = audit_dataset(s, "ds")
    licences = {t["title_id"]: t["grant"]["licence"] for t in audit["titles"]}
    assert licences == {"alpha": "CC-BY-4.0", "beta": "CC0-1.0", "gamma": "ACME-1"}
    assert audit["attribution_lines"] == ["Alpha (c) Studio"], "only CC BY requires attribution here"
    text = summary_markdown(audit, "studio")
    for heading in ("## 1. General information", "## 2. List of data sources", "## 3. Data processing"):
        assert heading in text
    assert "| Alpha | 2020 |" in text and "Alpha (c) Studio" in text
    assert "- Performers credited in these titles: 0; likeness consents in force: none" in text
    assert "Changes: the titles above were cut into short clips" in text, "CC BY asks that changes be indicated"


def test_nothing_to_build_is_an_error(ws: Workspace):
    with pytest.raises(CinefoundryError, match="clip catalog is empty"):
        build(ws)
