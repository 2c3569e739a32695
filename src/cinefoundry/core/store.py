"""Content-addressed object store: every object is named by the sha256 of its bytes, on any fsspec store."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredObject:
    """An object in the store: its sha256, its size in bytes and its key (path inside the store)."""

    sha256: str
    size: int
    key: str


def sha256_file(path: str | Path, fs: fsspec.AbstractFileSystem | None = None) -> tuple[str, int]:
    """sha256 hex digest and size of a file, read in 1 MiB chunks (local path or fsspec URL)."""
    opener = fs.open if fs is not None else fsspec.open
    h, size = hashlib.sha256(), 0
    with opener(str(path), "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class ObjectStore:
    """Files named by sha256 under `root` (a local folder or an fsspec URL such as s3://bucket/prefix)."""

    def __init__(self, root: str | Path):
        self.root_url = str(root)
        self.fs, self.root = fsspec.core.url_to_fs(self.root_url)
        self.root = self.root.rstrip("/")
        self._tmp_ready = False

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def create(self) -> None:
        """Create the store's folders (a no-op on object stores without folders)."""
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)

    def key(self, sha256: str) -> str:
        """Path of an object inside the store, fanned out so no folder holds millions of files."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return f"{self.root}/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        return self.fs.exists(self.key(sha256))

    def put_bytes(self, data: bytes) -> StoredObject:
        """Store `data`; storing the same bytes twice keeps one copy."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.exists(sha):
            tmp = self._tmp_key()
            with self.fs.open(tmp, "wb") as f:
                f.write(data)
            self._publish(tmp, sha)
        return StoredObject(sha, len(data), self.key(sha))

    def put_file(self, path: str | Path) -> StoredObject:
        """Copy a local file into the store while hashing it; the object appears only when complete."""
        tmp = self._tmp_key()
        h, size = hashlib.sha256(), 0
        with open(path, "rb") as src, self.fs.open(tmp, "wb") as dst:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        sha = h.hexdigest()
        if self.exists(sha):
            self.fs.rm(tmp)
        else:
            self._publish(tmp, sha)
        return StoredObject(sha, size, self.key(sha))

    def open(self, sha256: str) -> BinaryIO:
        """Open an object for reading."""
        return self.fs.open(self.key(sha256), "rb")

    def local_path(self, sha256: str) -> Path:
        """Filesystem path of an object (local stores only; remote stores are read through `open`)."""
        if not self.is_local:
            raise ValueError(f"{self.root_url} is not a local store")
        return Path(self.key(sha256))

    def verify(self, sha256: str) -> bool:
        """True when the object's bytes still hash to its name."""
        return sha256_file(self.key(sha256), self.fs)[0] == sha256

    def __iter__(self) -> Iterator[str]:
        """sha256 of every object in the store."""
        for path in self.fs.find(self.root):
            relative = path[len(self.root) :].lstrip("/")
            name = relative.rsplit("/", 1)[-1]
            if len(name) == 64 and not relative.startswith("tmp/"):
                yield name

    def _tmp_key(self) -> str:
        if not self._tmp_ready:
            self.create()
            self._tmp_ready = True
        return f"{self.root}/tmp/{uuid.uuid4().hex}"

    def _publish(self, tmp: str, sha: str) -> None:
        dest = self.key(sha)
        self.fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        if self.is_local:
            os.replace(tmp, dest)  # atomic on one filesystem: readers never see a partial object
        else:
            self.fs.mv(tmp, dest)
