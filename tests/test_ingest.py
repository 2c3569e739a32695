"""Ingest on a synthetic library, on SQLite and PostgreSQL: lineage, resume, reprocessing, bad files."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import av
import pytest
from sqlalchemy import func, select

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.catalog.models import Grant
from cinefoundry.catalog.rights import revoke_grant
from cinefoundry.ingest.catalog import DEFAULT_CAPTION, ClipCatalog
from cinefoundry.ingest.config import IngestConfig
from cinefoundry.ingest.models import Clip, IngestMarker
from cinefoundry.ingest.run import commit, run_ingest
from cinefoundry.testing.synth import make_video
from cinefoundry.workspace import Workspace

CUTS = {"reel_a.mp4": (96, (40,)), "reel_b.webm": (120, (30, 75)), "reel_c.mp4": (72, ())}


@pytest.fixture
def library(ws: Workspace, tmp_path: Path) -> Workspace:
    """Two titles: Harbour (2 files) and Night Shift (1 file), with known cuts, imported into `ws`."""
    for name, (frames, cuts) in CUTS.items():
        make_video(tmp_path / name, frames=frames, size=(192, 108), fps=24, cuts=cuts)
    rows = [
        {"title": "Harbour", "kind": "feature", "media": "reel_a.mp4", "licence": "CC-BY-4.0", "year": 2020},
        {"title": "Harbour", "media": "reel_b.webm"},
        {"title": "Night Shift", "kind": "episode", "media": "reel_c.mp4", "licence": "CC0-1.0"},
    ]
    manifest = tmp_path / "catalog.json"
    manifest.write_text(json.dumps(rows))
    assert import_catalog(manifest, ws.session, ws.actor).ok
    return ws


def ingest(ws: Workspace, **kw):
    return run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri), **kw)


def test_clips_carry_lineage_in_the_database_and_the_clip_catalog(library: Workspace):
    report = ingest(library)
    assert report.ok and [t.processed for t in report.titles] == [2, 1]
    catalog = ClipCatalog(library.clips_uri)
    rows = catalog.rows()
    with library.session("t") as s:
        clips = {c.id: c for c in s.scalars(select(Clip))}
        grants = {g.title_id: g.id for g in s.scalars(select(Grant))}
    assert set(clips) == {r["clip_id"] for r in rows} and len(rows) >= 5
    for r in rows:
        c = clips[r["clip_id"]]
        assert (c.title_id, c.media_file_id, c.grant_id) == (r["title_id"], r["media_file_id"], grants[r["title_id"]])
        assert (r["frames"] - 1) % 4 == 0 and r["fps"] == 16
        assert (r["width"], r["height"]) == (176, 96)  # 192x108 sources: short side 96 (never upscaled), 16-aligned
        assert r[DEFAULT_CAPTION].startswith(("A shot from Harbour (2020)", "A shot from Night Shift"))
    # the clip video is real: H.264, the recorded frame count and size, in the store and in Lance
    sample = rows[0]
    video = catalog.videos([sample["clip_id"]])[sample["clip_id"]]
    with library.store.open(sample["video_sha256"]) as f:
        assert f.read() == video
    with av.open(io.BytesIO(video)) as container:
        frames = list(container.decode(video=0))
        assert container.streams.video[0].codec_context.name == "h264"
    assert (len(frames), frames[0].width, frames[0].height) == (sample["frames"], sample["width"], sample["height"])


def test_clips_stay_inside_shots(library: Workspace):
    ingest(library)
    rows = ClipCatalog(library.clips_uri).rows()
    cut_times = {name: [c / 24 for c in cuts] for name, (_, cuts) in CUTS.items()}
    with library.session("t") as s:
        from cinefoundry.catalog.models import MediaFile

        names = {m.id: Path(m.uri).name for m in s.scalars(select(MediaFile))}
    for r in rows:
        for t in cut_times[names[r["media_file_id"]]]:
            assert not (r["start_s"] + 0.05 < t < r["end_s"] - 0.05), (
                f"clip {r['start_s']}-{r['end_s']} spans a cut at {t}"
            )


def test_a_second_run_skips_finished_files_and_writes_nothing(library: Workspace):
    ingest(library)
    catalog = ClipCatalog(library.clips_uri)
    version, rows = catalog.version, catalog.rows(columns=["clip_id", "video_sha256"])
    again = ingest(library)
    assert [(t.processed, t.already_done) for t in again.titles] == [(0, 2), (0, 1)]
    assert catalog.version == version and catalog.rows(columns=["clip_id", "video_sha256"]) == rows


def test_changing_a_filter_threshold_reprocesses_nothing(library: Workspace):
    first = ingest(library)
    strict = IngestConfig()
    strict = replace(strict, filters=strict.filters.with_overrides("min_seconds=30"))
    second = ingest(library, config=strict)
    assert second.processing_hash == first.processing_hash
    assert all(t.processed == 0 and t.kept == 0 for t in second.titles)
    assert all(t.rejected.get("too_short") == t.clips for t in second.titles)


def test_changing_clip_settings_reprocesses_and_replaces_the_clips(library: Workspace):
    ingest(library)
    base = IngestConfig()
    shorter = replace(base, clips=replace(base.clips, max_seconds=1.0))
    report = ingest(library, config=shorter)
    assert [t.processed for t in report.titles] == [2, 1]
    rows = ClipCatalog(library.clips_uri).rows(columns=["clip_id", "processing_hash", "frames"])
    assert {r["processing_hash"] for r in rows} == {report.processing_hash}
    assert max(r["frames"] for r in rows) <= 17
    with library.session("t") as s:
        assert s.scalar(select(func.count()).select_from(Clip)) == len(rows)
        assert {m.processing_hash for m in s.scalars(select(IngestMarker))} == {report.processing_hash}


def test_a_denied_title_is_skipped_with_the_reason(library: Workspace):
    with library.session("rights.revoke") as s:
        grant = s.scalars(select(Grant).where(Grant.title_id == "night-shift")).one()
        revoke_grant(s, grant.id, "licence ended", library.actor)
    report = ingest(library)
    night = next(t for t in report.titles if t.id == "night-shift")
    assert not night.allowed and "revoked" in night.reason and "licence ended" in night.reason
    assert night.processed == 0 and night.clips == 0


def test_replaying_a_commit_changes_nothing(library: Workspace):
    """A run killed after writing the clip catalog but before its marker replays the commit on resume."""
    from cinefoundry.ingest.pipeline import process_media
    from cinefoundry.ingest.run import IngestReport, _plan

    cfg = IngestConfig().resolved(gpu=False)
    report = IngestReport(cfg.processing_hash(), {}, "local", 1)
    task = _plan(library.session, cfg, None, None, report, False)[0]
    result = process_media(task)
    catalog = ClipCatalog(library.clips_uri)
    catalog.replace_media(task.media_file_id, [])  # nothing yet
    commit(library.session, catalog, library.store, task, result)
    first = catalog.rows(columns=["clip_id", "video_sha256"])
    commit(library.session, catalog, library.store, task, result)
    assert catalog.rows(columns=["clip_id", "video_sha256"]) == first
    with library.session("t") as s:
        assert s.scalar(select(func.count()).select_from(Clip)) == len(first)


def test_bad_files_fail_alone_and_the_batch_goes_on(ws: Workspace, tmp_path: Path):
    """Files that import fine but cannot make clips, or were changed after import."""
    good = make_video(tmp_path / "good.mp4", frames=48, size=(96, 54), cuts=(20,))
    tiny = make_video(tmp_path / "tiny.mp4", frames=24, size=(16, 8))
    one = make_video(tmp_path / "one.mkv", frames=1, size=(64, 48))
    odd = make_video(tmp_path / "odd.avi", frames=40, size=(50, 34), fps=12)
    prores = make_video(tmp_path / "master.mov", frames=36, size=(96, 64))
    later = make_video(tmp_path / "later.mp4", frames=36, size=(96, 54))
    rows = [{"title": f"T {p.stem}", "kind": "short", "media": p.name, "licence": "CC0-1.0"}
            for p in (good, tiny, one, odd, prores, later)]  # fmt: skip
    (tmp_path / "m.json").write_text(json.dumps(rows))
    assert import_catalog(tmp_path / "m.json", ws.session, ws.actor).ok
    make_video(later, frames=36, size=(96, 54), cuts=(10,))  # changed after import
    report = ingest(ws, workers=2)
    errors = {Path(e["source"]).name: e["problem"] for e in report.errors}
    assert errors["tiny.mp4"] == "picture is 16x8: too small for clips (16 px at least)"
    assert errors["later.mp4"].startswith("content changed since import")
    assert set(errors) == {"tiny.mp4", "later.mp4"}
    processed = {t.id: t.processed for t in report.titles}
    assert processed == {"t-good": 1, "t-tiny": 0, "t-one": 1, "t-odd": 1, "t-master": 1, "t-later": 0}
    clips = {t.id: t.clips for t in report.titles}
    assert clips["t-good"] == 2 and clips["t-odd"] >= 1 and clips["t-master"] >= 1 and clips["t-one"] == 0
    # the failed files are retried by the next run; the finished ones are not
    assert [t.id for t in ingest(ws).titles if t.processed or t.failed] == ["t-later", "t-tiny"]


def test_new_captions_add_a_column_that_survives_a_rerun_and_purge_removes_a_title(library: Workspace):
    from cinefoundry.catalog.queries import find_title
    from cinefoundry.ingest.purge import purge_title

    ingest(library)
    catalog = ClipCatalog(library.clips_uri)
    ids = [r["clip_id"] for r in catalog.rows(columns=["clip_id"])]
    before = catalog.version
    column = catalog.add_captions("vlm-tiny", {i: f"caption of {i[:6]}" for i in ids})
    assert column == "caption_vlm_tiny" and catalog.version == before + 1
    rows = catalog.rows(columns=["clip_id", column, DEFAULT_CAPTION])
    assert all(r[column] == f"caption of {r['clip_id'][:6]}" and r[DEFAULT_CAPTION] for r in rows)
    # a re-run that rewrites a file's clips keeps the captions other captioners added to them
    with library.session("t") as s:
        s.execute(IngestMarker.__table__.delete())
    ingest(library)
    assert {r["clip_id"]: r[column] for r in catalog.rows(columns=["clip_id", column])} == {
        r["clip_id"]: r[column] for r in rows}  # fmt: skip
    with library.session("clips.purge") as s:
        removed = purge_title(s, catalog, find_title(s, "Night Shift"))
    assert removed["catalog_clips"] > 0 and removed["markers"] == 1
    assert {r["title_id"] for r in catalog.rows(columns=["title_id"])} == {"harbour"}
    assert len(catalog.rows(columns=["clip_id"], version=removed["catalog_version"] - 1)) == len(ids)


def test_the_clip_catalog_is_compacted_once_fragments_add_up(library: Workspace):
    ingest(library)
    catalog = ClipCatalog(library.clips_uri)
    rows = catalog.rows(columns=["clip_id", "video_sha256"])
    assert len(catalog.dataset().get_fragments()) == 3, "one fragment per committed file"
    assert catalog.compact(min_fragments=2)
    assert len(catalog.dataset().get_fragments()) == 1
    assert sorted(catalog.rows(columns=["clip_id", "video_sha256"]), key=str) == sorted(rows, key=str)
    assert not catalog.compact(min_fragments=2)
