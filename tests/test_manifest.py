"""CSV and JSON manifests: one row per media file, with title, rights and cast columns."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import fsspec
import pytest
from sqlalchemy import select

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.catalog.models import Title
from cinefoundry.testing.synth import make_video
from cinefoundry.workspace import Workspace

SRT = "1\n00:00:00,000 --> 00:00:01,000\nHello.\n\n2\n00:00:01,500 --> 00:00:02,000\nGoodbye.\n"


def write_csv(path: Path, rows: list[dict]) -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "reels").mkdir()
    (tmp_path / "subs").mkdir()
    names = ("reels/r1.mp4", "reels/r2.mp4", "night.mp4", "good.mp4", "bad.mp4", "c1.mp4", "c2.mp4", "j.mp4")
    for i, name in enumerate(names):
        make_video(tmp_path / name, frames=12 + i)  # distinct content, so distinct sha256
    (tmp_path / "subs" / "harbour.en.srt").write_text(SRT)
    return tmp_path


def test_csv_manifest_imports_titles_rights_cast_and_subtitles(ws: Workspace, media: Path) -> None:
    manifest = write_csv(media / "catalog.csv", [
        {"title_id": "harbour", "title": "Harbour Lights", "year": "2019", "kind": "feature", "director": "Jo Dir",
         "media": "reels/r1.mp4", "licence": "ACME-2019-007", "uses": "train;generate", "territories": "US;CAN",
         "window_start": "2020-01-01", "window_end": "2030-12-31", "cast": "Ann Lead:lead; Bob Side",
         "aliases": "Ann Lead=Annie L.|A. Lead", "characters": "Mara=Ann Lead:on_screen; Robot=Bob Side:voice",
         "subtitles": "en=subs/harbour.en.srt", "notes": "an extra column is ignored"},
        {"title_id": "harbour", "media": "reels/r2.mp4", "media_role": "extra"},
        {"title": "Night Shift", "year": "2021", "kind": "episode", "media": "night.mp4", "licence": "CC-BY-4.0"},
    ])  # fmt: skip
    report = import_catalog(manifest, ws.session, ws.actor)
    assert report.ok, report.errors
    with ws.session("t") as s:
        harbour = s.get(Title, "harbour")
        assert (harbour.name, harbour.year, harbour.kind, harbour.director) == (
            "Harbour Lights",
            2019,
            "feature",
            "Jo Dir",
        )
        reels = [(Path(m.uri).name, m.role, m.frame_count) for m in harbour.media_files]
        assert reels == [("r1.mp4", "primary", 12), ("r2.mp4", "extra", 13)]
        [g] = harbour.grants
        assert (g.licence, g.uses, g.territories, g.attribution_required) == (
            "ACME-2019-007", ["generate", "train"], ["CA", "US"], False)  # fmt: skip
        assert (g.window_start, g.window_end) == (dt.date(2020, 1, 1), dt.date(2030, 12, 31))
        assert {(c.performer.name, c.role, tuple(c.performer.aliases)) for c in harbour.credits} == {
            ("Ann Lead", "lead", ("A. Lead", "Annie L.")), ("Bob Side", None, ())}  # fmt: skip
        assert {(c.name, c.performer.name, c.performance) for c in harbour.characters} == {
            ("Mara", "Ann Lead", "on_screen"), ("Robot", "Bob Side", "voice")}  # fmt: skip
        assert [(sub.language, sub.cue_count, sub.format) for sub in harbour.subtitles] == [("en", 2, "srt")]
        night = s.get(Title, "night-shift")
        assert [(g.licence, g.territories, g.attribution_required) for g in night.grants] == [
            ("CC-BY-4.0", ["WW"], True)
        ]


def test_json_manifest_takes_lists_and_objects(ws: Workspace, media: Path) -> None:
    manifest = media / "catalog.json"
    row = {"title": "Json Film", "kind": "short", "media": "j.mp4", "licence": "CC0-1.0",
           "cast": [{"name": "Cy Star", "aliases": ["C. Star"]}],
           "characters": [{"name": "Hero", "performer": "Cy Star"}]}  # fmt: skip
    manifest.write_text(json.dumps({"rows": [row]}))
    report = import_catalog(manifest, ws.session, ws.actor)
    assert report.ok, report.errors
    with ws.session("t") as s:
        film = s.get(Title, "json-film")
        assert [(g.licence, g.uses, g.attribution_required) for g in film.grants] == [
            ("CC0-1.0", ["generate", "train"], False)
        ]
        assert film.characters[0].performer.aliases == ["C. Star"]


def test_malformed_rows_fail_their_title_only_and_name_the_line(ws: Workspace, media: Path) -> None:
    manifest = write_csv(media / "catalog.csv", [
        {"title": "Good", "kind": "short", "year": "2020", "media": "good.mp4", "licence": "", "uses": ""},
        {"title": "Bad", "kind": "short", "year": "20x0", "media": "bad.mp4"},
        {"title": "Bad", "kind": "short", "year": "2020", "media": "good.mp4"},
        {"title": "Clash", "kind": "short", "media": "c1.mp4"},
        {"title": "Clash", "kind": "feature", "media": "c2.mp4"},
        {"title": "", "kind": "short", "media": "good.mp4"},
        {"title": "Unlicensed", "kind": "short", "media": "good.mp4", "uses": "train"},
        {"title": "Contract", "kind": "short", "media": "good.mp4", "licence": "ACME-1"},
    ])  # fmt: skip
    report = import_catalog(manifest, ws.session, ws.actor)
    errors = {e["source"].rsplit(" ", 1)[-1]: e["problem"] for e in report.errors}
    assert errors["3"] == "year: Input should be a valid integer, unable to parse string as an integer"
    assert errors["6"].startswith("kind is 'feature' here but 'short' in") and errors["6"].endswith(
        "line 5 (same title 'clash')"
    )
    assert errors["7"] == "each row needs a title (or a title_id of a title named on another row)"
    assert errors["8"] == "uses are given without a licence (SPDX id or contract reference)"
    status = {t.id: t.status for t in report.titles}
    assert status == {
        "bad": "failed",
        "clash": "failed",
        "unlicensed": "failed",
        "good": "created",
        "contract": "created",
    }
    contract = next(t for t in report.titles if t.id == "contract")
    assert contract.warnings == ["licence 'ACME-1' given without uses: no grant created"]
    with ws.session("t") as s:
        assert sorted(s.scalars(select(Title.id))) == ["contract", "good"]


def test_a_manifest_without_a_media_column_is_refused(ws: Workspace, tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "x.csv", [{"title": "A", "kind": "short"}])
    report = import_catalog(manifest, ws.session, ws.actor)
    assert report.errors == [{"source": str(manifest), "problem": "no 'media' column (columns: title, kind)"}]


def test_media_at_an_fsspec_url_is_measured_where_it_lives(ws: Workspace, tmp_path: Path) -> None:
    """memory:// stands in for s3:// (same fsspec path); it lives in this process, hence workers=1."""
    fs = fsspec.filesystem("memory")
    fs.pipe("/vault/reels/r9.mp4", make_video(tmp_path / "r9.mp4", frames=30).read_bytes())
    manifest = write_csv(tmp_path / "remote.csv", [
        {"title": "Vault Film", "kind": "feature", "media": "memory://vault/reels/r9.mp4"},
        {"title": "Vault Film", "media": "memory://vault/reels/missing.mp4"},
    ])  # fmt: skip
    report = import_catalog(manifest, ws.session, ws.actor, workers=1)
    assert report.errors == [{"source": "memory://vault/reels/missing.mp4", "problem": "file not found"}]
    manifest = write_csv(tmp_path / "remote.csv", [
        {"title": "Vault Film", "kind": "feature", "media": "memory://vault/reels/r9.mp4"}])  # fmt: skip
    assert import_catalog(manifest, ws.session, ws.actor, workers=1).ok
    with ws.session("t") as s:
        [media] = s.get(Title, "vault-film").media_files
        assert (media.uri, media.frame_count) == ("memory://vault/reels/r9.mp4", 30)
