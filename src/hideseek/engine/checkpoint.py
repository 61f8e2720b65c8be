"""One versioned, atomic, weights-only checkpoint format for every file the engine writes.

Every checkpoint is a plain mapping of tensors, numbers, strings and lists (loadable with
``torch.load(..., weights_only=True)``) carrying ``format_version``. Files written before
versioning (no ``format_version``) read as version 0; a version newer than
:data:`CHECKPOINT_VERSION` is refused with a clear error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from hideseek.errors import HideseekError

__all__ = ["CHECKPOINT_VERSION", "FINISHED_NAME", "STATE_KIND", "STATE_NAME", "atomic_save",
           "check_version", "claim_run_dir", "load_checkpoint_file", "load_training_state",
           "training_finished"]

#: Version of the on-disk format written by this hideseek.
CHECKPOINT_VERSION = 1
#: ``kind`` of the resumable training state (``last.pt``).
STATE_KIND = "hideseek-training-state"
#: The resumable training state of a run folder (optimizer, scaler, history).
STATE_NAME = "last.pt"
#: Written when a run has finished (all epochs or stopped early): its result, so that a resume
#: reports the run without the resumable state, which is then dropped unless kept.
FINISHED_NAME = "finished.json"


def atomic_save(path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (plus ``format_version``) to ``path`` atomically (tmp file + replace).

    A crash while writing leaves the previous file intact, never a truncated one.

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({**payload, "format_version": CHECKPOINT_VERSION}, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def check_version(path: str | Path, ckpt: object) -> int:
    """The format version of a loaded checkpoint (0 before versioning).

    Raises:
        HideseekError: The file was written by a newer hideseek in a format this one cannot read.
    """
    if not isinstance(ckpt, Mapping) or "format_version" not in ckpt:
        return 0
    version = ckpt["format_version"]
    if not isinstance(version, int) or version < 0:
        raise HideseekError(f"{path}: invalid checkpoint format_version {version!r}")
    if version > CHECKPOINT_VERSION:
        raise HideseekError(f"{path}: checkpoint format version {version} is newer than this "
                            f"hideseek reads (up to {CHECKPOINT_VERSION}); upgrade hideseek")
    return version


def load_checkpoint_file(path: str | Path, what: str = "model") -> tuple[Path, Any]:
    """Load a checkpoint safely (``weights_only=True``) on the CPU.

    Args:
        path: A file, or a training folder (its ``best.pt``).
        what: Named in the errors ("segmentation model", ...).

    Returns:
        The resolved file and its content.

    Raises:
        HideseekError: Missing or unreadable file, or a format version newer than this
            hideseek reads (:data:`hideseek.engine.CHECKPOINT_VERSION`).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise HideseekError(f"{path}: {what} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise HideseekError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    check_version(path, ckpt)
    return path, ckpt


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Read a resumable training state (``last.pt``), on the CPU, weights only.

    Raises:
        HideseekError: Missing, unreadable, too new, or not a training state.
    """
    path, state = load_checkpoint_file(path, "training state")
    if not isinstance(state, dict) or not {"model", "optimizer", "epoch"} <= set(state):
        raise HideseekError(f"{path}: not a hideseek training state (model, optimizer, epoch)")
    return state


def training_finished(out: str | Path) -> bool:
    """True when the run in ``out`` finished (:data:`FINISHED_NAME` is there)."""
    return (Path(out) / FINISHED_NAME).is_file()


def claim_run_dir(out: str | Path, resume: bool) -> Path:
    """Create the run folder, refusing to overwrite an earlier run unless resuming.

    Raises:
        HideseekError: ``out`` holds a run (finished, or ``last.pt``) and ``resume`` is False.
    """
    out = Path(out)
    if not resume and training_finished(out):
        raise HideseekError(f"{out} already holds a finished training run (best.pt); choose "
                            "another --out (--resume reports the finished run, training nothing)")
    if (out / STATE_NAME).exists() and not resume:
        raise HideseekError(f"{out} already holds a training run; pass --resume to continue it "
                            "or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out
