"""The clip catalog: a Lance dataset with one row per clip (lineage, scores, captions, the video as a blob).

Every change is a new Lance version, so a dataset version can pin the catalog as it was. A file's clips
are replaced as a whole (a re-run under the same settings rewrites identical rows; under new settings the
superseded clips go); a new captioner adds a column.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import lance

CAPTION_PREFIX = "caption_"
DEFAULT_CAPTION = "caption_structured_v1"

SCHEMA = pa.schema(
    [
        pa.field("clip_id", pa.string()),
        pa.field("title_id", pa.string()),
        pa.field("grant_id", pa.int64()),
        pa.field("media_file_id", pa.int64()),
        pa.field("media_sha256", pa.string()),
        pa.field("processing_hash", pa.string()),
        pa.field("shot", pa.int32()),
        pa.field("part", pa.int32()),
        pa.field("start_s", pa.float64()),  # time range in the master file
        pa.field("end_s", pa.float64()),
        pa.field("slot_start", pa.int32()),  # frame range on the file's clip-rate timeline
        pa.field("slot_end", pa.int32()),
        pa.field("frames", pa.int32()),
        pa.field("fps", pa.int32()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("source_pixels", pa.int64()),  # picture area in the master after cropping
        pa.field("crop", pa.list_(pa.int32())),
        pa.field("span", pa.string()),  # credits / titles, or null
        pa.field("brightness", pa.float32()),
        pa.field("contrast", pa.float32()),
        pa.field("colourfulness", pa.float32()),
        pa.field("sharpness", pa.float32()),
        pa.field("motion", pa.float32()),
        pa.field("camera_move", pa.string()),
        pa.field("camera_direction", pa.string()),
        pa.field("text", pa.float32()),
        pa.field("title_card", pa.bool_()),
        pa.field("black", pa.float32()),
        pa.field("fade", pa.float32()),
        pa.field("dominant_colours", pa.string()),  # JSON list of {hex, share}
        pa.field("phash", pa.string()),
        pa.field("dialogue", pa.list_(pa.string())),
        pa.field(DEFAULT_CAPTION, pa.string()),
        pa.field("video_sha256", pa.string()),
        pa.field("video", pa.large_binary(), metadata={"lance-encoding:blob": "true"}),
    ]
)
SCORE_COLUMNS = [f.name for f in SCHEMA if f.name not in ("video", "crop", "dialogue")]


def caption_column(captioner: str) -> str:
    """The column a captioner writes: `structured-v1` -> `caption_structured_v1`."""
    return CAPTION_PREFIX + re.sub(r"[^a-z0-9]+", "_", captioner.lower()).strip("_")


class ClipCatalog:
    """The Lance clip catalog at `uri` (a local path or an object-store URL)."""

    def __init__(self, uri: str):
        self.uri = uri

    def dataset(self, version: int | None = None) -> lance.LanceDataset | None:
        import lance  # imported on first use: worker pools fork faster (and safely) before Lance is loaded

        try:
            return lance.dataset(self.uri, version=version)
        except (ValueError, FileNotFoundError, OSError):
            return None

    @property
    def version(self) -> int:
        ds = self.dataset()
        return ds.version if ds is not None else 0

    def replace_media(self, media_file_id: int, rows: list[dict[str, Any]]) -> None:
        """Make the catalog hold exactly `rows` for this media file (idempotent: a replay changes nothing)."""
        where = f"media_file_id = {int(media_file_id)}"
        ds = self.dataset()
        if ds is None:
            if rows:
                import lance

                lance.write_dataset(pa.Table.from_pylist(rows, schema=SCHEMA), self.uri, schema=SCHEMA)
            return
        if not rows:
            ds.delete(where)
            return
        extra = _extra_captions(ds)
        schema = pa.schema([*SCHEMA, *(pa.field(c, pa.string()) for c in extra)])
        table = pa.Table.from_pylist(_carry_captions(ds, where, rows, extra), schema=schema)
        (
            ds.merge_insert("clip_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(where)
            .execute(table)
        )

    def rows(
        self, columns: list[str] | None = None, where: str | None = None, version: int | None = None
    ) -> list[dict]:
        """Catalog rows (without the video blob unless asked for) as dicts."""
        ds = self.dataset(version)
        if ds is None:
            return []
        cols = columns or [c for c in ds.schema.names if c != "video"]
        return ds.to_table(columns=cols, filter=where).to_pylist()

    def videos(self, clip_ids: list[str], version: int | None = None) -> dict[str, bytes]:
        """The clip videos (MP4 bytes) by clip id, read through Lance's blob API."""
        ds = self.dataset(version)
        if ds is None or not clip_ids:
            return {}
        quoted = ", ".join(f"'{_check_id(c)}'" for c in clip_ids)
        index = ds.to_table(columns=["clip_id"], filter=f"clip_id IN ({quoted})", with_row_id=True)
        ids, row_ids = index["clip_id"].to_pylist(), index["_rowid"].to_pylist()
        return {cid: blob.read() for cid, blob in zip(ids, ds.take_blobs("video", ids=row_ids), strict=True)}

    def add_captions(self, captioner: str, captions: dict[str, str]) -> str:
        """Add (or complete) the caption column of a captioner; other caption columns are untouched."""
        ds = self.dataset()
        column = caption_column(captioner)
        if ds is None:
            raise ValueError("the clip catalog is empty: run `cinefoundry ingest` first")
        table = pa.table({"clip_id": list(captions), column: list(captions.values())})
        if column in ds.schema.names:
            ds.merge_insert("clip_id").when_matched_update_all().execute(table)
        else:
            ds.merge(table, "clip_id")
        return column

    def delete_title(self, title_id: str) -> int:
        """Delete every clip of a title (a new version; earlier versions keep them); returns how many."""
        ds = self.dataset()
        if ds is None:
            return 0
        if not re.fullmatch(r"[a-z0-9_-]+", title_id):
            raise ValueError(f"not a title id: {title_id!r}")
        where = f"title_id = '{title_id}'"
        count = ds.count_rows(filter=where)
        if count:
            ds.delete(where)
        return count

    def compact(self, min_fragments: int = 16) -> bool:
        """Merge small fragments (each committed file adds one) once there are many; True if it did."""
        ds = self.dataset()
        if ds is None or len(ds.get_fragments()) < min_fragments:
            return False
        ds.optimize.compact_files()
        return True


def _extra_captions(ds: lance.LanceDataset) -> list[str]:
    """Caption columns that captioners added after ingest."""
    return [c for c in ds.schema.names if c.startswith(CAPTION_PREFIX) and c != DEFAULT_CAPTION]


def _carry_captions(ds: lance.LanceDataset, where: str, rows: list[dict], extra: list[str]) -> list[dict]:
    """Keep captions that later captioners added to clips that survive a re-run (same clip id)."""
    if not extra:
        return rows
    existing = ds.to_table(columns=["clip_id", *extra], filter=where).to_pylist()
    by_id = {r["clip_id"]: r for r in existing}
    return [row | {c: by_id.get(row["clip_id"], {}).get(c) for c in extra} for row in rows]


def row_scores(row: dict) -> dict:
    """A catalog row's scores in the shape the captioners and filters use."""
    out = {k: row[k] for k in SCORE_COLUMNS if k in row}
    out["dominant_colours"] = json.loads(row["dominant_colours"]) if row.get("dominant_colours") else []
    return out


def _check_id(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{32}", value):
        raise ValueError(f"not a clip id: {value!r}")
    return value
