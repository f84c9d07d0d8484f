"""The local object store: atomic replace, create-only writes, listings in key order."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_assets.lake.object_store import LocalObjectStore, ObjectExistsError


def source(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_replace_is_complete_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "lake")
    store.put_file("b", "s/d/data.parquet", source(tmp_path, "one", b"1" * 10))
    info = store.put_file("b", "s/d/data.parquet", source(tmp_path, "two", b"2" * 20))
    assert info.size == 20
    assert (tmp_path / "lake/b/s/d/data.parquet").read_bytes() == b"2" * 20
    assert [p.name for p in (tmp_path / "lake/b/s/d").iterdir()] == ["data.parquet"]


def test_create_only_never_overwrites(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "lake")
    store.put_file("b", "raw/x.json", source(tmp_path, "a", b"first"), create_only=True)
    with pytest.raises(ObjectExistsError):
        store.put_file("b", "raw/x.json", source(tmp_path, "b", b"second"), create_only=True)
    assert (tmp_path / "lake/b/raw/x.json").read_bytes() == b"first"
    assert [p.name for p in (tmp_path / "lake/b/raw").iterdir()] == ["x.json"]


def test_listing_is_in_key_order_and_skips_temp_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "lake")
    for key in ["p/z.json", "p/a/b.json", "p/a.json", "q/x.json", "pz.json"]:
        store.put_file("b", key, source(tmp_path, "f", b"x"))
    (tmp_path / "lake/b/p/.tmp-half-written").write_bytes(b"partial")
    assert [o.key for o in store.list("b", "p/")] == ["p/a.json", "p/a/b.json", "p/z.json"]
    assert [o.key for o in store.list("b", "p")] == [
        "p/a.json",
        "p/a/b.json",
        "p/z.json",
        "pz.json",
    ]
    assert list(store.list("missing-bucket", "")) == []


@pytest.mark.parametrize("key", ["../gold/x", "a/../../x", "/abs", "a//b", ".tmp-x/y", ""])
def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalObjectStore(tmp_path / "lake")
    with pytest.raises(ValueError):
        store.put_file("b", key, source(tmp_path, "f", b"x"))
    assert not (tmp_path / "gold").exists()


def test_info_finds_exactly_the_key(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "lake")
    put = store.put_file("b", "s/d/data.parquet", source(tmp_path, "f", b"12345"))
    store.put_file("b", "s/d/data.parquet.bak", source(tmp_path, "g", b"x"))
    assert store.info("b", "s/d/data.parquet") == put
    assert store.info("b", "s/d/data") is None and store.info("b", "s/d") is None
    assert store.exists("b", "s/d/data.parquet") and not store.exists("b", "s/d/data")
