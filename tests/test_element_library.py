"""The element libraries: procedural reels of effects on black, imported as studio-owned `element` titles (one
per kind of effect) and ingested whole (no letterbox crop), with captions that name the library."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sqlalchemy import select

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.catalog.models import Title
from cinefoundry.catalog.policy import allowed
from cinefoundry.demo_elements import LIBRARY, library_id, library_phrase, shoot_library
from cinefoundry.generate.export import luma_key, write_mp4
from cinefoundry.ingest.captions import TitleFacts, title_phrase
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.run import run_ingest
from cinefoundry.testing.elements import element_reel, heat_to_rgb
from cinefoundry.workspace import Workspace


def test_reel_cuts_and_elements_key_to_clear_black_and_opaque_cores() -> None:
    frames, truth = element_reel(seed=3, count=3, size=(96, 54), seconds=(1.0, 1.5))
    assert frames.shape == (truth.frames, 54, 96, 3) and truth.kinds == ["fire", "explosion", "sparks"]
    assert len(truth.cuts) == 2 and 0 < truth.cuts[0] < truth.cuts[1] < truth.frames
    again, _ = element_reel(seed=3, count=3, size=(96, 54), seconds=(1.0, 1.5))
    np.testing.assert_array_equal(frames, again)  # a shoot is reproducible from its seed
    bounds = [0, *truth.cuts, truth.frames]
    for kind, a, b in zip(truth.kinds, bounds, bounds[1:], strict=False):
        alpha = luma_key(frames[a:b])[..., 3]
        assert (alpha == 0).mean() > 0.5, f"{kind}: the background is black, so mostly clear"
        if kind != "sparks":  # sparks fly anywhere; flames and fireballs stay off the corners
            assert (alpha[:, :2, :2] == 0).mean() > 0.9, f"{kind}: the corners stay black but for a stray spark"
        assert (alpha >= 250 / 255).any(), f"{kind}: the hottest parts key fully opaque"
    explosion = frames[truth.cuts[0] : truth.cuts[1]]
    assert (explosion[0] > 0).mean() < 0.05 < (explosion[len(explosion) // 3] > 0).mean(), "a fireball grows from black"


def test_title_phrase_of_an_element_library() -> None:
    facts = TitleFacts("Element Library: Fire", 2026, "element", None)
    assert title_phrase(facts) == "A shot from Element Library: Fire (2026), an effect element on black."


def test_element_libraries_import_as_studio_owned_and_ingest_uncropped(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "studio")
    try:
        folders = shoot_library(tmp_path / "shoot", ws.settings.tenant, elements=2)
        assert [f.name for f in folders] == [library_id(k) for k in LIBRARY]
        report = import_catalog(tmp_path / "shoot", ws.session, ws.actor)
        assert report.ok, report.errors
        with ws.session("test.read") as s:
            titles = list(s.scalars(select(Title).order_by(Title.id)))
            assert [(t.name, t.kind, t.rights_holder) for t in titles] == [
                ("Element Library: Explosions", "element", ws.settings.tenant),
                ("Element Library: Fire", "element", ws.settings.tenant),
                ("Element Library: Sparks", "element", ws.settings.tenant),
            ]
            for title in titles:
                decision = allowed(title, "train", territory="FR")
                assert decision.ok and "studio-owned" in decision.reason
                assert not title.grants[0].attribution_required
        ingest = run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri), titles=[library_id("fire")])
        assert ingest.ok and ingest.titles[0].kept >= 1
        rows = ClipCatalog(ws.clips_uri).rows()
        assert rows and all(r["caption_structured_v1"].startswith(library_phrase("fire")) for r in rows)
    finally:
        ws.close()


def test_ingest_keeps_an_element_whole_where_it_would_crop_a_film(tmp_path: Path) -> None:
    """A flame in mid-frame leaves black rows and columns in every frame: bars in a film, picture in an element."""
    frames = np.zeros((48, 126, 224, 3), np.uint8)
    for i in range(len(frames)):
        frames[i, 20:106, 34:190] = heat_to_rgb(np.full((86, 156), 0.4 + 0.01 * (i % 20)))
        frames[i, 40 + i : 50 + i, 60:160] = 255  # something moving, so the clip is not rejected as static
    for kind in ("element", "short"):
        folder = tmp_path / "lib" / kind
        folder.mkdir(parents=True)
        write_mp4(folder / "flame.mp4", frames, 24)
        doc = {"id": kind, "title": f"Flame ({kind})", "kind": kind, "files": [{"file": "flame.mp4"}],
               "grants": [{"license": "studio-owned", "uses": ["train"]}]}  # fmt: skip
        (folder / "title.json").write_text(json.dumps(doc), encoding="utf-8")
    ws = Workspace.init(tmp_path / "studio")
    try:
        assert import_catalog(tmp_path / "lib", ws.session, ws.actor).ok
        assert run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri)).ok
        crops = {r["title_id"]: r["crop"] for r in ClipCatalog(ws.clips_uri).rows()}
        assert crops == {"element": [0, 0, 224, 126], "short": [34, 20, 190, 106]}
    finally:
        ws.close()
