"""The storyboard as one self-contained HTML page: cover facts on top, then a card per panel.

Images and clips are linked by paths relative to the page, so the folder can be zipped and opened anywhere;
the page itself carries its style and needs no script or network.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from pathlib import Path
from urllib.parse import quote

from cinefoundry.storyboard.board import Board, Panel
from cinefoundry.storyboard.exports import caption, cover_facts, placeholder_text, shows_take

_STYLE = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 2rem; color: #222; }
header h1 { margin-bottom: 0.2rem; } header .credit { color: #555; margin-top: 0; }
table.facts td { padding: 0.1rem 1rem 0.1rem 0; vertical-align: top; } table.facts td:first-child { font-weight: bold; }
ul.notes { color: #555; font-size: 0.9rem; }
.board { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1.2rem; margin-top: 2rem; }
.card { background: #fff; border: 1px solid #ccc; border-radius: 6px; padding: 0.6rem; }
.card img, .card video { width: 100%; display: block; background: #000; }
.card .placeholder { aspect-ratio: 16 / 9; background: #ddd; display: flex; align-items: center;
  justify-content: center; text-align: center; padding: 1rem; box-sizing: border-box; font-weight: bold; color: #444; }
.card.refused { border: 2px solid #b00; } .card.refused .placeholder { background: #f3dede; color: #800; }
.card.failed { border: 2px solid #c80; }
.card h2 { font-size: 1rem; margin: 0.5rem 0 0.2rem; } .card h2 .heading { font-size: 0.8rem; color: #555; }
.card .dialogue { color: #225; margin: 0.2rem 0 0.2rem 0.8rem; font-size: 0.9rem; }
.card .small { font-size: 0.7rem; color: #777; } .card .badge { font-size: 0.7rem; font-weight: bold; }
"""


def _href(target: Path, page: Path) -> str:
    """`target` as a URL relative to the page's folder."""
    rel = os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)
    return quote(Path(rel).as_posix())


def _card(panel: Panel, page: Path) -> str:
    cap = caption(panel)
    e = html.escape
    if shows_take(panel):
        poster = _href(panel.image, page) if panel.image is not None else ""
        if panel.clip is not None:
            poster_attr = f' poster="{poster}"' if poster else ""
            media = (
                f'<video controls muted loop preload="metadata"{poster_attr} src="{_href(panel.clip, page)}"></video>'
            )
        else:
            media = f'<img src="{poster}" alt="keyframe of shot {e(cap.code)}">'
    else:
        media = f'<div class="placeholder">{e(placeholder_text(panel))}</div>'
    dialogue = "".join(f'<p class="dialogue">{e(line)}</p>' for line in cap.dialogue)
    badge = "" if cap.status == "generated" else f'<span class="badge">{e(cap.status.upper())}</span> '
    reason = (
        f'<p class="reason"><strong>{e(cap.status.capitalize())}:</strong> {e(panel.reason)}</p>'
        if (panel.reason and not shows_take(panel))
        else ""
    )
    return (
        f'<article class="card {e(cap.status)}" id="{e(panel.shot_id)}" data-shot-id="{e(panel.shot_id)}">'
        f"{media}"
        f'<h2>{badge}{e(cap.code)} <span class="heading">{e(cap.heading)}</span></h2>'
        f"<p>{e(cap.description)}</p>{dialogue}{reason}"
        f'<p class="small">{e(cap.camera)} · {e(cap.duration)}<br>{e(cap.take)} · {e(panel.shot_id)}</p>'
        "</article>"
    )


def write_html(board: Board, path: Path, date: dt.date | None = None) -> Path:
    """Write the board as one HTML page: cover facts, notes, then a card per panel (refusals marked, with why)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    e = html.escape
    facts = "".join(f"<tr><td>{e(label)}</td><td>{e(value)}</td></tr>" for label, value in cover_facts(board, date))
    notes = "".join(f"<li>{e(note)}</li>" for note in board.notes)
    cards = "\n".join(_card(panel, path) for panel in board.panels)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="cinefoundry">
<title>{e(board.title)}: storyboard</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>{e(board.title)}</h1>
<p class="credit">{e(board.credit)}</p>
<table class="facts">{facts}</table>
{f'<h3>Notes</h3><ul class="notes">{notes}</ul>' if notes else ""}
</header>
<main class="board">
{cards}
</main>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path
