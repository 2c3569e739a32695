"""Filters: each looks at a clip's stored scores and returns (keep, reason). Nothing is deleted.

Verdicts are recomputed from the scores whenever thresholds change (at ingest with its settings, and at
`dataset build` with the build's), so loosening or tightening a filter never needs another decode.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cinefoundry.ingest.config import FilterConfig

Row = dict[str, Any]  # a clip row of the clip catalog


@dataclass(frozen=True)
class Filter:
    """A named test on one clip; `check` returns (keep, reason) under the given thresholds."""

    name: str
    check: Callable[[Row, FilterConfig], tuple[bool, str]]


def _too_short(row: Row, cfg: FilterConfig) -> tuple[bool, str]:
    seconds = row["frames"] / row["fps"]
    if cfg.min_seconds is not None and seconds < cfg.min_seconds:
        return False, f"too_short: {seconds:.2f} s < {cfg.min_seconds} s"
    return True, ""


def _black(row: Row, cfg: FilterConfig) -> tuple[bool, str]:
    if cfg.black_luma is not None and row["black"] < cfg.black_luma:
        return False, f"black: brightest frame at {row['black']:.3f} < {cfg.black_luma}"
    return True, ""


def _fade(row: Row, cfg: FilterConfig) -> tuple[bool, str]:
    if cfg.fade_range is not None and row["fade"] > cfg.fade_range:
        return False, f"fade: luma ramps {row['fade']:.2f} towards black"
    return True, ""


def _static(row: Row, cfg: FilterConfig) -> tuple[bool, str]:
    if cfg.static_motion is not None and row["motion"] < cfg.static_motion:
        return False, f"static: motion {row['motion']:.4f} < {cfg.static_motion}"
    return True, ""


def _blurry(row: Row, cfg: FilterConfig) -> tuple[bool, str]:
    if cfg.blur_sharpness is not None and row["sharpness"] < cfg.blur_sharpness:
        return False, f"blurry: sharpness {row['sharpness']:.1f} < {cfg.blur_sharpness}"
    return True, ""


def _text_heavy(row: Row, cfg: FilterConfig) -> tuple[bool, str]:
    if cfg.text_coverage is not None and (row["text"] > cfg.text_coverage or row["title_card"]):
        what = "title card" if row["title_card"] and row["text"] <= cfg.text_coverage else f"{row['text']:.3f}"
        return False, f"text_heavy: {what}"
    return True, ""


def _in_span(row: Row, cfg: FilterConfig) -> tuple[bool, str]:
    if cfg.reject_spans and row.get("span"):
        return False, f"{row['span']}: inside a {row['span']} span"
    return True, ""


FILTERS = [
    Filter("too_short", _too_short),
    Filter("black", _black),
    Filter("fade", _fade),
    Filter("static", _static),
    Filter("blurry", _blurry),
    Filter("text_heavy", _text_heavy),
    Filter("span", _in_span),
]


def reject_reasons(row: Row, cfg: FilterConfig) -> list[str]:
    """Every reason this clip fails (empty: keep). A black clip is not also called blurry and static."""
    reasons = [reason for f in FILTERS for keep, reason in [f.check(row, cfg)] if not keep]
    if row.get("duplicate_of"):
        reasons.append(f"near_duplicate: of {row['duplicate_of']}")
    if any(r.startswith("black") for r in reasons):
        reasons = [r for r in reasons if not r.startswith(("blurry", "static", "fade"))]
    return reasons


def near_duplicates(rows: Iterable[Row], max_bits: int | None) -> dict[str, str]:
    """clip_id -> id of the clip it duplicates, across all titles, by perceptual-hash distance.

    Hashes are split into 8 bands of 8 bits: two hashes within 7 bits of each other share at least one
    band, so only clips sharing a band are compared. Of each group the clip from the largest source
    picture is kept (ties: the smallest id), so the choice does not depend on processing order.
    """
    if max_bits is None:
        return {}
    rows = sorted(rows, key=lambda r: (-r["source_pixels"], r["clip_id"]))
    hashes = {r["clip_id"]: int(r["phash"], 16) for r in rows}
    buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
    duplicate_of: dict[str, str] = {}
    for r in rows:
        cid, h = r["clip_id"], hashes[r["clip_id"]]
        bands = [(b, (h >> (8 * b)) & 0xFF) for b in range(8)]
        match = None
        for band in bands:
            for other in buckets[band]:
                if other not in duplicate_of and bin(h ^ hashes[other]).count("1") <= max_bits:
                    match = other
                    break
            if match:
                break
        if match:
            duplicate_of[cid] = match
        for band in bands:
            buckets[band].append(cid)
    return duplicate_of


def verdicts(rows: list[Row], cfg: FilterConfig) -> dict[str, list[str]]:
    """clip_id -> reasons to reject (empty: keep), near-duplicates resolved across all the given rows."""
    duplicate_of = near_duplicates(rows, cfg.near_duplicate_bits)
    return {r["clip_id"]: reject_reasons(r | {"duplicate_of": duplicate_of.get(r["clip_id"])}, cfg) for r in rows}


def reason_kind(reason: str) -> str:
    """`black: brightest frame at 0.01 < 0.07` -> `black`."""
    return reason.split(":", 1)[0]
