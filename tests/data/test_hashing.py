"""Content hashes with a persistent cache, and the code fingerprint."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import time
from pathlib import Path

import pytest

from hideseek.data import hashing
from hideseek.data.hashing import code_fingerprint, content_hash, file_hashes
from hideseek.errors import DataError


def _files(folder: Path, n: int, size: int = 64) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"f{i:04d}.bin"
        p.write_bytes(bytes([i % 256]) * size)
        paths.append(p)
    time.sleep(0.15)  # older than the racy window, so they are cached
    return paths


def test_same_size_edit_with_mtime_restored_is_detected(tmp_path: Path) -> None:
    (p,) = _files(tmp_path / "d", 1)
    cache = tmp_path / "h.sqlite"
    before = content_hash([p], cache=cache)
    st = p.stat()
    time.sleep(0.05)
    p.write_bytes(b"\x7f" * st.st_size)  # same size, other bytes
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns
    after = content_hash([p], cache=cache)
    assert after != before  # ctime moved: the cache entry no longer matches
    assert content_hash([p], cache=cache, verify=True) == after


def test_hash_depends_on_content_and_order_not_names(tmp_path: Path) -> None:
    a, b = _files(tmp_path / "d", 2)
    cache = tmp_path / "h.sqlite"
    copy = tmp_path / "renamed.bin"
    copy.write_bytes(a.read_bytes())
    assert content_hash([a], cache=cache) == content_hash([copy], cache=cache)
    assert content_hash([a, b], cache=cache) != content_hash([b, a], cache=cache)
    with pytest.raises(DataError, match="missing.bin"):
        content_hash([tmp_path / "missing.bin"], cache=cache)


def test_cache_hit_does_not_reread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path / "d", 20)
    cache = tmp_path / "h.sqlite"
    first = content_hash(paths, cache=cache)
    reads: list[Path] = []
    real = hashing._digest_file

    def spy(path: Path) -> str:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(hashing, "_digest_file", spy)
    assert content_hash(paths, cache=cache) == first
    assert reads == []
    paths[3].write_bytes(b"changed")
    assert content_hash(paths, cache=cache) != first
    assert reads == [paths[3].resolve()]  # only the changed file was read


def test_fresh_files_are_hashed_but_not_cached(tmp_path: Path) -> None:
    p = tmp_path / "new.bin"
    p.write_bytes(b"just written")
    cache = tmp_path / "h.sqlite"
    file_hashes([p], cache=cache)
    with sqlite3.connect(cache) as con:
        assert con.execute("SELECT COUNT(*) FROM files").fetchone() == (0,)


def _worker(args: tuple[list[str], str]) -> str:
    paths, cache = args
    return content_hash(paths, cache=cache)


def test_concurrent_writers_do_not_corrupt(tmp_path: Path) -> None:
    paths = [str(p) for p in _files(tmp_path / "d", 120)]
    cache = str(tmp_path / "h.sqlite")
    jobs = [(paths[k * 20 :] + paths[: k * 20], cache) for k in range(6)]
    with mp.get_context("fork").Pool(3) as pool:
        results = pool.map(_worker, jobs)
    expected = [content_hash(p, cache=tmp_path / "other.sqlite")
                for p, _ in jobs]
    assert results == expected
    with sqlite3.connect(cache) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT COUNT(*) FROM files").fetchone() == (120,)


def test_unusable_cache_falls_back(tmp_path: Path) -> None:
    (p,) = _files(tmp_path / "d", 1)
    bad = tmp_path / "not_a_db.sqlite"
    bad.write_bytes(b"garbage" * 100)
    assert content_hash([p], cache=bad) == content_hash([p], cache=tmp_path / "ok.sqlite")


def test_code_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fp = code_fingerprint()
    assert fp.startswith("hideseek ") and " src " in fp
    # The package's files by content: an edit of a source or of package data (weights,
    # templates) changes it, byte-code and documentation do not.
    pkg = tmp_path / "pkg"
    (pkg / "weights").mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    (pkg / "weights" / "model.pt").write_bytes(b"w1")
    monkeypatch.setattr(hashing, "_package_dir", lambda: pkg)
    first = code_fingerprint()
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"cache")
    (pkg / "weights" / "MODEL_CARD.md").write_text("a card\n")
    assert code_fingerprint() == first
    (pkg / "weights" / "model.pt").write_bytes(b"w2")
    second = code_fingerprint()
    assert second != first
    (pkg / "__init__.py").write_text("x = 2\n")
    assert code_fingerprint() not in (first, second)
