"""The notebook entry point: ``hideseek.audit(model, data, masks=..., spec=...)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hideseek.errors import HideseekError
from hideseek.models.loaders import resolve_model
from hideseek.models.spec import ModelSpec
from hideseek.runtime import Runtime

__all__ = ["audit"]


def audit(model: Any, data: Any, masks: str | Path | None = None, *,
          spec: ModelSpec | dict[str, Any] | None = None, split: str = "test",
          runtime: Runtime | None = None, n_boot: int = 1000, batch_size: int = 32,
          cache_dir: str | Path | None = None, **kw: Any) -> dict[str, Any]:
    """Audit any model on every representation of a test set (no retraining).

    Args:
        model: An in-memory ``nn.Module``, a callable returning probabilities (N x K) of a
            prepared batch, a :class:`~hideseek.models.ModelAdapter`, or anything ``hideseek
            audit --model`` takes (a path, ``torchvision:NAME``...).
        data: A dataset folder (or a :class:`~hideseek.data.manifest.CXRDataset`).
        masks: Lung masks folder (default: the dataset's ``masks/``).
        spec: The model spec (a :class:`~hideseek.models.ModelSpec` or its fields as a dict):
            required for foreign models, whose class order is never guessed.
        kw: Passed on to :func:`hideseek.classification.audit.audit`
            (``representations``, ``on_bad_mask``...).

    Returns:
        The result ``hideseek audit --json`` writes.
    """
    from hideseek.classification.audit import audit as audit_model
    from hideseek.data import load_dataset
    from hideseek.data.manifest import CXRDataset

    if isinstance(spec, dict):
        spec = ModelSpec(**spec)
    adapter = resolve_model(model, spec)
    dataset = data if isinstance(data, CXRDataset) else load_dataset(data)
    mdir = masks if masks is not None else dataset.masks_dir
    if mdir is None:
        raise HideseekError(f"{dataset.root}: the audit needs lung masks (masks=...)")
    # the real path (not None): its folder's splits.csv picks the test split, and errors
    # name the model file
    path = model if isinstance(model, str | Path) else None
    result, _ = audit_model(path, dataset, mdir, split=split, runtime=runtime,
                            batch_size=batch_size, n_boot=n_boot, cache_dir=cache_dir,
                            adapter=adapter, **kw)
    return result
