"""Turn released frames into shots and shots into training clips of 4k+1 frames at the clip rate.

Frames wait here until every boundary detector is final for them, so memory is bounded by the detectors'
lag plus two clips. A long shot is cut into clips of the maximum length; its last stretch is split into
two balanced clips rather than leaving a short remainder.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cinefoundry.ingest.config import ClipConfig, four_k_plus_one
from cinefoundry.ingest.frames import Frame


@dataclass
class ClipFrames:
    """The frames of one clip at the clip rate, with where they came from."""

    shot: int
    part: int
    slots: list[int]  # positions in the clip-rate timeline of the file
    times: list[float]  # source time of each frame, seconds
    pictures: list[np.ndarray]


@dataclass
class ShotTracker:
    """Releases frames in order, closes shots at cuts and transitions, emits clips through `on_clip`."""

    cfg: ClipConfig
    on_clip: Callable[[ClipFrames], None]
    shots: list[tuple[int, int]] = field(default_factory=list)  # (first, last) source frame of each shot
    _held: deque = field(default_factory=deque)
    _buffer: list[tuple[int, float, np.ndarray]] = field(default_factory=list)
    _shot_start: int | None = None
    _last: int = -1
    _part: int = 0

    def hold(self, frame: Frame) -> None:
        frame.small = None  # the detectors keep what they need
        self._held.append(frame)

    def release(self, upto: int, is_cut: Callable[[int], bool], in_transition: Callable[[int], bool]) -> None:
        """Process held frames with index below `upto`: every boundary decision about them is final."""
        while self._held and self._held[0].index < upto:
            frame = self._held.popleft()
            if in_transition(frame.index):
                self._close_shot()
                continue
            if is_cut(frame.index) or self._shot_start is None:
                self._close_shot()
                self._shot_start = frame.index
            self._last = frame.index
            for slot in frame.slots:
                self._buffer.append((slot, frame.time, frame.picture))
            if len(self._buffer) > 2 * self.cfg.max_frames:
                self._emit(self.cfg.max_frames)

    def finish(self) -> None:
        self.release(float("inf"), lambda _i: False, lambda _i: False)  # type: ignore[arg-type]
        self._close_shot()

    def _close_shot(self) -> None:
        if self._shot_start is None:
            return
        n, top = len(self._buffer), self.cfg.max_frames
        if n > top:  # split the rest of a long shot into two balanced clips
            first = four_k_plus_one(n // 2)
            self._emit(first)
            self._emit(four_k_plus_one(len(self._buffer)))
        elif n >= self.cfg.min_frames:
            self._emit(four_k_plus_one(n))
        self.shots.append((self._shot_start, self._last))
        self._shot_start, self._buffer, self._part = None, [], 0

    def _emit(self, count: int) -> None:
        """Emit the first `count` buffered frames as a clip; the rest stay (or are dropped at shot end)."""
        taken, self._buffer = self._buffer[:count], self._buffer[count:]
        if len(taken) < self.cfg.min_frames:
            return
        slots, times, pictures = (list(col) for col in zip(*taken, strict=True))
        self.on_clip(ClipFrames(len(self.shots), self._part, slots, times, pictures))
        self._part += 1
