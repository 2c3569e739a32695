"""`catalog import` of the real sample library: counts measured by decoding, cast, grants, idempotence."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.catalog.models import CastCredit, Character, Grant, MediaFile, Performer, Subtitle, Title
from cinefoundry.core.audit import AuditEntry, verify


def test_samples_import_as_four_titles(imported) -> None:
    ws, report = imported
    assert report.ok, report.errors
    assert report.counts() == {"created": 4, "updated": 0, "unchanged": 0, "failed": 0}
    assert any("screenplays" in s for s in report.skipped)
    with ws.session("t") as s:
        assert sorted(s.scalars(select(Title.id))) == ["big_buck_bunny", "sintel", "sintel_trailer", "tears_of_steel"]


def test_every_frame_count_is_measured_and_equals_decoded_frames(imported, samples: Path) -> None:
    ws, _ = imported
    expected = {}
    for title_json in samples.glob("*/title.json"):
        for f in json.loads(title_json.read_text())["files"]:
            expected[str((title_json.parent / f["file"]).resolve())] = (f["decoded_frames"], f["sha256"], f["width"])
    with ws.session("t") as s:
        measured = {m.uri: (m.frame_count, m.sha256, m.width) for m in s.scalars(select(MediaFile))}
        probes = set(s.scalars(select(MediaFile.probe)))
    assert measured == expected
    assert all(p.startswith("pyav-") and p.endswith(":full") for p in probes)


def test_tears_of_steel_has_its_seven_performers_and_two_on_screen_characters(imported) -> None:
    ws, _ = imported
    with ws.session("t") as s:
        tos = s.get(Title, "tears_of_steel")
        assert len(tos.credits) == 7
        assert {(c.name, c.performer.name, c.performance) for c in tos.characters} == {
            ("Thom", "Vanja Rukavina", "on_screen"),
            ("Celia", "Denise Rebergen", "on_screen"),
        }
        assert tos.director == "Ian Hubert" and tos.live_action is True
        assert {sub.language: sub.cue_count for sub in tos.subtitles} == dict.fromkeys(
            ["en", "de", "es", "it", "nl"], 76
        )
        sintel = s.get(Title, "sintel")
        assert [(c.name, c.performer.name, c.performance) for c in sintel.characters] == [
            ("Sintel", "Halina Reijn", "voice")
        ]
        # one person across titles: Halina Reijn is credited in the film and the trailer
        assert s.scalar(select(func.count()).select_from(Performer)) == 9
        assert (
            s.scalar(select(func.count()).select_from(CastCredit).where(CastCredit.performer_id == "halina-reijn")) == 2
        )


def test_cc_by_licence_becomes_a_worldwide_train_and_generate_grant_without_end(imported) -> None:
    ws, _ = imported
    with ws.session("t") as s:
        grants = s.scalars(select(Grant)).all()
    assert len(grants) == 4
    for g in grants:
        assert (g.uses, g.territories, g.window_start, g.window_end, g.licence) == (
            ["generate", "train"], ["WW"], None, None, "CC-BY-3.0")  # fmt: skip
        assert g.attribution_required and g.licence_url == "https://creativecommons.org/licenses/by/3.0/"
        assert g.source.endswith("title.json")


def test_reimport_changes_nothing(imported, samples: Path) -> None:
    ws, _ = imported
    with ws.session("t") as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    again = import_catalog(samples, ws.session, ws.actor, workers=2)
    assert again.ok and again.counts()["unchanged"] == 4
    assert all(not t.changes and not t.warnings for t in again.titles)
    with ws.session("t") as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == before
        assert s.scalar(select(func.count()).select_from(Character)) == 4
        assert s.scalar(select(func.count()).select_from(Subtitle)) == 14
        assert verify(s).ok
