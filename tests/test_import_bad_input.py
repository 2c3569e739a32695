"""Bad input during import: each problem names its file, the rest goes on, nothing is half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import func, select

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.catalog.models import Grant, MediaFile, Performer, Title
from cinefoundry.catalog.rights import revoke_grant
from cinefoundry.core.audit import AuditEntry
from cinefoundry.testing.synth import make_video, truncate
from cinefoundry.workspace import Workspace


def title_folder(root: Path, name: str, doc: dict | str, files: dict[str, Path] | None = None) -> Path:
    """A title folder with a title.json (a dict, or raw text) and media files copied in."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "title.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    for dest, src in (files or {}).items():
        shutil.copyfile(src, folder / dest)
    return folder


def doc(title: str, files: list[str], **extra) -> dict:
    return {"title": title, "kind": "short", "license": "CC-BY-4.0", "files": [{"file": f} for f in files]} | extra


def test_a_truncated_sample_is_reported_and_the_other_titles_import(
    ws: Workspace, samples: Path, tmp_path: Path
) -> None:
    lib = tmp_path / "library"
    shutil.copytree(samples / "sintel", lib / "sintel")
    good = make_video(tmp_path / "good.mp4", frames=24)
    cut = truncate(samples / "big_buck_bunny" / "bbb_0000-0100_640x360.mp4", tmp_path / "bbb_cut.mp4")
    # one good file and one truncated one: the whole title must stay out (one transaction per title)
    title_folder(lib, "broken", doc("Broken Copy", ["good.mp4", "bbb_cut.mp4"], cast=[{"name": "Nobody Known"}]),
                 {"good.mp4": good, "bbb_cut.mp4": cut})  # fmt: skip
    report = import_catalog(lib, ws.session, ws.actor, workers=2)

    assert not report.ok
    assert {t.id: t.status for t in report.titles} == {"broken": "failed", "sintel": "created"}
    [problem] = report.errors
    assert problem["source"].endswith("broken/bbb_cut.mp4") and problem["problem"].startswith("truncated")
    with ws.session("t") as s:
        assert list(s.scalars(select(Title.id))) == ["sintel"]
        assert s.get(Performer, "nobody-known") is None
        assert s.scalar(select(func.count()).select_from(MediaFile)) == 1
        assert not s.scalars(select(AuditEntry).where(AuditEntry.entity_id == "broken")).all()


def test_each_kind_of_bad_title_folder_gets_its_own_clear_error(ws: Workspace, tmp_path: Path) -> None:
    lib = tmp_path / "library"
    clip = make_video(tmp_path / "clip.mp4", frames=12)
    title_folder(lib, "ok", doc("Fine", ["clip.mp4"]), {"clip.mp4": clip})
    title_folder(lib, "bad_json", '{"title": "Oops", "kind": "short",')
    title_folder(lib, "malformed", {"title": "", "kind": "film", "files": []})
    title_folder(lib, "missing", doc("Gone", ["nowhere.mp4"]))
    title_folder(lib, "empty", doc("Empty", ["empty.mp4"]))
    (lib / "empty" / "empty.mp4").write_bytes(b"")
    swapped = doc("Swapped", ["clip.mp4"])
    swapped["files"][0]["sha256"] = "ab" * 32
    title_folder(lib, "wrong_hash", swapped, {"clip.mp4": clip})
    report = import_catalog(lib, ws.session, ws.actor)

    problems = {Path(e["source"]).parent.name: e["problem"] for e in report.errors}
    assert problems["bad_json"].startswith("invalid JSON at line 1 column")
    assert "title: String should have at least 1 character" in problems["malformed"]
    assert "kind: Input should be 'feature', 'short', 'episode', 'trailer' or 'element'" in problems["malformed"]
    assert "files: List should have at least 1 item" in problems["malformed"]
    assert problems["missing"] == "file not found"
    assert problems["empty"] == "empty file (0 bytes)"
    assert "the file is not the one the catalog describes" in problems["wrong_hash"]
    assert [t.id for t in report.titles if t.status == "created"] == ["ok"]


def test_a_media_file_whose_content_changed_is_reported_not_replaced(ws: Workspace, tmp_path: Path) -> None:
    lib = tmp_path / "library"
    folder = title_folder(lib, "film", doc("Film", ["reel1.mp4"]), {"reel1.mp4": make_video(tmp_path / "a.mp4")})
    assert import_catalog(lib, ws.session, ws.actor).ok
    with ws.session("t") as s:
        original = s.scalars(select(MediaFile.sha256)).one()
    make_video(folder / "reel1.mp4", frames=30, cuts=(10,))  # someone re-exported the reel in place
    report = import_catalog(lib, ws.session, ws.actor)
    assert not report.ok and report.titles[0].status == "failed"
    assert f"changed since it was recorded: sha256 was {original}" in report.errors[0]["problem"]
    with ws.session("t") as s:
        assert s.scalars(select(MediaFile.sha256)).all() == [original]


def test_a_moved_file_is_followed_and_a_revoked_grant_is_not_granted_again(ws: Workspace, tmp_path: Path) -> None:
    lib = tmp_path / "library"
    folder = title_folder(lib, "film", doc("Film", ["reel1.mp4"]), {"reel1.mp4": make_video(tmp_path / "a.mp4")})
    assert import_catalog(lib, ws.session, ws.actor).ok
    with ws.session("rights.revoke") as s:
        revoke_grant(s, s.scalars(select(Grant.id)).one(), "takedown", ws.actor)
    (folder / "reel1.mp4").rename(folder / "reel_one.mp4")
    (folder / "title.json").write_text(json.dumps(doc("Film", ["reel_one.mp4"])))
    report = import_catalog(lib, ws.session, ws.actor)
    [title] = report.titles
    assert title.status == "updated" and any("moved" in c for c in title.changes)
    assert any("was revoked" in w and "does not grant it again" in w for w in title.warnings)
    with ws.session("t") as s:
        assert len(s.scalars(select(Grant)).all()) == 1
        assert s.scalars(select(MediaFile.uri)).one().endswith("reel_one.mp4")


def test_one_file_in_two_titles_is_measured_for_both(ws: Workspace, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "shared.mp4", frames=15)
    manifest = tmp_path / "two.json"
    manifest.write_text(json.dumps([{"title": "First Cut", "kind": "feature", "media": str(clip)}]))
    assert import_catalog(manifest, ws.session, ws.actor).ok
    manifest.write_text(json.dumps([{"title": "First Cut", "kind": "feature", "media": str(clip)},
                                    {"title": "Festival Cut", "kind": "feature", "media": str(clip)}]))  # fmt: skip
    report = import_catalog(manifest, ws.session, ws.actor)
    assert report.ok, report.errors
    with ws.session("t") as s:
        assert [m.frame_count for m in s.get(Title, "festival-cut").media_files] == [15]
