"""One procedure for the input a model expects, whatever its kind.

:func:`resolve_input` fills each field of :class:`~hideseek.models.spec.InputSpec` from, in
order:

1. the declared spec (a ``model.yaml``, the ``--input-*`` flags, ``spec=`` in a notebook):
   only the fields the user set;
2. what the model says of itself (:class:`ModelInput`): the spec a hideseek checkpoint carries,
   TorchXRayVision's preprocessing, torchvision weights' ``transforms()``, timm's
   ``pretrained_cfg``, an exported program's or ONNX graph's input shape, else the first
   convolution's input channels (3: ImageNet mean / std; 1: the grey image in [0, 1]);
3. the loader's defaults, then :class:`~hideseek.models.spec.InputSpec`'s documented ones.

It logs one line saying what was chosen and why; :func:`warn_random_weights` is the one
warning of every loader that ends with random weights.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from hideseek.errors import HideseekError
from hideseek.models.spec import InputSpec, ModelSpec

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ModelInput", "channel_input", "describe_input",
           "first_conv_channels", "module_input", "onnx_input", "resolve_input", "timm_input",
           "torchvision_input", "warn_random_weights"]

log = logging.getLogger(__name__)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

_FIELDS = tuple(InputSpec.model_fields)


@dataclass(frozen=True)
class ModelInput:
    """What a model says of its own input.

    Attributes:
        fields: :class:`~hideseek.models.spec.InputSpec` fields.
        reason: Where they come from, in words ("its first convolution takes 3 channels").
        fixed: The model takes no other input (a hideseek checkpoint, our grey wrapper): a
            declared field that differs is an error, not an override.
    """

    fields: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    fixed: bool = False


def warn_random_weights(name: str, why: str = "no pretrained weights in the local cache") -> None:
    """The one warning of every loader that ends with random weights."""
    log.warning("%s: random weights (%s): its outputs mean nothing unless you load trained "
                "weights", name, why)


def channel_input(channels: int, reason: str, **extra: Any) -> ModelInput:
    """The convention for a model that says only its channel count: 3 channels take the
    ImageNet mean / std, 1 channel the grey image in [0, 1]."""
    if channels == 3:
        return ModelInput({"channels": 3, "mean": IMAGENET_MEAN, "std": IMAGENET_STD, **extra},
                          f"{reason} (3 channels: ImageNet mean / std)")
    return ModelInput({"channels": 1, "range": (0.0, 1.0), "mean": None, "std": None, **extra},
                      f"{reason} (1 channel: the grey image in [0, 1])")


def _is_wrapper(module: nn.Module) -> bool:
    """hideseek's :class:`~hideseek.models.architectures.Classifier` (also traced):
    it takes the grey image and replicates / normalises it itself."""
    name = getattr(module, "original_name", type(module).__name__)
    return name == "Classifier" and hasattr(module, "backbone")


def first_conv_channels(module: nn.Module) -> int | None:
    """Input channels of the first 2-D convolution (a TorchScript one too), or None."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            return int(m.in_channels)
        weight = getattr(m, "weight", None)
        if getattr(m, "original_name", None) == "Conv2d" and isinstance(weight, torch.Tensor):
            return int(weight.shape[1]) * int(getattr(m, "groups", 1))
    return None


def _exported_shape(module: nn.Module) -> tuple[Any, ...] | None:
    """The input shape a ``torch.export`` program was exported with (None: not one; a
    TorchScript module's graph is no ``torch.fx`` graph and says nothing of it)."""
    graph = getattr(module, "graph", None)
    if not isinstance(graph, torch.fx.Graph):
        return None
    for node in graph.nodes:
        if node.op == "placeholder" and "val" in node.meta:
            return tuple(node.meta["val"].shape)
    return None


def _from_shape(shape: tuple[Any, ...], what: str) -> ModelInput | None:
    """Channels (and size, when square and fixed) of an N x C x H x W input shape."""
    if len(shape) != 4 or not isinstance(shape[1], int) or shape[1] not in (1, 3):
        return None
    extra: dict[str, Any] = {}
    h, w = shape[2], shape[3]
    if isinstance(h, int) and h == w and h >= 8:
        extra["size"] = h
    shown = " x ".join(str(s) if isinstance(s, int) else "?" for s in shape[1:])
    return channel_input(shape[1], f"{what} input shape ({shown})", **extra)


def module_input(module: nn.Module) -> ModelInput | None:
    """What a PyTorch module says of its input: our grey wrapper, an exported program's input
    shape, else the first convolution's channels (:func:`channel_input`)."""
    if _is_wrapper(module):
        return ModelInput({"channels": 1, "range": (0.0, 1.0), "mean": None, "std": None},
                          "hideseek's wrapper takes the grey image in [0, 1] and replicates / "
                          "normalises it itself", fixed=True)
    shape = _exported_shape(module)
    if shape is not None:
        found = _from_shape(shape, "the exported program's")
        if found is not None:
            return found
    channels = first_conv_channels(module)
    if channels not in (1, 3):
        return None
    return channel_input(int(channels), f"its first convolution takes {channels} channel"
                         + ("s" if channels != 1 else ""))


def torchvision_input(name: str) -> ModelInput | None:
    """torchvision's default weights' ``transforms()`` of model ``name`` (their crop size and
    mean / std; read without downloading anything), or None when it has no weights."""
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        t = weights.transforms()
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    crop = getattr(t, "crop_size", None)
    fields: dict[str, Any] = {"channels": 3, "mean": list(getattr(t, "mean", IMAGENET_MEAN)),
                              "std": list(getattr(t, "std", IMAGENET_STD))}
    if crop:
        fields["size"] = int(crop[0])
    return ModelInput(fields, f"the transforms() of torchvision's {weights}")


def timm_input(module: nn.Module) -> ModelInput | None:
    """A timm model's ``pretrained_cfg`` (input size, mean / std), or None without one."""
    cfg = getattr(module, "pretrained_cfg", None) or {}
    if not cfg:
        return None
    shape = tuple(cfg.get("input_size", (3, 224, 224)))
    fields: dict[str, Any] = {"channels": 3 if shape[0] == 3 else 1, "size": int(shape[-1])}
    if "mean" in cfg and "std" in cfg and len(cfg["mean"]) == fields["channels"]:
        fields.update(mean=list(cfg["mean"]), std=list(cfg["std"]))
    return ModelInput(fields, "timm's pretrained_cfg")


def onnx_input(session: Any) -> ModelInput | None:
    """The channels (and size) of an onnxruntime session's first input, or None."""
    shape = tuple(session.get_inputs()[0].shape)
    return _from_shape(shape, "the ONNX graph's")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(float(x) == float(y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _shown(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v) + "]"
    return str(v)


def describe_input(inp: InputSpec) -> str:
    """``224 px, 3 channels, ImageNet mean / std`` (the salient fields, in words)."""
    parts = [f"{inp.size} px", f"{inp.channels} channel" + ("s" if inp.channels != 1 else "")]
    if inp.range != (0.0, 1.0):
        parts.append(f"range [{inp.range[0]:g}, {inp.range[1]:g}]")
    if inp.mean is not None and _same(inp.mean, IMAGENET_MEAN) and inp.std is not None \
            and _same(inp.std, IMAGENET_STD):
        parts.append("ImageNet mean / std")
    elif inp.mean is not None or inp.std is not None:
        parts.append(f"mean {_shown(inp.mean)} / std {_shown(inp.std)}")
    elif inp.range == (0.0, 1.0):
        parts.append("grey in [0, 1]")
    return ", ".join(parts)


def _declared(declared: ModelSpec | InputSpec | None) -> dict[str, Any]:
    if declared is None:
        return {}
    inp = declared.input if isinstance(declared, ModelSpec) else declared
    return inp.model_dump(exclude_unset=True)


def resolve_input(module: nn.Module | None, declared: ModelSpec | InputSpec | None = None,
                  defaults: Mapping[str, Any] | None = None, *, own: ModelInput | None = None,
                  name: str = "model") -> tuple[InputSpec, str]:
    """The input a model expects, field by field: declared, then the model's own, then
    ``defaults``, then :class:`~hideseek.models.spec.InputSpec`'s.

    Args:
        module: The PyTorch module (None: ONNX, a callable); read (:func:`module_input`) when
            ``own`` is None.
        declared: The user's spec; only the fields set count.
        defaults: The loader's defaults.
        own: What the model says of itself (overrides reading ``module``).
        name: The model, in messages.

    Returns:
        The input and, in words, where each field came from (also logged as one line).

    Raises:
        HideseekError: A declared field that a ``fixed`` model cannot take, or an invalid
            combination (the spec's message).
    """
    mine = _declared(declared)
    if own is None and module is not None:
        own = module_input(module)
    theirs = dict(own.fields) if own is not None else {}
    if own is not None and own.fixed:
        clash = [k for k, v in mine.items() if k in theirs and not _same(v, theirs[k])]
        if clash:
            given = ", ".join(f"input.{k} {_shown(mine[k])} (it takes {_shown(theirs[k])})"
                              for k in clash)
            flags = " / ".join(f"--input-{k.replace('_', '-')}" for k in clash)
            raise HideseekError(f"{name}: {own.reason}, so the declared {given} cannot apply; "
                                f"leave out {flags} (or those input fields of the spec)")
    # mean / std belong to the channel count: a declared count the model does not take drops
    # the model's normalisation
    if "channels" in mine and "channels" in theirs and mine["channels"] != theirs["channels"]:
        theirs = {k: v for k, v in theirs.items() if k not in ("channels", "mean", "std")}
        if own is not None and module is not None and not own.fixed:
            log.warning("%s: the spec declares %d input channel(s) but %s: it will probably "
                        "fail or see the wrong input; check input.channels", name,
                        mine["channels"], own.reason.split(" (")[0])
    defaults = dict(defaults or {})
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for key in _FIELDS:
        for where, fields in (("the spec", mine), (own.reason if own else "", theirs),
                              ("the loader's defaults", defaults)):
            if key in fields:
                values[key], source[key] = fields[key], where
                break
        else:
            source[key] = "defaults"
    try:
        inp = InputSpec(**values)
    except ValidationError as exc:
        raise HideseekError(f"{name}: invalid input ({exc.errors()[0]['msg']}); check the "
                            "spec's input fields") from exc
    order = ["the spec", own.reason if own else "", "the loader's defaults", "defaults"]
    groups = {where: [k for k in _FIELDS if source[k] == where] for where in order}
    why = "; ".join(f"{', '.join(keys)}: {where}" for where, keys in groups.items() if keys)
    log.info("%s: input %s (%s)", name, describe_input(inp), why)
    return inp, why
