"""How much of a frame is text (titles, credits, signs): a fast morphological heuristic, no model weights.

Text lines are runs of small, high-contrast strokes side by side: the morphological gradient finds the
strokes, a wide closing joins the letters of a line, and the boxes that look like lines (wide, short,
densely filled with strokes) are counted. Natural texture rarely forms such boxes.
"""

from __future__ import annotations

import cv2
import numpy as np

_GRADIENT = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


def text_coverage(grey: np.ndarray) -> float:
    """Fraction of the frame covered by text-line-like boxes (0 for none; credits reach 0.1 and more)."""
    h, w = grey.shape
    gradient = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, _GRADIENT)
    _, strokes = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if strokes.mean() > 0.35 * 255:  # busy texture everywhere: Otsu split noise, not strokes
        return 0.0
    joined = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, w // 40), 1)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    area = 0
    for x, y, bw, bh, pixels in stats[1:n]:
        if not (0.012 * h <= bh <= 0.12 * h and bw >= 2.5 * bh and bw >= 0.04 * w):
            continue
        density = strokes[y : y + bh, x : x + bw].mean() / 255
        if 0.2 <= density <= 0.85 and pixels / (bw * bh) > 0.45:
            area += bw * bh
    return float(min(1.0, area / (h * w)))
