"""No stale results: content hashes of each protocol stage's inputs, and what was reused.

Every stage output (cells' ``cell.json``, audits, CAM, probe, ``environment.json``) carries a
``hash`` of exactly what that stage depends on (the relevant config, the data and masks by
content, the code fingerprint). A rerun reuses an output only on an exact match and redoes it
otherwise; :class:`Freshness` records which were reused and which redone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hideseek.data.hashing import code_fingerprint, content_hash
from hideseek.data.manifest import CXRDataset

__all__ = ["Freshness", "InputHashes", "input_hashes", "read_stamped", "stage_hash"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputHashes:
    """Content hashes of a run's inputs.

    Attributes:
        data: The manifest / split files and every image, by content.
        masks: Every mask file, by name and content.
        code: :func:`~hideseek.data.hashing.code_fingerprint`.
    """

    data: str
    masks: str
    code: str


@dataclass
class Freshness:
    """Which stage outputs a run reused and which it (re)computed."""

    reused: list[str] = field(default_factory=list)
    redone: list[str] = field(default_factory=list)

    def note(self, name: str, reused: bool) -> None:
        """Record (and log) one output as reused or redone."""
        (self.reused if reused else self.redone).append(name)
        log.info("%s: %s", name, "reused (inputs unchanged)" if reused else "redone")


def stage_hash(parts: dict[str, Any]) -> str:
    """SHA-256 (16 hex digits) of a JSON-able description of a stage's inputs."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_stamped(path: Path, expected: str) -> dict[str, Any] | None:
    """The JSON at ``path`` when it exists and carries ``hash == expected``; else None."""
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return found if isinstance(found, dict) and found.get("hash") == expected else None


def _names_digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def input_hashes(data: CXRDataset, index_files: list[Path], masks: Path) -> InputHashes:
    """Hash the data (index files + images in record order, names included) and the masks."""
    h = hashlib.sha256()
    for f in index_files:
        if f.is_file():
            h.update(f.read_bytes() + b"\0")
    h.update(_names_digest([r.filename for r in data.records]).encode())
    h.update(content_hash(data.image_path(r) for r in data.records).encode())
    mask_files = sorted(p for p in masks.rglob("*.png") if p.is_file())
    m = hashlib.sha256(_names_digest([p.relative_to(masks).as_posix() for p in mask_files])
                       .encode())
    m.update(content_hash(mask_files).encode())
    return InputHashes(h.hexdigest()[:16], m.hexdigest()[:16], code_fingerprint())
