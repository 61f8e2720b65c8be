"""A disk cache of preprocessed images, so training epochs never decode full-size files again."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from hideseek.data.io import DEFAULT_INTENSITY, read_image, read_mask
from hideseek.data.preprocess import Preprocess

__all__ = ["PreprocessCache", "default_cache_dir", "file_digest"]


def default_cache_dir() -> Path:
    """``$HIDESEEK_CACHE``, else ``$XDG_CACHE_HOME/hideseek``, else ``~/.cache/hideseek``."""
    env = os.environ.get("HIDESEEK_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hideseek"


def file_digest(path: Path, algorithm: str = "sha1") -> str:
    """SHA-1 (or another ``hashlib`` algorithm) of a file's bytes, read in 1 MiB chunks (the
    cache key: renamed or copied files share entries)."""
    h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class PreprocessCache:
    """Preprocessed images and masks stored as ``.npy`` files keyed by content and parameters.

    Images are stored as uint16 (lossless for 8-bit sources, 1/65535 steps otherwise), masks as
    uint8. Writes are atomic, so parallel data-loader workers and interrupted runs are safe.

    Args:
        preprocess: The preprocessing applied before storing.
        cache_dir: Root folder; None disables the disk cache (every call decodes: the baseline).
    """

    def __init__(self, preprocess: Preprocess, cache_dir: str | Path | None = None) -> None:
        self.preprocess = preprocess
        # The intensity policy decides the decoded values: a change of policy is a new cache.
        policy = hashlib.sha1(DEFAULT_INTENSITY.describe().encode()).hexdigest()[:8]
        self.cache_dir = (None if cache_dir is None
                          else Path(cache_dir) / f"{preprocess.key}-i{policy}")
        self._digests: dict[Path, str] = {}

    def _entry(self, path: Path, kind: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = self._digests.get(path)
        if digest is None:
            digest = self._digests[path] = file_digest(path)
        return self.cache_dir / kind / digest[:2] / f"{digest}.npy"

    def _store(self, entry: Path, arr: np.ndarray) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, arr)
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def image(self, path: str | Path) -> np.ndarray:
        """The preprocessed image (float32 in [0, 1], ``size`` x ``size``)."""
        path = Path(path)
        entry = self._entry(path, "image")
        if entry is not None and entry.is_file():
            return np.load(entry).astype(np.float32) / 65535.0
        stored = np.round(self.preprocess(read_image(path)) * 65535.0).astype(np.uint16)
        if entry is not None:
            self._store(entry, stored)
        # Always return the stored precision, so a cold and a warm cache give identical runs.
        return stored.astype(np.float32) / 65535.0

    def mask(self, path: str | Path, image_shape: tuple[int, int] | None = None) -> np.ndarray:
        """The preprocessed lung mask (bool), aligned with :meth:`image` of its image.

        Args:
            path: The mask file.
            image_shape: The full-size image's (height, width); checked on first read.
        """
        path = Path(path)
        entry = self._entry(path, "mask")
        if entry is not None and entry.is_file():
            return np.load(entry).astype(bool)
        out = self.preprocess(read_mask(path, image_shape))
        if entry is not None:
            self._store(entry, out.astype(np.uint8))
        return out
