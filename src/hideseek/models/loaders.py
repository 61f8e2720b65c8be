"""Model loaders by kind, looked up by prefix (``torchvision:``, ``timm:``, ``xrv:``, ...).

A new kind is one function and one :func:`register_loader` call. Files are recognised by their
suffix: ``.pt2`` (``torch.export``), ``.onnx``, ``.ts`` / ``.torchscript`` / ``.jit``
(TorchScript); any other file or folder is one of our checkpoints, a plain state dict (with
``arch``) or, failing that, tried as TorchScript.
"""

from __future__ import annotations

import inspect
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from torch import nn

from hideseek.errors import HideseekError
from hideseek.models.adapter import ModelAdapter
from hideseek.models.foreign import (
    cached_weights,
    import_factory,
    import_timm,
    replace_last_linear,
    timm_cached,
)
from hideseek.models.inputs import (
    ModelInput,
    onnx_input,
    resolve_input,
    timm_input,
    torchvision_input,
    warn_random_weights,
)
from hideseek.models.spec import ModelSpec, listed

__all__ = ["LOADERS", "XRV_INPUT", "Loader", "adapt", "load_model", "register_loader",
           "resolve_model"]

log = logging.getLogger(__name__)

#: A loader: (the text after the prefix, the spec or None, keyword options) -> adapter.
Loader = Callable[..., ModelAdapter]
LOADERS: dict[str, Loader] = {}


def register_loader(prefix: str, fn: Loader) -> None:
    """Make ``prefix:<name>`` (or a file suffix such as ``.onnx``) load through ``fn``."""
    LOADERS[prefix] = fn


def _with_defaults(spec: ModelSpec | None, **defaults: Any) -> ModelSpec:
    """``spec`` with ``defaults`` filling the top-level fields the user did not set (the input
    is :func:`~hideseek.models.inputs.resolve_input`'s)."""
    if spec is None:
        return ModelSpec(**defaults)
    return ModelSpec(**{**defaults, **spec.model_dump(exclude_unset=True)})


def adapt(module: nn.Module | None, spec: ModelSpec | None, name: str, *,
          own: ModelInput | None = None, defaults: dict[str, Any] | None = None,
          forward: Callable[[torch.Tensor], Any] | None = None, **kw: Any) -> ModelAdapter:
    """The adapter of a loaded model, its input resolved by
    :func:`~hideseek.models.inputs.resolve_input` (declared, the model's own, defaults).

    Args:
        module: The PyTorch module (None: ``forward`` runs it, e.g. ONNX).
        spec: The declared spec.
        name: Shown in messages.
        own: What the model says of its input (default: read from ``module``).
        defaults: The loader's input defaults.
        forward: Runs the prepared batch when there is no module.
        kw: :class:`ModelAdapter` options (``native_range``, ``meta``, ``no_module_reason``).
    """
    spec = spec or ModelSpec()
    inp, why = resolve_input(module, spec, defaults, own=own, name=name)
    spec = spec.model_copy(update={"input": inp})
    if module is not None:
        adapter = ModelAdapter.from_module(module, spec, name=name, **kw)
    else:
        assert forward is not None
        adapter = ModelAdapter(forward, spec, None, name=name, **kw)
    adapter.input_provenance = why
    return adapter


def _no_arch(name: str, arch: str | None) -> None:
    """``--arch`` names the architecture of a plain state dict: anything else refuses it."""
    if arch is not None:
        raise HideseekError(f"{name}: --arch ({arch}) applies to a plain state dict only; "
                            "leave it out")


def _outputs(module: nn.Module) -> int | None:
    """The number of outputs of a classifier's head (its last ``nn.Linear``), or None."""
    n = getattr(module, "num_classes", None)  # timm
    if isinstance(n, int) and n > 0:
        return n
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return int(linears[-1].out_features) if linears else None


def _set_head(module: nn.Module, spec: ModelSpec | None, name: str, weights: str | None) -> bool:
    """Give a model built by name ``spec.num_classes`` outputs (a new head unless it has them
    already); refuse a declared class list its head cannot give. True when the head is new.

    Args:
        weights: What the rest of the model holds (said in the random-weights warning of a new
            head); None: random weights, already said.
    """
    n = spec.num_classes if spec is not None else None
    have = _outputs(module)
    new = n is not None and have != n
    if new:
        assert n is not None
        reset = getattr(module, "reset_classifier", None)
        if callable(reset):
            reset(n)
        else:
            replace_last_linear(module, n)
        if weights is not None:
            warn_random_weights(name, f"a new {n}-output head on {weights}")
        have = n
    classes = spec.classes if spec is not None else None
    if classes is not None and have is not None and have != len(classes):
        k = len(classes)
        raise HideseekError(f"{name} has {have} outputs but the spec declares {k} classes "
                            f"({listed(classes)}): --num-classes {k} (num_classes: {k} in the "
                            f"spec) gives it a new {k}-output head (random weights, as for "
                            f"training), or declare its {have} output names")
    return new


def load_model(source: str | Path, spec: ModelSpec | None = None, **options: Any) -> ModelAdapter:
    """Load any supported model as a :class:`ModelAdapter`.

    Args:
        source: ``torchvision:densenet121``, ``timm:efficientnet_b0``, ``xrv:densenet121-res224-
            all``, ``python:pkg.mod:factory``, or a file / training folder.
        spec: Declared classes, activation, mapping, ``num_classes`` and input (our checkpoints
            carry their own: a declared field that differs is refused).
        options: Loader options (``arch`` for plain state dicts, ``pretrained``).

    Raises:
        HideseekError: Unknown kind, unreadable file, undeclared or mismatched classes, an
            option or a spec field that cannot apply to this kind.
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
                      arch: str | None = None, **_: Any) -> ModelAdapter:
    label = f"torchvision:{name}"
    _no_arch(label, arch)
    if name not in torchvision.models.list_models():
        raise HideseekError(f"torchvision has no model {name!r}")
    weights = cached_weights(name) if pretrained else None
    if weights is None:
        warn_random_weights(label, "no ImageNet weights in the local torch cache" if pretrained
                            else "pretrained=False")
    module = torchvision.models.get_model(name, weights=weights)
    new_head = _set_head(module, spec, label, None if weights is None else "its ImageNet weights")
    classes = None if weights is None or new_head else list(weights.meta.get("categories", []))
    return adapt(module, _with_defaults(spec, classes=classes), label,
                 own=torchvision_input(name))


def _load_timm(name: str, spec: ModelSpec | None, pretrained: bool = True,
               arch: str | None = None, **_: Any) -> ModelAdapter:
    label = f"timm:{name}"
    _no_arch(label, arch)
    timm = import_timm()
    use = pretrained and timm_cached(name)
    if not use:
        warn_random_weights(label, "no pretrained weights in the local Hugging Face cache"
                            if pretrained else "pretrained=False")
    try:
        module = timm.create_model(name, pretrained=use)
    except RuntimeError as exc:
        raise HideseekError(f"{label}: {exc}") from exc
    _set_head(module, spec, label, "its pretrained weights" if use else None)
    return adapt(module, spec, label, own=timm_input(module))


def _xrv_weights_cached(name: str) -> bool:
    import torchxrayvision as xrv

    url = xrv.models.model_urls[name]["weights_url"]
    return (Path(xrv.utils.get_cache_dir()) / Path(url).name).is_file()


#: TorchXRayVision's preprocessing: 1 channel, [-1024, 1024], 224 px, padded to a square.
XRV_INPUT = {"size": 224, "channels": 1, "range": (-1024.0, 1024.0), "mean": None, "std": None,
             "crop_top": 0.0, "square": "pad"}


def _load_xrv(name: str, spec: ModelSpec | None, arch: str | None = None,
              **_: Any) -> ModelAdapter:
    try:
        import torchxrayvision as xrv
    except ImportError as exc:
        raise HideseekError("xrv: models need TorchXRayVision (pip install "
                            "'hideseek[xrv]')") from exc
    label = f"xrv:{name}"
    _no_arch(label, arch)
    if name not in xrv.models.model_urls or not name.startswith("densenet"):
        known = [k for k in xrv.models.model_urls if k.startswith("densenet")]
        raise HideseekError(f"xrv:{name}: unknown; choose from {', '.join(known)}")
    labels = list(xrv.models.model_urls[name]["labels"])
    if spec is not None and spec.num_classes not in (None, len(labels)):
        raise HideseekError(f"{label}: its {len(labels)} outputs are fixed (its findings); "
                            f"num_classes {spec.num_classes} cannot apply: leave it out")
    if _xrv_weights_cached(name):
        module = xrv.models.DenseNet(weights=name)
    else:
        warn_random_weights(label, "its weights are not in the local TorchXRayVision cache")
        module = xrv.models.DenseNet(weights=None, num_classes=len(labels))
    module.op_threshs = None  # calibrated thresholds would change the probabilities' meaning
    spec = _with_defaults(spec, classes=labels, activation="sigmoid")
    return adapt(module, spec, label, own=ModelInput(XRV_INPUT, "TorchXRayVision's "
                                                     "preprocessing"),
                 native_range=(-1024.0, 1024.0))


def _load_python(target: str, spec: ModelSpec | None, arch: str | None = None,
                 **_: Any) -> ModelAdapter:
    label = f"python:{target}"
    _no_arch(label, arch)
    fn = import_factory(target)
    n = spec.num_classes if spec is not None else None
    takes_n = n is not None and "num_classes" in inspect.signature(fn).parameters
    module = fn(num_classes=n) if takes_n else fn()
    if not isinstance(module, nn.Module):
        raise HideseekError(f"{label}: the factory returned {type(module).__name__}, "
                            "not an nn.Module")
    _set_head(module, spec, label, "the factory's weights")
    return adapt(module, spec, label)


def _load_export(path: str, spec: ModelSpec | None, arch: str | None = None,
                 **_: Any) -> ModelAdapter:
    _no_arch(path, arch)
    try:
        program = torch.export.load(path)
    except Exception as exc:
        raise HideseekError(f"{path}: not a readable torch.export program ({exc})") from exc
    return adapt(program.module(), spec, path)


def _load_torchscript(path: str, spec: ModelSpec | None, arch: str | None = None,
                      **_: Any) -> ModelAdapter:
    _no_arch(path, arch)
    try:
        module = torch.jit.load(path, map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise HideseekError(f"{path}: not a readable TorchScript file ({exc})") from exc
    return adapt(module, spec, path)


def _load_onnx(path: str, spec: ModelSpec | None, arch: str | None = None,
               **_: Any) -> ModelAdapter:
    _no_arch(path, arch)
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

    return adapt(None, spec, path, own=onnx_input(session), forward=forward,
                 no_module_reason="an ONNX model runs in onnxruntime, forward only, "
                 "and gives no gradients; export the PyTorch model instead")


def _load_checkpoint(path: str, spec: ModelSpec | None, arch: str | None = None,
                     **_: Any) -> ModelAdapter:
    from hideseek.classification.checkpoint import load_classifier

    if Path(path).is_file() and zipfile.is_zipfile(path) and _is_torchscript(path):
        return _load_torchscript(path, spec, arch)
    model, meta = load_classifier(path, arch, spec=spec)
    adapter = ModelAdapter.from_module(model, meta["spec"], name=str(path), native_range=(0., 1.),
                                       meta=meta)
    adapter.input_provenance = meta.get("input_provenance", "")
    return adapter


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

    The input of a module or a callable is resolved like every loader's
    (:func:`~hideseek.models.inputs.resolve_input`): the declared fields, then the module's
    first convolution (3 channels: ImageNet mean / std), then the defaults.

    Raises:
        HideseekError: A foreign model (module or callable) without a spec declaring its
            class order, or anything :func:`load_model` refuses.
    """
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, str | Path):
        return load_model(model, spec, arch=arch, **options)
    if isinstance(model, nn.Module):
        return adapt(model, spec, type(model).__name__)
    if callable(model):
        base = spec or ModelSpec()
        if spec is None or "activation" not in spec.model_fields_set:
            base = base.model_copy(update={"activation": "probabilities"})
        return adapt(None, base, getattr(model, "__name__", "callable"), forward=model,
                     no_module_reason="a plain callable has no layers to hook")
    raise HideseekError(f"cannot use a {type(model).__name__} as a model")
