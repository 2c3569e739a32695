"""`cinefoundry generate PROMPT --model M ...`: shots, plates and elements, each marked, signed and recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, reporter, table, workspace


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'640x360' -> (640, 360)."""
    if not text:
        return None
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise ValueError(f"--size {text!r}: give WIDTHxHEIGHT, e.g. 64x64")
    return int(w), int(h)


def parse_keyframe(text: str) -> tuple[float, Path]:
    """'1.5:frame.png' (seconds), 'first:a.png' or 'last:b.png' -> (seconds or -1 for last, path)."""
    at, sep, path = text.partition(":")
    if not sep or not path:
        raise ValueError(f"--keyframe {text!r}: give TIME:IMAGE, e.g. 0:first.png or last:end.png")
    if at in ("first", "start"):
        return 0.0, Path(path)
    if at in ("last", "end"):
        return -1.0, Path(path)
    try:
        return float(at), Path(path)
    except ValueError:
        raise ValueError(f"--keyframe {text!r}: the time is seconds, 'first' or 'last'") from None


@handles_errors
def generate(
    prompt: Annotated[str, typer.Argument(help="What the shot shows (may be empty with --final).")] = "",
    model: Annotated[str, typer.Option("--model", help="Registered model (NAME, NAME@vN or id).")] = "",
    image: Annotated[Path | None, typer.Option(help="Image-to-video: the first frame.")] = None,
    keyframe: Annotated[list[str], typer.Option(help="TIME:IMAGE, repeatable: frames at chosen times.")] = [],
    extend: Annotated[Path | None, typer.Option(help="Continue this clip forward.")] = None,
    video: Annotated[Path | None, typer.Option(help="Video-to-video: re-render this clip.")] = None,
    strength: Annotated[float, typer.Option(help="Video-to-video: how much to change (0-1).")] = 0.6,
    seed: Annotated[int, typer.Option(help="Seed of the first take; take i uses seed+i-1.")] = 0,
    takes: Annotated[int, typer.Option(help="Variations: this many takes, one per seed.")] = 1,
    negative: Annotated[str, typer.Option(help="Negative prompt.")] = "",
    steps: Annotated[int | None, typer.Option(help="Denoising steps (default 30; 8 with --preview).")] = None,
    guidance: Annotated[float | None, typer.Option(help="Guidance scale (default: the model's).")] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT within the model's buckets.")] = None,
    frames: Annotated[int | None, typer.Option(help="Length in frames; longer than a window chains windows.")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="A fast low-step, smaller take to iterate on.")] = False,
    final: Annotated[str | None, typer.Option(help="Finish a preview take (its record id) at full quality.")] = None,
    element: Annotated[bool, typer.Option("--element", help="An effect element on black, with alpha.")] = False,
    plate: Annotated[bool, typer.Option("--plate", help="A background plate: static, no characters.")] = False,
    loop: Annotated[bool, typer.Option("--loop", help="With --plate: seamlessly loopable.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="mp4, png, exr or prores (ProRes 4444).")] = "mp4",
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default outputs/ in the workspace).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate shots from text or images, extend or re-render clips, plates and VFX elements."""
    from cinefoundry.generate.request import GenerateRequest
    from cinefoundry.generate.run import generate as run_generate

    if not model and not final:
        raise ValueError("--model is required (or --final TAKE, which reuses the preview's model)")
    request = GenerateRequest(
        prompt=prompt, model=model, negative=negative, seed=seed, takes=takes, steps=steps, guidance=guidance,
        size=parse_size(size), frames=frames, image=image, keyframes=[parse_keyframe(k) for k in keyframe],
        extend=extend, video=video, strength=strength, preview=preview, final=final, element=element, plate=plate,
        loop=loop, fmt=fmt, out=out_dir,
    )  # fmt: skip
    with workspace(home) as ws:
        doc = run_generate(ws, request, reporter(as_json))
    if as_json:
        emit_json(doc)
        return
    rows = []
    for t in doc["takes"]:
        if "refused" in t:
            rows.append([t["take"], t["seed"], "refused", "; ".join(t["refused"])])
        else:
            rows.append([t["take"], t["seed"], t["record"], ", ".join(o["path"] for o in t["outputs"])])
    title = f"{doc['kind']} · {doc['mode']}{' · preview' if doc['preview'] else ''} · {doc['model']}"
    out.print(table(title, ["take", "seed", "record", "files"], rows))
    out.print(f"{len(doc['takes'])} take(s) in {doc['seconds']:.1f} s")
