"""Model loaders by kind, looked up by prefix (``torchvision:``, ``timm:``, ``xrv:``, ...).

A new kind is one function and one :func:`register_loader` call. Files are recognised by their
suffix: ``.pt2`` (``torch.export``), ``.onnx``, ``.ts`` / ``.torchscript`` / ``.jit``
(TorchScript); any other file or folder is one of our checkpoints, a plain state dict (with
``arch``) or, failing that, tried as TorchScript.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hideseek.errors import HideseekError
from hideseek.models.adapter import ModelAdapter
from hideseek.models.spec import ModelSpec

__all__ = ["LOADERS", "Loader", "load_model", "register_loader", "resolve_model"]

log = logging.getLogger(__name__)

#: A loader: (the text after the prefix, the spec or None, keyword options) -> adapter.
Loader = Callable[..., ModelAdapter]
LOADERS: dict[str, Loader] = {}

_IMAGENET = {"channels": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def register_loader(prefix: str, fn: Loader) -> None:
    """Make ``prefix:<name>`` (or a file suffix such as ``.onnx``) load through ``fn``."""
    LOADERS[prefix] = fn


def _with_defaults(spec: ModelSpec | None, **defaults: Any) -> ModelSpec:
    """``spec`` with ``defaults`` filling the fields the user did not set."""
    if spec is None:
        return ModelSpec(**defaults)
    values = {**defaults, **spec.model_dump(exclude_unset=True)}
    if "input" in defaults:
        values["input"] = {**defaults["input"], **spec.input.model_dump(exclude_unset=True)}
    return ModelSpec(**values)


def _module_adapter(module: nn.Module, spec: ModelSpec, name: str, **kw: Any) -> ModelAdapter:
    return ModelAdapter.from_module(module, spec, name=name, **kw)


def load_model(source: str | Path, spec: ModelSpec | None = None, **options: Any) -> ModelAdapter:
    """Load any supported model as a :class:`ModelAdapter`.

    Args:
        source: ``torchvision:densenet121``, ``timm:efficientnet_b0``, ``xrv:densenet121-res224-
            all``, ``python:pkg.mod:factory``, or a file / training folder.
        spec: Declared classes, activation, mapping and input (our checkpoints carry their own).
        options: Loader options (``arch`` for plain state dicts, ``pretrained``).

    Raises:
        HideseekError: Unknown kind, unreadable file, undeclared or mismatched classes.
    """
    text = str(source)
    prefix, sep, rest = text.partition(":")
    if sep and prefix in LOADERS and not Path(text).exists():
        return LOADERS[prefix](rest, spec, **options)
    path = Path(text)
    if not path.exists():
        raise HideseekError(f"{path}: model not found (kinds: a file or folder, or "
                            f"{', '.join(k + ':NAME' for k in LOADERS if not k.startswith('.'))})")
    loader = LOADERS.get(path.suffix.lower(), LOADERS[".pt"])
    return loader(str(path), spec, **options)


def _load_torchvision(name: str, spec: ModelSpec | None, pretrained: bool = True,
                      **_: Any) -> ModelAdapter:
    import torchvision

    from hideseek.classification.models.registry import cached_weights

    if name not in torchvision.models.list_models():
        raise HideseekError(f"torchvision has no model {name!r}")
    weights = cached_weights(name) if pretrained else None
    module = torchvision.models.get_model(name, weights=weights)
    classes = None if weights is None else list(weights.meta.get("categories", []))
    spec = _with_defaults(spec, classes=classes, input=_IMAGENET)
    return _module_adapter(module, spec, f"torchvision:{name}")


def _load_timm(name: str, spec: ModelSpec | None, pretrained: bool = False,
               **_: Any) -> ModelAdapter:
    from hideseek.classification.models.registry import import_timm

    timm = import_timm()
    try:
        module = timm.create_model(name, pretrained=pretrained)
    except RuntimeError as exc:
        raise HideseekError(f"timm:{name}: {exc}") from exc
    cfg = getattr(module, "pretrained_cfg", {}) or {}
    size = int(cfg.get("input_size", (3, 224, 224))[-1])
    inp = {**_IMAGENET, "size": size, "mean": list(cfg.get("mean", _IMAGENET["mean"])),
           "std": list(cfg.get("std", _IMAGENET["std"]))}
    return _module_adapter(module, _with_defaults(spec, input=inp), f"timm:{name}")


def _xrv_weights_cached(name: str) -> bool:
    import torchxrayvision as xrv

    url = xrv.models.model_urls[name]["weights_url"]
    return (Path(xrv.utils.get_cache_dir()) / Path(url).name).is_file()


def _load_xrv(name: str, spec: ModelSpec | None, **_: Any) -> ModelAdapter:
    try:
        import torchxrayvision as xrv
    except ImportError as exc:
        raise HideseekError("xrv: models need TorchXRayVision (pip install "
                            "'hideseek[xrv]')") from exc
    if name not in xrv.models.model_urls or not name.startswith("densenet"):
        known = [k for k in xrv.models.model_urls if k.startswith("densenet")]
        raise HideseekError(f"xrv:{name}: unknown; choose from {', '.join(known)}")
    labels = list(xrv.models.model_urls[name]["labels"])
    if _xrv_weights_cached(name):
        module = xrv.models.DenseNet(weights=name)
    else:
        log.warning("xrv:%s: pretrained weights are not in the local TorchXRayVision cache; "
                    "using the architecture with random weights", name)
        module = xrv.models.DenseNet(weights=None, num_classes=len(labels))
    module.op_threshs = None  # calibrated thresholds would change the probabilities' meaning
    inp = {"size": 224, "channels": 1, "range": (-1024.0, 1024.0), "crop_top": 0.0,
           "square": "pad"}
    spec = _with_defaults(spec, classes=labels, activation="sigmoid", input=inp)
    return _module_adapter(module, spec, f"xrv:{name}", native_range=(-1024.0, 1024.0))


def _load_python(target: str, spec: ModelSpec | None, **_: Any) -> ModelAdapter:
    from hideseek.classification.models.registry import import_factory

    module = import_factory(target)()
    if not isinstance(module, nn.Module):
        raise HideseekError(f"python:{target}: the factory returned {type(module).__name__}, "
                            "not an nn.Module")
    return _module_adapter(module, spec or ModelSpec(), f"python:{target}")


def _load_export(path: str, spec: ModelSpec | None, **_: Any) -> ModelAdapter:
    try:
        program = torch.export.load(path)
    except Exception as exc:
        raise HideseekError(f"{path}: not a readable torch.export program ({exc})") from exc
    return _module_adapter(program.module(), spec or ModelSpec(), path)


def _load_torchscript(path: str, spec: ModelSpec | None, **_: Any) -> ModelAdapter:
    try:
        module = torch.jit.load(path, map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise HideseekError(f"{path}: not a readable TorchScript file ({exc})") from exc
    return _module_adapter(module, spec or ModelSpec(), path)


def _load_onnx(path: str, spec: ModelSpec | None, **_: Any) -> ModelAdapter:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise HideseekError(f"{path}: ONNX models need onnxruntime (pip install "
                            "'hideseek[onnx]')") from exc
    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise HideseekError(f"{path}: not a readable ONNX model ({exc})") from exc
    input_name = session.get_inputs()[0].name

    def forward(x: torch.Tensor) -> np.ndarray:
        arr = x.detach().float().cpu().contiguous().numpy()
        return np.asarray(session.run(None, {input_name: arr})[0])

    return ModelAdapter(forward, spec or ModelSpec(), None, name=path,
                        no_module_reason="an ONNX model runs in onnxruntime, forward only, "
                        "and gives no gradients; export the PyTorch model instead")


def _load_checkpoint(path: str, spec: ModelSpec | None, arch: str | None = None,
                     **_: Any) -> ModelAdapter:
    from hideseek.classification.checkpoint import load_classifier

    if Path(path).is_file() and zipfile.is_zipfile(path) and _is_torchscript(path):
        return _load_torchscript(path, spec)
    model, meta = load_classifier(path, arch, spec=spec)
    return ModelAdapter.from_module(model, meta["spec"], name=str(path), native_range=(0., 1.),
                                    meta=meta)


def _is_torchscript(path: str) -> bool:
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("constants.pkl") for n in zf.namelist())


_BUILTIN: dict[str, Loader] = {
    "torchvision": _load_torchvision, "timm": _load_timm, "xrv": _load_xrv,
    "python": _load_python, ".pt2": _load_export, ".onnx": _load_onnx,
    ".ts": _load_torchscript, ".torchscript": _load_torchscript, ".jit": _load_torchscript,
    ".pt": _load_checkpoint}
for _prefix, _fn in _BUILTIN.items():
    register_loader(_prefix, _fn)


def resolve_model(model: Any, spec: ModelSpec | None = None, arch: str | None = None,
                  **options: Any) -> ModelAdapter:
    """Any model as an adapter: an adapter (as is), a path or ``kind:name`` string
    (:func:`load_model`), an in-memory ``nn.Module`` or a callable returning probabilities.

    Raises:
        HideseekError: A foreign model (module or callable) without a spec declaring its
            class order, or anything :func:`load_model` refuses.
    """
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, str | Path):
        return load_model(model, spec, arch=arch, **options)
    if isinstance(model, nn.Module):
        return ModelAdapter.from_module(model, spec or ModelSpec(), name=type(model).__name__)
    if callable(model):
        base = spec or ModelSpec()
        if spec is None or "activation" not in spec.model_fields_set:
            base = base.model_copy(update={"activation": "probabilities"})
        return ModelAdapter(model, base, None, name=getattr(model, "__name__", "callable"),
                            no_module_reason="a plain callable has no layers to hook")
    raise HideseekError(f"cannot use a {type(model).__name__} as a model")
