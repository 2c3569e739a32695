"""Content-addressed object store on local disk and on an fsspec (in-memory) filesystem."""

import hashlib
from pathlib import Path

import pytest

from cinefoundry.core.store import ObjectStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    root = tmp_path / "objects" if request.param == "local" else f"memory://cf-test-{tmp_path.name}/objects"
    s = ObjectStore(root)
    s.create()
    return s


def test_objects_are_named_by_sha256_and_stored_once(store: ObjectStore, tmp_path: Path) -> None:
    data = b"frame data" * 1000
    a = store.put_bytes(data)
    assert a.sha256 == hashlib.sha256(data).hexdigest()
    assert a.key.endswith(f"{a.sha256[:2]}/{a.sha256[2:4]}/{a.sha256}")
    src = tmp_path / "clip.bin"
    src.write_bytes(data)
    b = store.put_file(src)
    assert b == a
    assert list(store) == [a.sha256]
    with store.open(a.sha256) as f:
        assert f.read() == data
    assert store.verify(a.sha256)


def test_verify_detects_a_corrupted_object(store: ObjectStore) -> None:
    obj = store.put_bytes(b"original")
    with store.fs.open(obj.key, "wb") as f:
        f.write(b"tampered")
    assert not store.verify(obj.sha256)


def test_key_rejects_anything_but_a_sha256(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="not a sha256"):
        store.key("../../etc/passwd")


def test_no_partial_objects_are_visible(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(b"x" * (3 << 20))
    obj = store.put_file(src)
    assert store.exists(obj.sha256)
    assert not [p for p in store.fs.find(f"{store.root}/tmp")], "temporary upload left behind"
