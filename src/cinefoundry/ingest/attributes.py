"""Scores and attributes of one clip, from its clip-size frames sampled at 2 Hz.

Motion and camera move come from Farneback optical flow between consecutive frames, fitted with a
similarity model (pan, tilt, zoom); brightness, contrast, colourfulness (Hasler and Suesstrunk 2003),
dominant colours (k-means), sharpness (variance of the Laplacian), fade and black from luma, text from
`text.text_coverage`, and a perceptual hash for near-duplicates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import imagehash
import numpy as np
from PIL import Image

from cinefoundry.ingest.frames import luma, yuv_to_bgr
from cinefoundry.ingest.text import text_coverage

STATIC_MOTION = 0.02  # frame widths per second below which a frame pair counts as still
TITLE_TEXT, TITLE_DARK = 0.008, 0.16  # a little text on a dark frame: a title card


@dataclass
class ClipScores:
    brightness: float  # mean luma, 0 (video black) .. 1 (video white)
    contrast: float  # luma standard deviation, 0..1
    colourfulness: float  # Hasler-Suesstrunk M, about 0 (grey) to 100+ (vivid)
    sharpness: float  # variance of the Laplacian at clip size
    motion: float  # mean optical flow, frame widths per second
    camera_move: str  # static, pan, tilt, zoom, handheld or moving (subjects move, camera does not)
    camera_direction: str  # left/right, up/down, in/out, or ""
    text: float  # largest text coverage of a sample, 0..1
    title_card: bool  # some text on an otherwise dark frame
    black: float  # brightest detail in any sample (4x4-averaged luma), 0..1: low means the clip is black
    fade: float  # how far luma ramps towards black across the clip, 0..1 (0: no fade)
    dominant_colours: list[dict]  # [{"hex": "#a1b2c3", "share": 0.4}, ...]
    phash: str  # 64-bit perceptual hash of the middle frame, hex

    def as_dict(self) -> dict:
        return asdict(self)


def measure(pictures: list[np.ndarray], slots: list[int], fps: int, text_cache: dict[int, float]) -> ClipScores:
    """Score a clip from its YUV 4:2:0 frames at clip size.

    Samples sit on the file's 2 Hz grid of clip-rate slots, the same grid the file-wide text series uses,
    so `text_cache` (slot -> text coverage) already holds most of the text measurements.
    """
    n = len(pictures)
    every = max(1, fps // 2)
    samples = sorted({i for i, slot in enumerate(slots) if slot % every == 0} | {n // 2})
    greys = [luma(pictures[i]) for i in samples]
    means = np.array([level(g.mean()) for g in greys])
    middle = yuv_to_bgr(pictures[n // 2])
    texts = [
        text_cache[slots[i]] if slots[i] in text_cache else text_coverage(g)
        for i, g in zip(samples, greys, strict=True)
    ]
    flow_at = range(0, n - 1, max(1, fps // 4))  # camera moves want more frame pairs than the 2 Hz samples
    flows = [_flow_model(luma(pictures[i]), luma(pictures[i + 1]), fps) for i in flow_at]
    move, direction, motion = _camera(flows)
    return ClipScores(
        brightness=float(means.mean()),
        contrast=float(np.mean([g.std() / 219 for g in greys])),
        colourfulness=_colourfulness(middle),
        sharpness=float(np.mean([cv2.Laplacian(g, cv2.CV_32F).var() for g in greys])),
        motion=motion,
        camera_move=move,
        camera_direction=direction,
        text=float(max(texts)),
        title_card=sum(t >= TITLE_TEXT and m <= TITLE_DARK for t, m in zip(texts, means, strict=True)) > len(texts) / 2,
        black=max(level(float(cv2.pyrDown(cv2.pyrDown(g)).max())) for g in greys),
        fade=_fade(means),
        dominant_colours=_dominant_colours(middle),
        phash=str(imagehash.phash(Image.fromarray(cv2.cvtColor(middle, cv2.COLOR_BGR2RGB)))),
    )


def _flow_model(a: np.ndarray, b: np.ndarray, fps: int) -> tuple[float, float, float, float, float]:
    """Camera motion between two frames: (tx, ty, zoom, magnitude, fit), in frame widths per second.

    Corners tracked with pyramidal Lucas-Kanade; a similarity transform (translation, rotation, scale) fitted
    with RANSAC. `fit` is the share of tracks the camera model explains (low: subjects move, not the camera).
    """
    a, b = cv2.pyrDown(a), cv2.pyrDown(b)  # half size: camera motion is a coarse, global signal
    h, w = a.shape
    points = cv2.goodFeaturesToTrack(a, maxCorners=60, qualityLevel=0.01, minDistance=max(3, w // 30))
    if points is None or len(points) < 8:
        return 0.0, 0.0, 0.0, 0.0, 1.0  # no texture to follow: nothing moves that can be seen
    moved, status, _ = cv2.calcOpticalFlowPyrLK(a, b, points, None, winSize=(11, 11), maxLevel=2)
    ok = status.ravel() == 1
    if ok.sum() < 6:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    p0, p1 = points[ok].reshape(-1, 2), moved[ok].reshape(-1, 2)
    scale = fps / w
    magnitude = float(np.linalg.norm(p1 - p0, axis=1).mean()) * scale
    model, inliers = cv2.estimateAffinePartial2D(p0, p1, method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if model is None:
        return 0.0, 0.0, 0.0, magnitude, 0.0
    centre = np.array([w / 2, h / 2])
    tx, ty = model[:, :2] @ centre + model[:, 2] - centre  # how the centre of the picture moves
    zoom = (float(np.hypot(model[0, 0], model[1, 0])) - 1) * w / 2  # extra displacement at the side edges
    return float(tx) * scale, float(ty) * scale, zoom * scale, magnitude, float(inliers.mean())


def _camera(flows: list[tuple[float, float, float, float, float]]) -> tuple[str, str, float]:
    """Camera move of the clip from its frame-pair models: static, pan, tilt, zoom, handheld or moving."""
    if not flows:
        return "static", "", 0.0
    tx, ty, zoom, mag, fit = (np.array(col) for col in zip(*flows, strict=True))
    motion = float(mag.mean())
    if motion < STATIC_MOTION:
        return "static", "", motion
    if fit.mean() < 0.5:
        return "moving", "", motion
    mtx, mty, mzoom = tx.mean(), ty.mean(), zoom.mean()
    # Handheld: the camera keeps translating, but its direction keeps turning back from pair to pair.
    if len(flows) >= 4:
        turns = (tx[1:] * tx[:-1] + ty[1:] * ty[:-1]) < 0
        if turns.mean() >= 0.4:
            return "handheld", "", motion
    strengths = {"pan": abs(mtx), "tilt": abs(mty), "zoom": abs(mzoom) * 0.5}
    move = max(strengths, key=strengths.get)
    direction = {
        "pan": "right" if mtx < 0 else "left",  # the picture flows left when the camera pans right
        "tilt": "up" if mty > 0 else "down",
        "zoom": "in" if mzoom > 0 else "out",
    }[move]
    return move, direction, motion


def level(y: float) -> float:
    """Luma as 0 (black) to 1 (white) in video range, where black is 16 and white 235."""
    return float(np.clip((y - 16) / 219, 0.0, 1.0))


def _colourfulness(bgr: np.ndarray) -> float:
    b, g, r = (c.astype(np.float32) for c in cv2.split(bgr))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _fade(means: np.ndarray) -> float:
    """Luma range of a monotone ramp that ends (or starts) near black; 0 when the clip does not fade."""
    if len(means) < 3 or min(means[0], means[-1]) > 0.1:
        return 0.0
    order = np.arange(len(means))
    corr = np.corrcoef(order, means)[0, 1] if means.std() > 1e-6 else 0.0
    return float(means.max() - means.min()) if abs(corr) > 0.9 else 0.0


def _dominant_colours(bgr: np.ndarray, k: int = 3) -> list[dict]:
    pixels = cv2.resize(bgr, (48, 27), interpolation=cv2.INTER_AREA).reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(0)  # k-means starts from random centres: fixed seed, same colours on every run
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    _, labels, centres = cv2.kmeans(pixels, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / len(labels)
    out = []
    for i in np.argsort(-shares):
        b, g, r = (round(float(c)) for c in centres[i])
        out.append({"hex": f"#{r:02x}{g:02x}{b:02x}", "share": round(float(shares[i]), 3)})
    return out
