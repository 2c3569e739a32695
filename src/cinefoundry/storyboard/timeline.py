"""The board as an editorial timeline: OpenTimelineIO, plus CMX 3600 EDL and FCP 7 XML for editing systems.

One video track, one clip per panel in board order, each exactly as many frames as the shot has in the
animatic (`storyboard.animatic.shot_ranges`). EDL and FCP XML need SMPTE timecode, which has no 16 fps, so
those two are conformed to an edit rate (24 fps unless the board's rate is a timecode rate).
"""

from __future__ import annotations

import copy
import math
import re
import textwrap
import unicodedata
from pathlib import Path

import av
import opentimelineio as otio

from cinefoundry.storyboard.animatic import ShotFrames, shot_ranges
from cinefoundry.storyboard.board import Board, Panel
from cinefoundry.storyboard.exports import shows_take

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
EDIT_RATES = (24, 25, 30, 48, 50, 60)  # what editing systems take, in order of preference
REEL_LEN = 8  # CMX 3600 reel names: at most 8 letters and digits


def _ascii(text: str) -> str:
    """Text for EDL comments, which editing systems read as ASCII: curly quotes and dashes folded, rest dropped."""
    # Curly quotes, dashes and the ellipsis as ASCII (NFKD below only strips accents).
    folds = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2026": "..."}
    text = text.translate(str.maketrans(folds))
    text = unicodedata.normalize("NFKD", " ".join(text.split()))
    return text.encode("ascii", errors="ignore").decode("ascii")


def clip_name(panel: Panel) -> str:
    """'sb1-s003-02 3.2 WIDE': the shot id (to find the record) and code and size (to read the cut)."""
    return f"{panel.shot_id} {panel.plan.code} {panel.plan.size.upper()}".strip()


def reel_names(board: Board) -> list[str]:
    """A distinct CMX 3600 reel per panel: 'S00302' for scene 3 shot 2, else 'P0007' by position."""
    reels = [re.sub(r"[^A-Z0-9]", "", f"S{p.plan.scene:03d}{p.plan.number:02d}")[:REEL_LEN] for p in board.panels]
    seen: set[str] = set()
    for i, reel in enumerate(reels):
        if reel in seen or not reel:  # a board may repeat a code; an EDL must not repeat a reel for other media
            reels[i] = f"P{i + 1:04d}"[:REEL_LEN]
        seen.add(reels[i])
    return reels


def probe_range(path: Path) -> TR | None:
    """The media's available range (frames at its own rate) read with PyAV; None when it cannot be read."""
    try:
        with av.open(str(path)) as src:
            stream = src.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            frames = stream.frames or sum(1 for _ in src.decode(stream))
    except (OSError, ValueError, IndexError, av.error.FFmpegError):
        return None
    if not rate or not frames:
        return None
    return TR(RT(0, float(rate)), RT(frames, float(rate)))


def _metadata(panel: Panel, shot: ShotFrames) -> dict:
    plan = panel.plan
    return {
        "shot_id": panel.shot_id,
        "record_id": panel.record_id,  # None (JSON null) for a panel without a take
        "take": panel.take,
        "status": panel.status,
        "reason": panel.reason,
        "prompt": panel.prompt,
        "scene_heading": panel.heading,
        "code": plan.code,
        "description": plan.description,
        "camera": {"size": plan.size, "angle": plan.angle, "move": plan.move, "kind": plan.kind},
        "dialogue": [f"{d.character}: {d.text}" for d in plan.dialogue],
        "duration_s": plan.duration_s,
        "animatic_frames": [shot.start, shot.end],
        "slate_frames": shot.slate,
    }


def _reference(panel: Panel, shot: ShotFrames, fps: int) -> otio.core.MediaReference:
    """The take's clip file; a slug (generator) the shot's length for a panel with no take, so the slot stays."""
    if shows_take(panel) and panel.clip is not None:
        path = Path(panel.clip).resolve()
        return otio.schema.ExternalReference(target_url=path.as_uri(), available_range=probe_range(path))
    return otio.schema.GeneratorReference(
        name=f"{panel.status.upper()} {panel.plan.code}",
        generator_kind="Slug",
        available_range=TR(RT(0, fps), RT(shot.frames, fps)),
        parameters={"text": f"{panel.status.upper()}: {panel.reason}" if panel.reason else panel.status.upper()},
        # What makes the FCP XML writer emit an FCP 7 Slug generator; without it that writer fails on the slug.
        metadata={"fcp_xml": {"effectcategory": "Matte", "effecttype": "generator", "mediatype": "video"}},
    )


def _animatic_frames(path: Path, fps: int) -> int:
    with av.open(str(path)) as src:
        stream = src.streams.video[0]
        rate = stream.average_rate
        frames = stream.frames or sum(1 for _ in src.decode(stream))
    if rate is not None and float(rate) != fps:
        raise ValueError(f"animatic {path} runs at {float(rate)} fps, the board at {fps}")
    return frames


def build_timeline(board: Board, animatic: Path | None = None) -> otio.schema.Timeline:
    """The board as an OTIO timeline at board.fps: one clip per panel, cinefoundry metadata on each.

    With an animatic, its length must match the shots' (ValueError otherwise); the timeline's metadata names
    it and each clip's `animatic_frames` says where the shot sits in it.
    """
    fps = board.fps
    shots = shot_ranges(board, fps)
    total = sum(s.frames for s in shots)
    if animatic is not None and (frames := _animatic_frames(Path(animatic), fps)) != total:
        raise ValueError(f"animatic {animatic} has {frames} frames, the board's shots {total}")
    dataset = board.dataset_version or ""
    timeline = otio.schema.Timeline(
        name=board.title,
        global_start_time=RT(0, fps),
        metadata={
            "cinefoundry": {
                "project": board.project,
                "model": board.model,
                "dataset_version": dataset,
                "fps": fps,
                "animatic": str(Path(animatic).resolve()) if animatic is not None else "",
                "notes": list(board.notes),
            }
        },
    )
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for panel, shot, reel in zip(board.panels, shots, reel_names(board), strict=True):
        comment = f"CF SHOT {panel.shot_id} TAKE {panel.take if panel.take is not None else '-'}"
        comments = [_ascii(f"{comment} REC {panel.record_id or '-'} {panel.status.upper()}")]
        if panel.reason:
            # Short comment lines: some editing systems cut EDL lines at 80 characters.
            reason = _ascii(f"{panel.status.upper()}: {panel.reason}")
            comments += [f"CF {line}" for line in textwrap.wrap(reason, 70)[:4]]
        clip = otio.schema.Clip(
            name=clip_name(panel),
            media_reference=_reference(panel, shot, fps),
            source_range=TR(RT(0, fps), RT(shot.frames, fps)),
            metadata={"cinefoundry": _metadata(panel, shot), "cmx_3600": {"reel": reel, "comments": comments}},
        )
        track.append(clip)
    return timeline


def edit_rate(fps: int) -> int:
    """The rate EDL and FCP XML are written at: fps itself when SMPTE timecode has it, else the next edit rate.

    Not a multiple such as 48 for 16 fps: an EDL does not say its rate and readers assume 24 (the cmx_3600
    adapter rejects frame 24+ of a second), so 24 with cuts rounded to the nearest frame travels best."""
    if RT.is_valid_timecode_rate(fps):
        return fps
    return next((r for r in EDIT_RATES if r >= fps), EDIT_RATES[-1])


def conform(timeline: otio.schema.Timeline, rate: int) -> otio.schema.Timeline:
    """A copy of the timeline at `rate`: each cut moved to the nearest frame, so the total length stays put."""
    out = copy.deepcopy(timeline)

    def at(t: RT) -> RT:
        return RT(math.floor(t.value * rate / t.rate + 0.5), rate)  # half up: banker's rounding can drop a frame

    out.global_start_time = at(out.global_start_time or RT(0, rate))
    for track in out.tracks:
        # Cut points first, from the untouched track: rounding each cut (not each length) keeps errors from adding up.
        cuts = [(at(r.start_time), at(r.end_time_exclusive())) for r in map(track.range_of_child, track)]
        for item, (begin, end) in zip(track, cuts, strict=True):
            item.source_range = TR(at(item.trimmed_range().start_time), RT(max(1, (end - begin).value), rate))
            if isinstance(item, otio.schema.Clip):
                for ref in item.media_references().values():
                    if ref.available_range is not None:
                        avail = ref.available_range
                        ref.available_range = TR(at(avail.start_time), at(avail.duration))
    out.metadata.setdefault("cinefoundry", {})["conformed_to_fps"] = rate
    return out


def write_timeline(
    board: Board, folder: Path, animatic: Path | None = None, stem: str = "storyboard"
) -> dict[str, Path]:
    """Write the board's timeline as `.otio` (board.fps), `.edl` (CMX 3600) and `.xml` (FCP 7), by kind.

    EDL and XML are conformed to `edit_rate(board.fps)` and checked to read back with one clip per panel.
    """
    if not board.panels:  # the EDL writer cannot write an empty track, and an empty cut helps no editor
        raise ValueError("the board has no panels to put on a timeline")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    timeline = build_timeline(board, animatic)
    edit = conform(timeline, edit_rate(board.fps))
    edit.name = _ascii(board.title) or "storyboard"
    paths = {"otio": folder / f"{stem}.otio", "edl": folder / f"{stem}.edl", "xml": folder / f"{stem}.xml"}
    otio.adapters.write_to_file(timeline, str(paths["otio"]), adapter_name="otio_json")
    # The writers edit what they are given (reel padding, transitions); each gets its own copy.
    otio.adapters.write_to_file(copy.deepcopy(edit), str(paths["edl"]), adapter_name="cmx_3600")
    otio.adapters.write_to_file(copy.deepcopy(edit), str(paths["xml"]), adapter_name="fcp_xml")
    for kind in ("edl", "xml"):
        back = otio.adapters.read_from_file(str(paths[kind]), adapter_name="cmx_3600" if kind == "edl" else "fcp_xml")
        if len(list(back.find_clips())) != len(board.panels):  # an editor must get every shot, refused or not
            raise RuntimeError(
                f"{paths[kind]} reads back with {len(list(back.find_clips()))} clips, not {len(board.panels)}"
            )
    return paths
