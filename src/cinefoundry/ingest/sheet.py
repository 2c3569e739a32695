"""Contact sheets: a PNG grid of clip thumbnails (middle frames) with their verdicts and captions."""

from __future__ import annotations

import io
import textwrap

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

THUMB_W = 256
CELL_TEXT_LINES = 5


def middle_frame(video: bytes) -> np.ndarray:
    """The middle frame of an MP4 clip, as RGB."""
    with av.open(io.BytesIO(video)) as container:
        frames = [f for f in container.decode(video=0)]
    return frames[len(frames) // 2].to_ndarray(format="rgb24")


def contact_sheet(cells: list[tuple[np.ndarray, str, bool]], columns: int = 4) -> Image.Image:
    """A grid of (RGB thumbnail, text, kept) cells; rejected clips get a red frame."""
    font = ImageFont.load_default(size=11)
    thumb_h = max(round(THUMB_W * img.shape[0] / img.shape[1]) for img, _, _ in cells)
    line_h = 13
    cell_w, cell_h = THUMB_W + 8, thumb_h + 8 + CELL_TEXT_LINES * line_h + 6
    rows = (len(cells) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for i, (img, text, kept) in enumerate(cells):
        x, y = (i % columns) * cell_w + 4, (i // columns) * cell_h + 4
        thumb = Image.fromarray(img).resize((THUMB_W, round(THUMB_W * img.shape[0] / img.shape[1])))
        sheet.paste(thumb, (x, y))
        if not kept:
            draw.rectangle([x - 2, y - 2, x + thumb.width + 1, y + thumb.height + 1], outline=(220, 40, 40), width=2)
        lines = textwrap.wrap(text, width=44)[:CELL_TEXT_LINES]
        for k, line in enumerate(lines):
            draw.text((x, y + thumb_h + 4 + k * line_h), line, fill=(230, 230, 230), font=font)
    return sheet
