"""A small self-contained HTML gallery of generated takes: each video with its prompt, mode, seed, record id
and what `provenance verify` said about it. Paths are relative, so the folder can be zipped and shared."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

_STATE_COLOUR = {"Trusted": "#1a7f37", "Valid": "#9a6700", "Invalid": "#cf222e", "Missing": "#57606a"}


@dataclass
class GalleryItem:
    """One take on the page."""

    title: str
    video: Path  # an MP4 (the viewing copy of any delivery)
    prompt: str
    details: dict[str, str]  # label -> value, shown under the video
    manifest_state: str | None = None
    watermark_id: str | None = None


def write_gallery(path: Path, heading: str, items: list[GalleryItem], notes: list[str] | None = None) -> Path:
    """Write `path` (index.html) with one card per item; videos loop muted so the page plays on open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cards = "\n".join(_card(item, path.parent) for item in items)
    extra = "".join(f"<p class=note>{html.escape(n)}</p>" for n in notes or [])
    path.write_text(_PAGE.format(heading=html.escape(heading), notes=extra, cards=cards), encoding="utf-8")
    return path


def _card(item: GalleryItem, folder: Path) -> str:
    src = html.escape(os.path.relpath(item.video, folder))
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in item.details.items())
    badge = ""
    if item.manifest_state:
        colour = _STATE_COLOUR.get(item.manifest_state, "#57606a")
        badge = f'<span class=badge style="background:{colour}">C2PA {html.escape(item.manifest_state)}</span>'
    if item.watermark_id:
        badge += f"<span class=badge style='background:#0969da'>watermark {html.escape(item.watermark_id)}</span>"
    return (f"<figure><video src=\"{src}\" autoplay loop muted playsinline></video><figcaption>"
            f"<h2>{html.escape(item.title)}</h2>{badge}<p class=prompt>{html.escape(item.prompt)}</p>"
            f"<table>{rows}</table></figcaption></figure>")  # fmt: skip


_PAGE = """<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{heading}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; background: #f6f8fa; color: #1f2328; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 1.5em; }}
figure {{ margin: 0; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; overflow: hidden; }}
video {{ width: 100%; image-rendering: pixelated; background: #000; display: block; }}
figcaption {{ padding: .8em 1em; }}
h2 {{ font-size: 15px; margin: 0 0 .4em; }}
.badge {{ color: #fff; border-radius: 4px; padding: 1px 6px; margin-right: 4px; font-size: 12px; }}
.prompt {{ font-style: italic; }}
.note {{ color: #57606a; }}
th {{ text-align: left; padding-right: 1em; color: #57606a; font-weight: normal; vertical-align: top; }}
</style></head>
<body><h1>{heading}</h1>{notes}<main>
{cards}
</main></body></html>
"""
