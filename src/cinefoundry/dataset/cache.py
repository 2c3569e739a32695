"""Latent and text-embedding caches, stored as Lance tables beside the clip catalog.

Rows are keyed by what produced them (the VAE's weights digest, the text encoder's key) and by item (a
window of a clip, a caption), so a new VAE or encoder never reads stale arrays and a rerun encodes nothing.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

SCHEMA = pa.schema(
    [
        pa.field("key", pa.string()),
        pa.field("item", pa.string()),
        pa.field("dtype", pa.string()),
        pa.field("shape", pa.list_(pa.int32())),
        pa.field("array", pa.large_binary()),
    ]
)


class ArrayCache:
    """A Lance table of numpy arrays addressed by (key, item)."""

    def __init__(self, uri: str):
        self.uri = uri

    def _dataset(self):
        import lance

        try:
            return lance.dataset(self.uri)
        except (ValueError, FileNotFoundError, OSError):
            return None

    def get(self, key: str, items: list[str]) -> dict[str, np.ndarray]:
        """The cached arrays of `items` under `key` (missing items are simply absent)."""
        ds = self._dataset()
        if ds is None or not items:
            return {}
        quoted = key.replace("'", "''")
        table = ds.to_table(filter=f"key = '{quoted}'").to_pylist()
        wanted = set(items)
        return {r["item"]: np.frombuffer(r["array"], dtype=r["dtype"]).reshape(r["shape"])
                for r in table if r["item"] in wanted}  # fmt: skip

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Append arrays under `key` (one Lance commit for the batch)."""
        if not arrays:
            return
        import lance

        rows = [{"key": key, "item": item, "dtype": str(a.dtype), "shape": list(a.shape),
                 "array": np.ascontiguousarray(a).tobytes()} for item, a in arrays.items()]  # fmt: skip
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        mode = "append" if self._dataset() is not None else "create"
        lance.write_dataset(table, self.uri, schema=SCHEMA, mode=mode)


def text_item(caption: str) -> str:
    """The cache item of a caption: its SHA-256 (captions can be long)."""
    return hashlib.sha256(caption.encode("utf-8")).hexdigest()


def window_item(clip_id: str, start_s: float) -> str:
    """The cache item of a training window: its clip and start time."""
    return f"{clip_id}@{start_s:.4f}"
