"""Saving and loading segmentation models, and the default model shipped in the package."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, cast

import torch

from hideseek.engine.checkpoint import atomic_save, load_checkpoint_file
from hideseek.errors import HideseekError
from hideseek.segmentation.qc import ranges_beside
from hideseek.segmentation.registry import register_segmenter, segmenter_loader
from hideseek.segmentation.unet import UNet, UNetConfig

__all__ = ["DEFAULT_MODEL", "UNET_KIND", "load_segmenter", "save_segmenter"]

DEFAULT_MODEL = "default"
#: ``kind`` of our U-Net checkpoints.
UNET_KIND = "hideseek-unet"


def save_segmenter(path: str | Path, model: UNet, image_size: int, half: bool = False,
                   **meta: Any) -> None:
    """Save a U-Net with its configuration and input size (versioned, atomic, weights only).

    Args:
        path: Destination file.
        model: The network.
        image_size: Side the network was trained at.
        half: Store weights in fp16 (halves the file; used for the shipped model).
        **meta: JSON-like extra information (metrics, seed, data).
    """
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}
    atomic_save(path, {"kind": UNET_KIND, "config": model.config.to_dict(),
                       "image_size": int(image_size), "state_dict": state, "meta": meta})


def _unet(ckpt: Mapping[str, Any]) -> torch.nn.Module:
    model = UNet(UNetConfig(**ckpt["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in ckpt["state_dict"].items()})
    return model


register_segmenter(UNET_KIND, _unet)


def _default_path() -> Path:
    return Path(str(resources.files("hideseek.segmentation") / "weights" / "unet_default.pt"))


def load_segmenter(path: str | Path | None = None) -> tuple[UNet, int, dict[str, Any]]:
    """Load a segmentation model saved by :func:`save_segmenter` (or ``best.pt`` of training),
    or any registered kind (:func:`~hideseek.segmentation.registry.register_segmenter`).

    Args:
        path: Checkpoint file or training folder; None or ``"default"`` loads the shipped model.

    Returns:
        The model in eval mode (fp32), its input size, and its metadata; ``meta["qc_ranges"]``
        (the training masks' lung shape ranges, :mod:`hideseek.segmentation.qc`) comes from
        ``<checkpoint>.qc.json`` when the checkpoint itself has none.
    """
    if path is None or str(path) == DEFAULT_MODEL:
        path = _default_path()
        if not path.is_file():
            raise HideseekError(f"the default segmentation model is missing ({path}); "
                                "reinstall hideseek or pass --model")
    path, ckpt = load_checkpoint_file(path, "segmentation model")
    if not isinstance(ckpt, dict):
        raise HideseekError(f"{path}: not a hideseek segmentation checkpoint")
    kind = ckpt.get("kind")
    loader = segmenter_loader(kind, path)
    try:
        model = loader(ckpt)
        size = int(ckpt["image_size"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise HideseekError(f"{path}: cannot build the {kind} segmenter ({exc})") from exc
    meta = dict(ckpt.get("meta") or {})
    if "qc_ranges" not in meta:  # an older checkpoint (the shipped one): the ranges beside it
        beside = ranges_beside(path)
        if beside is not None:
            meta["qc_ranges"] = beside
    # Any registered kind works with predict_masks (it needs the forward pass and `multiple`).
    return cast(UNet, model.eval()), size, meta
