"""Saving and loading segmentation models, and the default model shipped in the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import torch

from hideseek.errors import HideseekError
from hideseek.runtime import load_checkpoint_file
from hideseek.segmentation.unet import UNet, UNetConfig

__all__ = ["DEFAULT_MODEL", "load_segmenter", "save_segmenter"]

DEFAULT_MODEL = "default"


def save_segmenter(path: str | Path, model: UNet, image_size: int, half: bool = False,
                   **meta: Any) -> None:
    """Save a U-Net with its configuration and input size (loadable with weights_only=True).

    Args:
        path: Destination file.
        model: The network.
        image_size: Side the network was trained at.
        half: Store weights in fp16 (halves the file; used for the shipped model).
        **meta: JSON-like extra information (metrics, seed, data).
    """
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": "hideseek-unet", "config": model.config.to_dict(),
                "image_size": int(image_size), "state_dict": state, "meta": meta}, path)


def _default_path() -> Path:
    return Path(str(resources.files("hideseek.segmentation") / "weights" / "unet_default.pt"))


def load_segmenter(path: str | Path | None = None) -> tuple[UNet, int, dict[str, Any]]:
    """Load a U-Net saved by :func:`save_segmenter` (or ``last.pt`` / ``best.pt`` of training).

    Args:
        path: Checkpoint file or training folder; None or ``"default"`` loads the shipped model.

    Returns:
        The model in eval mode (fp32), its input size, and its metadata.
    """
    if path is None or str(path) == DEFAULT_MODEL:
        path = _default_path()
        if not path.is_file():
            raise HideseekError(f"the default segmentation model is missing ({path}); "
                                "reinstall hideseek or pass --model")
    path, ckpt = load_checkpoint_file(path, "segmentation model")
    if not isinstance(ckpt, dict) or ckpt.get("kind") != "hideseek-unet":
        raise HideseekError(f"{path}: not a hideseek segmentation checkpoint")
    model = UNet(UNetConfig(**ckpt["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in ckpt["state_dict"].items()})
    return model.eval(), int(ckpt["image_size"]), dict(ckpt.get("meta", {}))
