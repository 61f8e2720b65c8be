"""The protocol configuration (``hideseek run protocol.yaml``), validated with clear messages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hideseek.classification.models.registry import ARCHITECTURES
from hideseek.errors import HideseekError
from hideseek.representations.registry import check_representations
from hideseek.representations.transforms import FILLS, REPRESENTATIONS
from hideseek.validation import all_of, config_error

if TYPE_CHECKING:
    from hideseek.protocol.rule import VerdictMargins

__all__ = ["ProtocolConfig", "load_protocol_config"]


class ProtocolConfig(BaseModel):
    """Everything one protocol run needs.

    Paths are resolved relative to the YAML file's folder.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = "protocol"
    data: list[str] = Field(..., description="pack folder, or COVIDx split files")
    images: str | None = None
    masks: str | None = None
    segmentation_model: str = "default"
    representations: list[str] = list(REPRESENTATIONS)
    architectures: list[str] = ["resnet50"]
    seeds: list[int] = [0]
    split_seed: int = 0
    margins: dict[str, int | float] = {}
    train: dict[str, Any] = {}
    fill: str = "zero"
    box_margin: int = 0
    on_bad_mask: Literal["exclude", "keep-original", "error", "exclude-flagged"] = "exclude"
    audit: bool = True
    cam: bool = True
    cam_max_images: int | None = 150
    cam_method: str = "gradcam"
    probe_source: bool = True
    probe_arch: str | None = None
    n_boot: int = 1000
    output: str = "runs/protocol"
    external_test: str | None = Field(
        default=None, description="a collection the models never saw (pack folder or COVIDx "
        "split file): each data-trained cell is tested on it, per source")
    external_images: str | None = None
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    cpus_per_cell: float = 2.0
    gpus_per_cell: float = 0.0

    @field_validator("data", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("architectures")
    @classmethod
    def _archs(cls, v: list[str]) -> list[str]:
        from hideseek.classification.models.registry import check_architecture

        return [a if a in ARCHITECTURES else check_architecture(a) for a in v]

    @field_validator("representations")
    @classmethod
    def _reps(cls, v: list[str]) -> list[str]:
        v = check_representations(v)
        if "data" not in v:
            v = ["data", *v]  # every comparison is against the originals
        return v

    @field_validator("cam_method")
    @classmethod
    def _cam_method(cls, v: str) -> str:
        from hideseek.explanation.registry import explainer_names

        all_of([v], explainer_names(), "cam_method")
        return v

    @field_validator("fill")
    @classmethod
    def _fill(cls, v: str) -> str:
        all_of([v], FILLS, "fill")
        return v

    @field_validator("margins")
    @classmethod
    def _margins(cls, v: dict[str, int | float]) -> dict[str, int | float]:
        from hideseek.protocol.rule import VerdictMargins

        try:
            VerdictMargins(**v)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError(f"unknown margin ({exc})") from exc
        return v

    def verdict_margins(self) -> VerdictMargins:
        """The verdict rule's margins (:class:`~hideseek.protocol.rule.VerdictMargins`)."""
        from hideseek.protocol.rule import VerdictMargins

        return VerdictMargins(**self.margins)  # type: ignore[arg-type]

    @field_validator("train")
    @classmethod
    def _train(cls, v: dict[str, Any]) -> dict[str, Any]:
        from hideseek.classification.config import TrainConfig

        owned = {"arch", "representation", "seed", "split_seed", "fill", "box_margin",
                 "target"}
        clash = sorted(owned & set(v))
        if clash:
            raise ValueError(f"train: {clash} are set by the protocol itself (use "
                             "architectures / representations / seeds / split_seed / fill / "
                             "box_margin)")
        TrainConfig(**v)  # validates every field now, not hours later
        return v


def load_protocol_config(path: str | Path, **overrides: Any) -> ProtocolConfig:
    """Read and validate a protocol YAML; relative paths are taken from the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise HideseekError(f"{path}: protocol config not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise HideseekError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise HideseekError(f"{path}: the protocol config must be a mapping")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = ProtocolConfig(**raw)
    except ValidationError as exc:
        raise config_error(exc, f"{path}: invalid protocol config") from exc
    base = path.resolve().parent

    def resolve(p: str | None) -> str | None:
        if p is None or p == "default":
            return p
        return str((base / p).resolve()) if not Path(p).is_absolute() else p

    cfg.data = [resolve(d) or d for d in cfg.data]
    cfg.images = resolve(cfg.images)
    cfg.masks = resolve(cfg.masks)
    cfg.segmentation_model = resolve(cfg.segmentation_model) or "default"
    if "output" not in overrides or overrides.get("output") is None:
        cfg.output = resolve(cfg.output) or cfg.output
    missing = [d for d in cfg.data if not Path(d).exists()]
    if missing:
        raise HideseekError(f"{path}: data not found: {', '.join(missing)}")
    if cfg.masks and not Path(cfg.masks).is_dir():
        raise HideseekError(f"{path}: masks folder not found: {cfg.masks}")
    return cfg
