"""Process one media file: decode once, find shots, write clips with scores and captions.

`process_media` is the unit of work an executor runs (one file per worker process). It writes nothing: it
returns the clips (videos included) as a `MediaResult`, and the driver commits them.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from dataclasses import dataclass, field

import cv2

from cinefoundry.catalog.probe import open_source
from cinefoundry.core.errors import MediaError
from cinefoundry.core.store import sha256_file
from cinefoundry.ingest import attributes
from cinefoundry.ingest.captions import ClipContext, StructuredCaptioner, TitleFacts
from cinefoundry.ingest.clips import clip_id, encode_clip
from cinefoundry.ingest.config import IngestConfig
from cinefoundry.ingest.frames import clip_size, decode, luma
from cinefoundry.ingest.letterbox import find_crop
from cinefoundry.ingest.shots import HardCutDetector, TransNetDetector
from cinefoundry.ingest.text import text_coverage
from cinefoundry.ingest.tracker import ClipFrames, ShotTracker

CREDITS_TEXT = 0.06  # text coverage of a credits frame
SPAN_MIN_S = 1.0


@dataclass
class MediaTask:
    """One media file to ingest, with what its clips must carry (lineage, title facts, dialogue)."""

    media_file_id: int
    media_sha256: str
    uri: str
    fps: float
    title_id: str
    grant_id: int
    title: TitleFacts
    cues: list[tuple[float, float, str]]  # subtitle cues on this file's own timeline (seconds)
    config: IngestConfig
    size_hint: int = 0  # bytes of the file: executors start the largest first


@dataclass
class ClipRecord:
    """A clip as the catalog records it (the video itself is in the object store under `video_sha256`)."""

    clip_id: str
    shot: int
    part: int
    start_s: float
    end_s: float
    slot_start: int
    slot_end: int
    frames: int
    width: int
    height: int
    scores: dict
    caption: str
    video_sha256: str
    video: bytes  # the MP4: the driver stores it at commit, so a file that fails leaves nothing behind
    span: str | None = None
    dialogue: list[str] = field(default_factory=list)


@dataclass
class MediaResult:
    """What processing one file produced, or why it could not be processed."""

    media_file_id: int
    media_sha256: str
    processing_hash: str
    clips: list[ClipRecord] = field(default_factory=list)
    shots: list[tuple[int, int]] = field(default_factory=list)
    transitions: list[tuple[int, int]] = field(default_factory=list)
    flashes: list[int] = field(default_factory=list)
    spans: list[dict] = field(default_factory=list)
    crop: tuple[int, int, int, int] | None = None
    frames: int = 0
    footage_s: float = 0.0
    cpu_s: float = 0.0
    error: str | None = None


def process_media(task: MediaTask) -> MediaResult:
    """Ingest one file; problems with the file come back in `error`, they never stop the batch."""
    cv2.setNumThreads(1)  # one file per process: threads inside would only compete with the other workers
    started = time.process_time()
    result = MediaResult(task.media_file_id, task.media_sha256, task.config.processing_hash())
    try:
        _run(task, result)
    except MediaError as exc:
        result.error = exc.problem
    except Exception as exc:  # an unexpected failure on one file is reported with the batch going on
        result.error = f"unexpected {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
    if result.error:
        result.clips = []
    result.cpu_s = time.process_time() - started
    return result


def _run(task: MediaTask, result: MediaResult) -> None:
    cfg = task.config
    fps = cfg.clips.fps
    with open_source(task.uri):
        pass  # names a missing or emptied file before hashing it
    # Clips carry the sha256 of their source as lineage: it must be the content the catalog recorded.
    sha, _ = sha256_file(task.uri)
    if sha != task.media_sha256:
        raise MediaError(task.uri, f"content changed since import (sha256 {sha[:16]}..., catalog has "
                                   f"{task.media_sha256[:16]}...): import the title again")  # fmt: skip
    # An element is shot on black by design: rows no flame reaches are picture, not letterbox bars.
    crop = find_crop(task.uri, cfg.clips.crop_letterbox and task.title.kind != "element")
    try:
        size = clip_size(crop, cfg.clips.short_side)
    except ValueError as exc:
        raise MediaError(task.uri, str(exc)) from exc
    result.crop = (crop.x0, crop.y0, crop.x1, crop.y1)
    captioner = StructuredCaptioner()

    text_cache: dict[int, float] = {}  # clip-rate slot -> text coverage, on the 2 Hz grid

    def on_clip(cf: ClipFrames) -> None:
        scores = attributes.measure(cf.pictures, cf.slots, fps, text_cache).as_dict()
        video = encode_clip(cf.pictures, fps, cfg.clips.crf)
        start, end = cf.times[0], cf.times[-1] + 1 / fps
        dialogue = [text for a, b, text in task.cues if a < end and b > start]
        context = ClipContext(task.title, scores, start, end, dialogue)
        result.clips.append(
            ClipRecord(
                clip_id=clip_id(task.title_id, task.media_sha256, result.processing_hash, cf.slots[0], cf.slots[-1]),
                shot=cf.shot,
                part=cf.part,
                start_s=round(start, 4),
                end_s=round(end, 4),
                slot_start=cf.slots[0],
                slot_end=cf.slots[-1],
                frames=len(cf.pictures),
                width=size[0],
                height=size[1],
                scores=scores,
                caption=captioner.caption(context),
                video_sha256=hashlib.sha256(video).hexdigest(),
                video=video,
                dialogue=dialogue,
            )
        )

    hard = HardCutDetector(cfg.shots, task.fps)
    tier2 = TransNetDetector(cfg.shots) if cfg.shots.transnet == "on" else None
    tracker = ShotTracker(cfg.clips, on_clip)
    boundaries = _Boundaries(hard, tier2)
    series: list[tuple[float, float, float]] = []  # (time, text coverage, luma level) at 2 Hz
    every = max(1, fps // 2)
    last_time = 0.0
    for frame in decode(task.uri, crop, fps, size, cfg.shots.analysis_width):
        hard.push(frame.index, frame.small)
        if tier2 is not None:
            tier2.push(frame.index, frame.small)
        on_grid = [s for s in frame.slots if s % every == 0]
        if on_grid:
            grey = luma(frame.picture)
            coverage = text_coverage(grey)
            text_cache.update(dict.fromkeys(on_grid, coverage))
            series.append((frame.time, coverage, attributes.level(float(grey.mean()))))
        tracker.hold(frame)
        tracker.release(boundaries.final_upto(), boundaries.is_cut, boundaries.in_transition)
        result.frames, last_time = frame.index + 1, frame.time
    if result.frames == 0:
        raise MediaError(task.uri, "no decodable video frames")
    hard.finish()
    if tier2 is not None:
        tier2.finish()
    tracker.release(result.frames, boundaries.is_cut, boundaries.in_transition)
    tracker.finish()
    result.footage_s = last_time + 1 / task.fps
    result.shots = tracker.shots
    result.transitions = list(tier2.found.spans) if tier2 else []
    result.flashes = list(hard.flashes)
    result.spans = _text_spans(series, every / fps)
    for clip in result.clips:
        clip.span = _span_of(clip, result.spans)


class _Boundaries:
    """The fused answer of both tiers: cuts from either, frames inside gradual transitions skipped."""

    def __init__(self, hard: HardCutDetector, tier2: TransNetDetector | None):
        self.hard, self.tier2 = hard, tier2
        self._cuts: set[int] = set()
        self._seen = [0, 0]  # how many cuts of each tier are already in the set
        self._span = 0  # first span that may still cover a released frame

    def final_upto(self) -> int:
        upto = self.hard.final_upto
        return upto if self.tier2 is None else min(upto, self.tier2.final_upto)

    def is_cut(self, i: int) -> bool:
        # Asked once per frame: the detectors' growing lists feed a set, never a scan.
        for k, cuts in enumerate((self.hard.cuts, self.tier2.found.cuts if self.tier2 else [])):
            self._cuts.update(cuts[self._seen[k] :])
            self._seen[k] = len(cuts)
        return i in self._cuts

    def in_transition(self, i: int) -> bool:
        if self.tier2 is None:
            return False
        spans = self.tier2.found.spans  # in order, and frames are released in order
        while self._span < len(spans) and spans[self._span][1] < i:
            self._span += 1
        return self._span < len(spans) and spans[self._span][0] <= i


def _text_spans(series: list[tuple[float, float, float]], step_s: float) -> list[dict]:
    """Credits (lots of text) and title cards (some text on dark), as time spans, from the 2 Hz series."""
    spans: list[dict] = []
    run: list[tuple[float, float, float]] = []
    for sample in [*series, (float("inf"), 0.0, 1.0)]:
        _, text, level = sample
        if text >= CREDITS_TEXT or (text >= attributes.TITLE_TEXT and level <= attributes.TITLE_DARK):
            run.append(sample)
            continue
        if run and run[-1][0] - run[0][0] + step_s >= SPAN_MIN_S:
            credits = sum(x[1] >= CREDITS_TEXT for x in run) > len(run) / 2
            spans.append({"kind": "credits" if credits else "titles", "start_s": round(run[0][0], 3),
                          "end_s": round(run[-1][0] + step_s, 3)})  # fmt: skip
        run = []
    return spans


def _span_of(clip: ClipRecord, spans: list[dict]) -> str | None:
    for span in spans:
        overlap = min(clip.end_s, span["end_s"]) - max(clip.start_s, span["start_s"])
        if overlap >= 0.5 * (clip.end_s - clip.start_s):
            return span["kind"]
    return None
