"""The storyboard as a PDF for directors: a cover page, then panels in a grid of captioned keyframes.

Drawn with the reportlab canvas so every box has a fixed place: text is wrapped to its box and cut with an
ellipsis when it does not fit, never spilled over the next panel.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from cinefoundry.storyboard.board import Board, Panel
from cinefoundry.storyboard.exports import caption, cover_facts, find_font, placeholder_text, shows_take

MARGIN = 36.0  # points: half an inch
GUTTER = 14.0
HEADER = 22.0
FOOTER = 16.0
GREY = colors.Color(0.55, 0.55, 0.55)
PLACEHOLDER = colors.Color(0.86, 0.86, 0.86)


class _Fonts:
    """The regular and bold font names in use; `safe` turns text into what those fonts can draw."""

    def __init__(self) -> None:
        regular, bold = find_font(), find_font(bold=True)
        self.unicode = regular is not None and bold is not None
        if self.unicode:
            # Registering twice under one name is harmless; reportlab keeps the first.
            pdfmetrics.registerFont(TTFont("CFSans", str(regular)))
            pdfmetrics.registerFont(TTFont("CFSans-Bold", str(bold)))
            self.regular, self.bold = "CFSans", "CFSans-Bold"
        else:
            self.regular, self.bold = "Helvetica", "Helvetica-Bold"

    def safe(self, text: str) -> str:
        # The built-in fonts only know WinAnsi (which has curly quotes and dashes); anything else becomes '?'.
        text = " ".join(text.split())
        if self.unicode:
            return text
        return text.encode("cp1252", errors="replace").decode("cp1252")


def _fit_lines(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """`text` wrapped to `width`, at most `max_lines` lines, the last ending in '…' when something was cut."""
    if max_lines <= 0 or not text:
        return []
    lines = simpleSplit(text, font, size, width)
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = kept[-1]
    while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
        last = last[:-1]
    kept[-1] = last.rstrip() + "…"
    return kept


def _draw_lines(c: canvas.Canvas, lines: list[str], x: float, top: float, font: str, size: float) -> float:
    """Draw lines downwards from `top`; returns the y below the last line."""
    c.setFont(font, size)
    leading = size * 1.25
    for line in lines:
        top -= leading
        c.drawString(x, top + size * 0.25, line)
    return top


def _cover(c: canvas.Canvas, board: Board, fonts: _Fonts, date: dt.date | None, pagesize: tuple) -> None:
    width, height = pagesize
    text_width = width - 2 * MARGIN
    y = height - MARGIN - 40
    c.setFont(fonts.bold, 28)
    for line in _fit_lines(fonts.safe(board.title or "Untitled"), fonts.bold, 28, text_width, 2):
        c.drawString(MARGIN, y, line)
        y -= 34
    if board.credit:
        credit = _fit_lines(fonts.safe(board.credit), fonts.regular, 14, text_width, 2)
        y = _draw_lines(c, credit, MARGIN, y, fonts.regular, 14)
    y -= 18
    for label, value in cover_facts(board, date):
        c.setFont(fonts.bold, 11)
        c.drawString(MARGIN, y, label)
        c.setFont(fonts.regular, 11)
        for line in _fit_lines(fonts.safe(value), fonts.regular, 11, text_width - 130, 2):
            c.drawString(MARGIN + 130, y, line)
            y -= 14
        y -= 4
    y -= 12
    if board.notes:
        c.setFont(fonts.bold, 11)
        c.drawString(MARGIN, y, "Notes")
        y -= 6
        room = int((y - MARGIN - FOOTER) // (9 * 1.25))
        notes: list[str] = []
        for i, note in enumerate(board.notes):
            lines = _fit_lines("• " + fonts.safe(note), fonts.regular, 9, text_width, 3)
            if len(notes) + len(lines) > room - 1:
                notes.append(f"… and {len(board.notes) - i} more notes")
                break
            notes.extend(lines)
        c.setFillColor(colors.black)
        _draw_lines(c, notes, MARGIN, y, fonts.regular, 9)


def _footer(c: canvas.Canvas, board: Board, fonts: _Fonts, page: int, width: float) -> None:
    # The model and dataset on every page, so a sheet pulled from the binder still says where it came from.
    c.setFont(fonts.regular, 7)
    c.setFillColor(GREY)
    dataset = board.dataset_version or "not recorded"
    left = fonts.safe(f"{board.title} · {board.project} · model {board.model} · dataset {dataset}")
    c.drawString(MARGIN, MARGIN - 14, _fit_lines(left, fonts.regular, 7, width - 2 * MARGIN - 60, 1)[0])
    c.drawRightString(width - MARGIN, MARGIN - 14, f"page {page}")
    c.setFillColor(colors.black)


def _image_box(c: canvas.Canvas, panel: Panel, fonts: _Fonts, x: float, y: float, w: float, h: float) -> None:
    """The keyframe fitted into the box, or a grey placeholder saying why there is none."""
    message = placeholder_text(panel)
    if shows_take(panel) and panel.image is not None:
        try:
            c.drawImage(ImageReader(str(panel.image)), x, y, w, h, preserveAspectRatio=True, anchor="c", mask="auto")
            return
        except Exception as exc:  # a missing or broken PNG must not lose the whole board
            message = f"IMAGE UNREADABLE: {Path(panel.image).name} ({type(exc).__name__})"
    elif shows_take(panel):
        message = "NO KEYFRAME (clip only)"
    c.setFillColor(PLACEHOLDER)
    c.setStrokeColor(GREY)
    c.rect(x, y, w, h, stroke=1, fill=1)
    label, _, reason = message.partition(": ")
    label_size, size = 14, 8.5
    lines = _fit_lines(fonts.safe(reason), fonts.regular, size, w - 16, int((h - 30) // (size * 1.25)))
    top = y + h / 2 + (label_size * 1.3 + len(lines) * size * 1.25) / 2
    c.setFillColor(colors.Color(0.6, 0.1, 0.1) if panel.status == "refused" else colors.Color(0.25, 0.25, 0.25))
    c.setFont(fonts.bold, label_size)
    c.drawCentredString(x + w / 2, top - label_size, fonts.safe(label))
    c.setFillColor(colors.Color(0.2, 0.2, 0.2))
    c.setFont(fonts.regular, size)
    top -= label_size * 1.3
    for line in lines:
        top -= size * 1.25
        c.drawCentredString(x + w / 2, top + size * 0.25, line)
    c.setFillColor(colors.black)


def _panel(c: canvas.Canvas, panel: Panel, fonts: _Fonts, x: float, y: float, w: float, h: float) -> None:
    """One grid cell: image on top, caption below, small type (camera, duration, take, record) at the bottom."""
    cap = caption(panel)
    image_h = min(w * 9 / 16, h * 0.55)
    _image_box(c, panel, fonts, x, y + h - image_h, w, image_h)
    top = y + h - image_h - 2
    c.setFont(fonts.bold, 10)
    c.drawString(x, top - 11, cap.code)
    c.setFont(fonts.regular, 8)
    c.drawRightString(x + w, top - 11, cap.duration)
    code_w = pdfmetrics.stringWidth(cap.code + "  ", fonts.bold, 10)
    heading = _fit_lines(fonts.safe(cap.heading), fonts.bold, 8, w - code_w - 40, 1)
    if heading:
        c.setFont(fonts.bold, 8)
        c.drawString(x + code_w, top - 11, heading[0])
    top -= 15
    small = 6.5
    bottom = y + 2 * small * 1.25
    room = int((top - bottom) // (8 * 1.25))
    body = _fit_lines(fonts.safe(cap.description), fonts.regular, 8, w, max(1, room - min(len(cap.dialogue), 2) * 2))
    top = _draw_lines(c, body, x, top, fonts.regular, 8)
    room -= len(body)
    for line in cap.dialogue:
        lines = _fit_lines(fonts.safe(line), fonts.regular, 8, w - 8, min(room, 2))
        if not lines:
            break
        c.setFillColor(colors.Color(0.15, 0.15, 0.45))
        top = _draw_lines(c, lines, x + 8, top, fonts.regular, 8)
        room -= len(lines)
    c.setFillColor(GREY)
    status = "" if cap.status == "generated" else f" · {cap.status.upper()}"
    details = [f"{cap.camera} · {cap.duration}{status}", f"{cap.take} · {panel.shot_id}"]
    for i, line in enumerate(details):
        c.setFont(fonts.regular, small)
        c.drawString(x, y + (1 - i) * small * 1.25 + 1, _fit_lines(fonts.safe(line), fonts.regular, small, w, 1)[0])
    c.setFillColor(colors.black)


def write_pdf(
    board: Board, path: Path, date: dt.date | None = None, pagesize=landscape(letter), cols: int = 3, rows: int = 2
) -> Path:
    """Write the board as a PDF: a cover (title, model, dataset version, date, counts, notes), then panels.

    Panels go `cols` x `rows` to a page; panels without a take show a grey box with their status and reason.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fonts = _Fonts()
    c = canvas.Canvas(str(path), pagesize=pagesize)
    c.setTitle(board.title)
    c.setAuthor(board.credit)
    dataset = board.dataset_version or "not recorded"
    c.setSubject(f"Storyboard of {board.project}; model {board.model}, dataset {dataset}")
    c.setCreator("cinefoundry")
    width, height = pagesize
    _cover(c, board, fonts, date, pagesize)
    _footer(c, board, fonts, 1, width)
    cell_w = (width - 2 * MARGIN - (cols - 1) * GUTTER) / cols
    cell_h = (height - 2 * MARGIN - HEADER - FOOTER - (rows - 1) * GUTTER) / rows
    per_page = cols * rows
    for start in range(0, len(board.panels), per_page):
        c.showPage()
        page = start // per_page + 2
        c.setFont(fonts.bold, 12)
        c.drawString(MARGIN, height - MARGIN - 12, _fit_lines(fonts.safe(board.title), fonts.bold, 12, width / 2, 1)[0])
        c.setFont(fonts.regular, 9)
        chunk = board.panels[start : start + per_page]
        c.drawRightString(width - MARGIN, height - MARGIN - 12, f"shots {chunk[0].plan.code} to {chunk[-1].plan.code}")
        for i, panel in enumerate(chunk):
            col, row = i % cols, i // cols
            x = MARGIN + col * (cell_w + GUTTER)
            y = height - MARGIN - HEADER - (row + 1) * cell_h - row * GUTTER
            _panel(c, panel, fonts, x, y, cell_w, cell_h)
        _footer(c, board, fonts, page, width)
    c.save()
    return path
