"""The run's cache of loaded models: every checkpoint is read from disk once per run.

The protocol's later stages (audit, Grad-CAM numbers, Fig. 3) all use the cells' trained
models; :class:`ModelCache` loads each one the first time a stage asks for it and hands the
same object to the others. The files stay the record for resuming.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from hideseek.classification import checkpoint
from hideseek.models.adapter import ModelAdapter
from hideseek.models.architectures import Classifier
from hideseek.models.spec import ModelSpec

__all__ = ["ModelCache"]

log = logging.getLogger(__name__)


def _key(path: str | Path) -> Path:
    """One key per checkpoint file (a training folder means its ``best.pt``)."""
    p = Path(path)
    return (p / "best.pt" if p.is_dir() else p).resolve()


class ModelCache:
    """Loaded classifiers and their adapters, keyed by checkpoint file.

    Attributes:
        loads: How many times each checkpoint was read from disk (1 at most).
    """

    def __init__(self) -> None:
        self._models: dict[Path, tuple[Classifier, dict[str, Any]]] = {}
        self._adapters: dict[Path, ModelAdapter] = {}
        self._foreign: dict[tuple[str, str, str | None], ModelAdapter] = {}
        self.loads: dict[Path, int] = {}

    def classifier(self, path: str | Path) -> tuple[Classifier, dict[str, Any]]:
        """The model (eval mode) and metadata of ``path``, as ``load_classifier`` returns them."""
        key = _key(path)
        if key not in self._models:
            log.debug("loading %s", key)
            self._models[key] = checkpoint.load_classifier(key)
            self.loads[key] = self.loads.get(key, 0) + 1
        model, meta = self._models[key]
        return model.eval(), meta

    def adapter(self, path: str | Path) -> ModelAdapter:
        """The model of ``path`` (one of our checkpoints) behind the model adapter."""
        key = _key(path)
        if key not in self._adapters:
            model, meta = self.classifier(key)
            self._adapters[key] = ModelAdapter.from_module(
                model, meta["spec"], name=str(key), native_range=(0.0, 1.0), meta=meta)
        return self._adapters[key]

    def resolve(self, source: str | Path, spec: ModelSpec | None = None,
                arch: str | None = None) -> ModelAdapter:
        """Any model :func:`~hideseek.models.resolve_model` takes (a training folder, a file,
        ``torchvision:NAME``...), loaded once per (source, spec, arch)."""
        from hideseek.models.loaders import resolve_model

        file = _key(source) if Path(source).exists() else None
        key = (str(file or source), "" if spec is None else spec.model_dump_json(), arch)
        if key not in self._foreign:
            log.debug("loading %s", source)
            self._foreign[key] = resolve_model(source, spec, arch)
            if file is not None:
                self.loads[file] = self.loads.get(file, 0) + 1
        return self._foreign[key]

    def loader(self, *, spec: ModelSpec | None = None,
               arch: str | None = None) -> Callable[[str | Path], ModelAdapter]:
        """:meth:`resolve` with ``spec`` and ``arch`` bound (the ``load`` of ``run_cam``)."""
        return partial(self.resolve, spec=spec, arch=arch)
