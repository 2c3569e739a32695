"""The demo's generation step: shots in several modes, an element, a plate and a refused prompt from the demo
model; every output verified (including after a re-encode) and shown in an HTML gallery."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np

from cinefoundry.core.errors import RefusedError
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.demo_elements import library_phrase
from cinefoundry.generate.export import write_mp4
from cinefoundry.generate.gallery import GalleryItem, write_gallery
from cinefoundry.generate.request import GenerateRequest
from cinefoundry.generate.run import generate
from cinefoundry.provenance.frames import read_frames
from cinefoundry.provenance.verify import verify
from cinefoundry.workspace import Workspace

Echo = Callable[[str], None]
CLEAR, OPAQUE = 0.2, 0.02  # least shares of an element's pixels keyed fully transparent and fully opaque
BBB = "A shot from Big Buck Bunny (2008), an animated short film."
SINTEL = "A shot from Sintel (2010), an animated short film."
TOS = "A shot from Tears of Steel (2012), a live-action short film."
EXPLOSIONS = library_phrase("explosion")


def shot_requests(label: str, samples: Path, folder: Path, quick: bool,
                  element_model: str) -> list[tuple[str, GenerateRequest]]:  # fmt: skip
    """The demo's takes: (gallery title, request); the element comes from `element_model` (the demo model
    fine-tuned on the element libraries). `quick` (the tiny recipe) uses few steps."""
    steps = 4 if quick else None
    still = _still(samples / "big_buck_bunny" / "bbb_0000-0100_640x360.mp4", 21.0, folder / "bbb_still.png")
    return [
        ("text to video, 2 takes", GenerateRequest(f"{BBB} Bright daylight, static camera.", label, seed=1, takes=2,
                                                   steps=steps)),
        ("image to video", GenerateRequest(f"{BBB} Bright daylight.", label, image=still, seed=2, steps=steps)),
        ("long shot: three chained windows", GenerateRequest(f"{TOS} Dim light, slow motion.", label, seed=3,
                                                             frames=41, steps=steps)),
        # one library's effect by name: "an explosion of fire and sparks" also names the other two libraries, and
        # keyed 5 of 12 seeds on one element model where "An explosion." keyed 11 (RESULTS.md, 2026-12-04)
        ("VFX element (ProRes 4444 with alpha)", GenerateRequest(f"{EXPLOSIONS} An explosion.",
                                                                 element_model, seed=4, element=True, fmt="prores",
                                                                 steps=steps)),
        ("background plate, loopable", GenerateRequest(f"{SINTEL} A snowy mountain landscape.", label, seed=5,
                                                       plate=True, loop=True, steps=steps)),
    ]  # fmt: skip


def generate_step(ws: Workspace, samples: Path, label: str, element_model: str, echo: Echo,
                  reporter: Reporter = SILENT, quick: bool = False) -> dict[str, Any]:  # fmt: skip
    """Generate, verify and show the demo's takes (the element from `element_model`); returns the step's JSON
    document."""
    folder = ws.home / "gallery"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    echo(f"11. generate with {label}: shots, a preview and its final, a plate; an element with {element_model}; "
         "all marked and signed")  # fmt: skip
    items, docs = [], []
    requests = shot_requests(label, samples, folder, quick, element_model)
    preview = generate(ws, GenerateRequest(f"{SINTEL} Dim light, camera panning.", label, seed=6, preview=True,
                                           out=folder), reporter)  # fmt: skip
    final = generate(ws, GenerateRequest("", "", final=preview["takes"][0]["record"], out=folder,
                                         steps=4 if quick else None), reporter)  # fmt: skip
    for title, request in requests:
        request.out = folder
        docs.append((title, generate(ws, request, reporter)))
    docs += [("preview (8 steps, smaller)", preview), ("final of that preview", final)]
    checks = []
    for title, doc in docs:
        for take in doc["takes"]:
            if "refused" in take:
                echo(f"   {title}: take {take['take']} refused after generation: {'; '.join(take['refused'])}")
                continue
            view = next(o for o in take["outputs"] if o["format"] == "mp4")
            delivered = take["outputs"][0]
            report = verify(ws, ws.home / delivered["path"])
            state, mark = report["manifest"]["state"], report["watermark"]["id"]
            check = {"title": title, "record": take["record"], "file": delivered["path"], "manifest": state,
                     "watermark": mark}  # fmt: skip
            if mark is None and view is not delivered:
                # a keyed element keeps the mark only where it is visible; its MP4 viewing copy carries all of it
                shown = verify(ws, ws.home / view["path"])
                check |= {"view_manifest": shown["manifest"]["state"], "view_watermark": shown["watermark"]["id"]}
                report["record"] = report["record"] or shown["record"]
            if doc["kind"] == "element":
                check["alpha"] = _alpha_stats(ws.home / delivered["path"])
            checks.append(check)
            resolved = report["record"]["id"] if report["record"] else "unresolved"
            via = f" (via {view['path']})" if mark is None and "view_watermark" in check else ""
            echo(f"   {title}: {delivered['path']} · C2PA {state} · watermark {mark or check.get('view_watermark')}"
                 f"{via} -> {resolved}")  # fmt: skip
            if "alpha" in check:
                a = check["alpha"]
                echo(f"     alpha: {a['transparent']:.0%} of pixels transparent, {a['opaque']:.0%} opaque")
            details = {"mode": f"{doc['mode']} · {doc['kind']}", "seed": str(take["seed"]),
                       "size": f"{take['size'][0]}x{take['size'][1]}, {take['frames']} frames",
                       "record": take["record"], "files": ", ".join(o["path"] for o in take["outputs"])}  # fmt: skip
            items.append(GalleryItem(f"{title} (take {take['take']})", ws.home / view["path"], doc["prompt"], details,
                                     report["manifest"]["state"], report["watermark"]["id"]))  # fmt: skip
    refused = _refused(ws, label, echo)
    reencode = _reencode_check(ws, checks[0]["file"], folder)
    echo(f"   re-encoded {checks[0]['file']} (H.264 CRF 23): manifest {reencode['manifest']}, watermark "
         f"{reencode['watermark']} resolves to {reencode['record']}")  # fmt: skip
    page = write_gallery(folder / "index.html", f"cinefoundry demo: generated with {label}", items,
                         [f"Refused: {r['prompt']!r}: {r['reason']}" for r in refused])  # fmt: skip
    echo(f"   gallery: {page}")
    # an element must key to a clear background around opaque flames (the tiny recipe's noise cannot)
    keyed = quick or all(c["alpha"]["transparent"] >= CLEAR and c["alpha"]["opaque"] >= OPAQUE
                         for c in checks if "alpha" in c)  # fmt: skip
    return {"takes": checks, "refused": refused, "reencoded": reencode, "gallery": str(page),
            "ok": bool(checks) and all(c["manifest"] == "Trusted" and (c["watermark"] or c.get("view_watermark"))
                                       for c in checks)
            and reencode["record"] == checks[0]["record"] and bool(refused) and keyed}  # fmt: skip


def _alpha_stats(path: Path) -> dict[str, float]:
    """Share of fully transparent and fully opaque pixels in an element's alpha (ProRes 4444)."""
    with av.open(str(path)) as c:
        alpha = np.stack([f.to_ndarray(format="rgba")[..., 3] for f in c.decode(video=0)])
    return {"transparent": float((alpha == 0).mean()), "opaque": float((alpha >= 250).mean())}


def _still(video: Path, at: float, dest: Path) -> Path:
    """One frame of a sample as a PNG: the image-to-video input."""
    from PIL import Image

    with av.open(str(video)) as c:
        stream = c.streams.video[0]
        c.seek(int(at / stream.time_base), stream=stream)
        frame = next(c.decode(stream))
        Image.fromarray(frame.to_ndarray(format="rgb24")).save(dest)
    return dest


def _refused(ws: Workspace, label: str, echo: Echo) -> list[dict[str, str]]:
    """Prompts the likeness guard must refuse: a Tears of Steel performer and the character she plays."""
    out = []
    for prompt in ("Celia walks through the ruined city", "a close-up of Denise Rebergen"):
        try:
            generate(ws, GenerateRequest(prompt, label, steps=1))
        except RefusedError as exc:
            out.append({"prompt": prompt, "reason": "; ".join(exc.reasons)})
            echo(f"   REFUSED {prompt!r}: {'; '.join(exc.reasons)}")
    return out


def _reencode_check(ws: Workspace, file: str, folder: Path) -> dict[str, Any]:
    """Strip the manifest the way an editor would (decode, re-encode H.264) and verify what is left."""
    copy = write_mp4(folder / "reencoded.mp4", read_frames(ws.home / file), fps=16, crf=23)
    report = verify(ws, copy)
    return {"file": str(copy), "manifest": report["manifest"]["state"], "watermark": report["watermark"]["id"],
            "record": report["record"]["id"] if report["record"] else None}  # fmt: skip


def storyboard_step(ws: Workspace, samples: Path, label: str, echo: Echo, reporter: Reporter = SILENT,
                    quick: bool = False) -> dict[str, Any]:  # fmt: skip
    """Board a sample screenplay with the demo model, retake one shot, and say where everything went."""
    from cinefoundry.storyboard.project import BoardRequest, make_board, take_shot
    from cinefoundry.storyboard.publish import export_board

    script = samples / "screenplays" / "Ascent_to_Guru_Peak.fountain"
    echo(f"12. storyboard {script.name} with {label}: shots, a panel per shot, PDF, HTML, animatic, OTIO")
    # the quick (tiny-recipe) demo boards the first two scenes; the full demo the whole script
    request = BoardRequest(script, label, scenes="1-2" if quick else None, steps=4 if quick else 12, style="sintel")
    doc = make_board(ws, request, reporter)
    p = doc["panels"]
    echo(f"   {doc['title']}: {doc['shots']} shots in {doc['duration_s']:.0f} s of animatic; {p['generated']} "
         f"generated, {p['refused']} refused")  # fmt: skip
    first = f"{doc['project']}-s001-01"
    retake = take_shot(ws, first, seed=1234)
    doc = export_board(ws, doc["project"]) | {"project": doc["project"], "retake": retake}
    echo(f"   retake of {first}: take {retake['number']} {retake['status']}; board, animatic and timeline updated")
    for kind in ("pdf", "html", "animatic", "otio", "edl", "xml"):
        echo(f"   {kind}: {doc['files'][kind]}")
    doc["ok"] = doc["shots"] > 0 and p["generated"] > 0
    return doc
