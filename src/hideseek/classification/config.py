"""Training recipes as typed, validated configuration (YAML or CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hideseek.classification.models.registry import ARCHITECTURES
from hideseek.engine.schedule import Schedule
from hideseek.errors import HideseekError
from hideseek.representations.registry import check_representations
from hideseek.representations.transforms import FILLS
from hideseek.validation import all_of, config_error

__all__ = ["PRESETS", "AugmentConfig", "TrainConfig", "config_from_meta", "load_train_config"]


class AugmentConfig(BaseModel):
    """The COVID-Net augmentation recipe (the paper's, for every architecture)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    aspect_p: float = 0.3
    aspect: float = 0.1
    rotation: float = 10.0
    translate: float = 0.1
    zoom: float = 0.15
    intensity: float = 0.1
    hflip: bool = False


class TrainConfig(BaseModel):
    """One training run: architecture, representation and recipe.

    Defaults are the paper's recipe for AlexNet / VGG-11 / ResNet-50: 224 px, batch 32, Adam
    1e-4, 20 epochs, class weights 1, 1, 4, class-balanced sampler, no horizontal flip.
    """

    model_config = ConfigDict(extra="forbid")

    arch: str = "resnet50"
    representation: str = "data"
    fill: str = "zero"
    box_margin: int = 0
    image_size: int = Field(224, ge=32)
    crop_top: float = 0.08
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = 0.0
    #: Learning-rate schedule per epoch: ``constant`` (the paper) or ``cosine`` (to 1% of lr).
    lr_schedule: Schedule = "constant"
    epochs: int = Field(20, ge=1)
    class_weights: list[float] = [1.0, 1.0, 4.0]
    sampler: Literal["balanced", "covid_fraction", "shuffle"] = "balanced"
    covid_fraction: float = 0.3
    pretrained: bool = True
    augment: AugmentConfig = AugmentConfig()
    seed: int = 0
    split_seed: int | None = None  # seed of the train/val/test split; None: ``seed``
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    select_metric: Literal["accuracy", "balanced_accuracy", "loss"] = "accuracy"
    target: Literal["label", "source"] = "label"
    workers: int = 0
    #: Early stopping: epochs without validation improvement (select_metric); None: off.
    patience: int | None = Field(default=None, ge=1)
    #: Early stopping: least improvement of the selection score that counts.
    min_delta: float = Field(default=0.0, ge=0)
    #: Train through torch.compile (see docs: it pays on GPUs, not on small CPU runs).
    compile: bool = False
    #: Write the resumable state (``last.pt``) every this many epochs.
    checkpoint_every: int = Field(default=1, ge=1)
    #: Keep the resumable state (``last.pt``) once training has finished; by default a
    #: finished run keeps ``best.pt`` only (the optimizer state is as large again).
    keep_state: bool = False

    @property
    def effective_split_seed(self) -> int:
        """The seed of the train/val/test split: ``split_seed``, else the training seed."""
        return self.seed if self.split_seed is None else self.split_seed

    @field_validator("arch")
    @classmethod
    def _arch(cls, v: str) -> str:
        from hideseek.classification.models.registry import check_architecture

        return v if v in ARCHITECTURES else check_architecture(v)

    @field_validator("representation")
    @classmethod
    def _rep(cls, v: str) -> str:
        return check_representations([v])[0]

    @field_validator("fill")
    @classmethod
    def _fill(cls, v: str) -> str:
        all_of([v], FILLS, "fill")
        return v


#: Named recipes. ``paper``: AlexNet / VGG / ResNet; ``covidnet``: the COVID-Net recipe.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "covidnet": {"arch": "covidnet", "image_size": 480, "batch_size": 8, "lr": 2e-4,
                 "epochs": 10, "sampler": "covid_fraction", "covid_fraction": 0.3,
                 "pretrained": False, "augment": {"hflip": True}},
}


def load_train_config(path: str | Path | None = None, preset: str | None = None,
                      **overrides: Any) -> TrainConfig:
    """Build a config: preset, then YAML file, then explicit overrides (None values ignored).

    Raises:
        HideseekError: Unknown preset, unreadable YAML or invalid values (all listed).
    """
    values: dict[str, Any] = {}
    if preset:
        if preset not in PRESETS:
            raise HideseekError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise HideseekError(f"{path}: cannot read the training config ({exc})") from exc
        if not isinstance(loaded, dict):
            raise HideseekError(f"{path}: a training config must be a mapping")
        aug = {**values.get("augment", {}), **loaded.get("augment", {})}
        values.update(loaded)
        if aug:
            values["augment"] = aug
    for k, v in overrides.items():
        if v is None:
            continue
        if k == "hflip":
            values["augment"] = {**values.get("augment", {}), "hflip": v}
        else:
            values[k] = v
    try:
        return TrainConfig(**values)
    except ValueError as exc:
        raise config_error(exc, "invalid training config") from exc


def config_from_meta(meta: dict[str, Any], representation: str) -> TrainConfig:
    """The training config stored with a checkpoint, set to another representation (plain
    torchvision state dicts carry none: the defaults apply)."""
    cfg = TrainConfig(**{k: v for k, v in meta.get("config", {}).items()
                         if k in TrainConfig.model_fields})
    return cfg.model_copy(update={"representation": representation})
