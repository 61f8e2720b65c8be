"""Content hashes of data files (with a persistent cache) and a fingerprint of the code.

:func:`content_hash` hashes many files by their bytes. A SQLite cache (WAL mode, safe under
concurrent processes) under :func:`~hideseek.data.cache.default_cache_dir` remembers each file's
SHA-256 keyed by its resolved path, size, mtime, ctime and inode, so rehashing a COVIDx-scale
dataset only reads the files that changed.

What the cache can and cannot see: any rewrite changes the ctime (which, unlike the mtime,
cannot be set back by ``touch`` or ``os.utime``), so a same-size edit with the mtime restored is
still detected; replacing the file changes the inode. Only a change that keeps the path, size,
mtime, ctime and inode (a raw-device edit or a clock set back) goes unseen: pass ``verify=True``
to reread every file.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from hideseek.data.cache import default_cache_dir, file_digest
from hideseek.errors import DataError

__all__ = ["code_fingerprint", "content_hash", "default_hash_cache", "file_hashes", "source_hash"]

log = logging.getLogger(__name__)

_RACY_NS = 100_000_000  # files changed this recently are not cached (same-tick edits)
_SCHEMA = ("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns "
           "INTEGER, ctime_ns INTEGER, inode INTEGER, sha256 TEXT)")


def default_hash_cache() -> Path:
    """The hash cache file: ``<cache dir>/hashes.sqlite``."""
    return default_cache_dir() / "hashes.sqlite"


def _digest_file(path: Path) -> str:
    return file_digest(path, "sha256")


def _connect(cache: Path) -> sqlite3.Connection | None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(cache, timeout=60.0)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(_SCHEMA)
        return con
    except (OSError, sqlite3.Error) as exc:
        log.warning("hash cache %s unusable (%s); hashing without it", cache, exc)
        return None


def _lookup(con: sqlite3.Connection | None, keys: Sequence[tuple[str, int, int, int, int]]
            ) -> dict[str, str]:
    """Cached digests of the keys that match exactly (path, size, mtime, ctime, inode)."""
    if con is None:
        return {}
    found: dict[str, str] = {}
    try:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = con.execute(
                f"SELECT path, size, mtime_ns, ctime_ns, inode, sha256 FROM files WHERE path IN "
                f"({','.join('?' * len(chunk))})", [k[0] for k in chunk]).fetchall()
            wanted = {k[0]: k for k in chunk}
            found.update({r[0]: r[5] for r in rows if tuple(r[:5]) == wanted[r[0]]})
    except sqlite3.Error as exc:
        log.warning("hash cache lookup failed (%s); rehashing", exc)
        return {}
    return found


def _store(con: sqlite3.Connection | None, rows: list[tuple[str, int, int, int, int, str]]
           ) -> None:
    if con is None or not rows:
        return
    try:
        with con:  # one transaction; WAL lets readers and other writers proceed safely
            con.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
    except sqlite3.Error as exc:
        log.warning("hash cache not updated (%s)", exc)


def _key(path: Path) -> tuple[str, int, int, int, int]:
    try:
        resolved = path.resolve(strict=True)
        st = resolved.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot hash, file not readable ({exc.strerror})") from exc
    if not resolved.is_file():
        raise DataError(f"{path}: cannot hash, not a file")
    return str(resolved), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def file_hashes(paths: Iterable[str | Path], *, cache: str | Path | None = None,
                verify: bool = False) -> list[str]:
    """SHA-256 of each file's bytes, in order, through the persistent cache.

    Args:
        paths: The files.
        cache: The SQLite cache file; None for :func:`default_hash_cache`.
        verify: Reread every file (the cache is refreshed, never trusted).

    Raises:
        DataError: A file is missing or unreadable.
    """
    keys = [_key(Path(p)) for p in paths]
    con = _connect(Path(cache) if cache is not None else default_hash_cache())
    try:
        known = {} if verify else _lookup(con, keys)
        fresh: list[tuple[str, int, int, int, int, str]] = []
        out = []
        now = time.time_ns()
        for key in keys:
            digest = known.get(key[0])
            if digest is None:
                digest = known[key[0]] = _digest_file(Path(key[0]))
                if now - max(key[2], key[3]) > _RACY_NS:
                    fresh.append((*key, digest))
            out.append(digest)
        _store(con, fresh)
    finally:
        if con is not None:
            con.close()
    return out


def content_hash(paths: Iterable[str | Path], *, cache: str | Path | None = None,
                 verify: bool = False) -> str:
    """One SHA-256 over the contents of many files, in the order given.

    The names do not enter the hash (a renamed copy hashes the same); the order does, so pass
    the files in a stable order (e.g. a manifest's). See :func:`file_hashes` for the arguments.
    """
    h = hashlib.sha256()
    for digest in file_hashes(paths, cache=cache, verify=verify):
        h.update(digest.encode("ascii") + b"\n")
    return h.hexdigest()


def _package_dir() -> Path:
    import hideseek

    return Path(hideseek.__file__).resolve().parent


def _version() -> str:
    try:
        return metadata.version("hideseek")
    except metadata.PackageNotFoundError:
        import hideseek

        return str(getattr(hideseek, "__version__", "unknown"))


def _decides_results(path: Path) -> bool:
    """Package files that can change a result: sources and package data (the shipped weights,
    the report templates); not byte-code caches or documentation such as the model card."""
    return path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc",
                                                                                      ".md")


def source_hash(parts: Sequence[str] = ()) -> str:
    """Hash of the package's files by content: ``.py`` sources and package data (names
    relative to the package; byte-code and ``.md`` files left out).

    Args:
        parts: Only these subpackages / modules (e.g. ``("engine", "runtime.py")``); all of
            the package when empty.
    """
    package = _package_dir()
    h = hashlib.sha256()
    for root in [package / p for p in parts] or [package]:
        files = sorted(p for p in root.rglob("*") if _decides_results(p)) if root.is_dir() \
            else [root]
        for path in files:
            h.update(path.relative_to(package).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def code_fingerprint() -> str:
    """What code produced a result: ``hideseek <version> src <hash of the package files>``.

    By content, not by git commit: a commit that touches only documentation, tests or
    benchmarks keeps every result, while any edit of the sources, the shipped weights or the
    report templates - committed or not - redoes what depends on them. (The run's
    ``environment.json`` records the git commit separately, as provenance.)
    """
    return f"hideseek {_version()} src {source_hash()}"

