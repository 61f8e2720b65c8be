"""What a model expects and what its outputs mean: ``model.yaml``, validated.

A foreign model is only usable when its class order is declared: the order of a model's outputs
cannot be read from its weights, and a guess (alphabetical, ours, ...) silently swaps labels.

Example ``model.yaml`` (a TorchXRayVision DenseNet)::

    classes: [Atelectasis, Consolidation, ..., Lung Opacity, Enlarged Cardiomediastinum]
    activation: sigmoid
    mapping: {Pneumonia: pneumonia, Lung Opacity: COVID-19, Consolidation: COVID-19}
    normal: one_minus_max
    input: {size: 224, channels: 1, range: [-1024, 1024], crop_top: 0.0, square: pad}
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hideseek.errors import HideseekError, cut_list
from hideseek.task import COVID_TASK, Task
from hideseek.validation import config_error

__all__ = ["InputSpec", "ModelSpec", "declared_conflicts", "flag_of", "listed", "load_model_spec",
           "spec_from_flags"]


def listed(names: Any, limit: int = 12) -> str:
    """Names joined by commas, a long list cut with a count (``... and N more``)."""
    return ", ".join(cut_list([str(n) for n in names], limit))


class InputSpec(BaseModel):
    """The input a model expects.

    Our images are grey, in [0, 1]; they are cropped (``crop_top``, then ``square``), resized to
    ``size``, mapped linearly onto ``range``, replicated to ``channels`` and finally normalised
    with ``mean`` / ``std`` when given (per channel).
    """

    model_config = ConfigDict(extra="forbid")

    size: int = Field(default=224, ge=8)
    channels: Literal[1, 3] = 1
    range: tuple[float, float] = (0.0, 1.0)
    mean: list[float] | None = None
    std: list[float] | None = None
    crop_top: float = Field(default=0.08, ge=0.0, lt=1.0)
    square: Literal["crop", "pad"] = "crop"

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        if self.range[1] <= self.range[0]:
            raise ValueError(f"input.range must be increasing, got {list(self.range)}")
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is not None and len(v) not in (1, self.channels):
                raise ValueError(f"input.{name} needs 1 or {self.channels} values, got {len(v)}")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError("input.std must be positive")
        return self


class ModelSpec(BaseModel):
    """How to run a model and read its outputs.

    Attributes:
        classes: Output names in output order (required for foreign models).
        activation: ``softmax`` (outputs are logits), ``sigmoid`` (multi-label logits) or
            ``probabilities`` (outputs already sum to one).
        mapping: Output name -> a class (finding) of the task the model is tested on (the
            dataset's labels, e.g. ``normal``, ``pneumonia``, ``COVID-19``); outputs that name a
            class under another spelling (``COVID``, ``No Finding``) need no entry. With
            ``sigmoid``, unmapped outputs are ignored. Checked when the model meets the data.
        normal: ``mapped`` (an output maps to the "none of the others" class: ``normal`` /
            ``negative`` / ``No Finding``) or ``one_minus_max`` (sigmoid, multiclass task
            only: that class = 1 - the largest mapped score).
        target: ``label`` (our three labels) or ``source`` (our source-probe checkpoints: the
            outputs are data sources, reported as they are).
        num_classes: The number of outputs. A ``torchvision:`` / ``timm:`` / ``python:`` model
            built by name gets a new head of this size (random weights, as for training); for
            any other kind it is checked against the model's outputs.
        input: The input the model expects; fields left out are resolved by
            :func:`hideseek.models.inputs.resolve_input`.
    """

    model_config = ConfigDict(extra="forbid")

    classes: list[str] | None = None
    activation: Literal["softmax", "sigmoid", "probabilities"] = "softmax"
    mapping: dict[str, str] = {}
    normal: Literal["mapped", "one_minus_max"] = "mapped"
    target: Literal["label", "source"] = "label"
    num_classes: int | None = Field(default=None, ge=1)
    input: InputSpec = InputSpec()

    @field_validator("classes", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        """YAML reads ``[0, 1, 2]`` as numbers: output names are text."""
        return [str(c) for c in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            dup = sorted(c for c, n in Counter(self.classes).items() if n > 1)
            raise ValueError(f"classes has duplicates: {listed(dup)}")
        if self.classes is not None and self.num_classes is not None \
                and len(self.classes) != self.num_classes:
            raise ValueError(f"num_classes is {self.num_classes} but classes names "
                             f"{len(self.classes)} outputs ({listed(self.classes)})")
        if self.classes is not None and self.mapping:
            unknown = sorted(set(self.mapping) - set(self.classes))
            if unknown:
                raise ValueError(f"mapping names outputs not in classes: {listed(unknown)}")
        return self

    def label_of(self, name: str, task: Task | None = None) -> str | None:
        """The task's class for output ``name`` (the mapping first, then the class it spells;
        ``task`` defaults to the COVID preset)."""
        task = task or COVID_TASK
        target = self.mapping.get(name)
        return task.normalise(target if target is not None else name)

    def require_classes(self, where: str) -> list[str]:
        """The declared class order, or a refusal saying why (never a guess)."""
        if self.classes is None:
            raise HideseekError(
                f"{where}: the model's class order is not declared. The order of a model's "
                "outputs cannot be read from its weights, and guessing it (e.g. alphabetical, "
                "as an ImageFolder gives, vs normal, pneumonia, COVID-19) silently swaps labels; "
                "declare it with classes: [...] in a model.yaml (--spec) or with --classes")
        return self.classes


def _fail(source: str, exc: ValidationError) -> HideseekError:
    return config_error(exc, f"{source}: invalid model spec")


def load_model_spec(path: str | Path) -> ModelSpec:
    """Read and validate a ``model.yaml``.

    Raises:
        HideseekError: Unreadable YAML, or the invalid fields with the file named.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise HideseekError(f"{path}: cannot read the model spec ({exc})") from exc
    if not isinstance(raw, dict):
        raise HideseekError(f"{path}: a model spec must be a mapping of fields")
    try:
        return ModelSpec(**raw)
    except ValidationError as exc:
        raise _fail(str(path), exc) from exc


def spec_from_flags(base: ModelSpec | None = None, **flags: Any) -> ModelSpec:
    """A spec with CLI flags applied over ``base`` (None values ignored).

    ``input_size``, ``input_channels``, ``input_range``, ``input_mean``, ``input_std``,
    ``input_crop_top`` and ``input_square`` set the ``input`` fields; the others are top-level.
    """
    values = (base or ModelSpec()).model_dump(exclude_unset=True)
    inp = dict(values.get("input", {}))
    for key, v in flags.items():
        if v is None:
            continue
        if key.startswith("input_"):
            inp[key.removeprefix("input_")] = v
        else:
            values[key] = v
    values["input"] = inp
    try:
        return ModelSpec(**values)
    except ValidationError as exc:
        raise _fail("model spec flags", exc) from exc


#: The command-line flag of each spec field (``input.X``: ``--input-X``).
_FLAGS = {"classes": "--classes", "activation": "--activation", "mapping": "--map",
          "normal": "--normal", "num_classes": "--num-classes", "target": "target"}


def flag_of(field_name: str) -> str:
    """The flag of spec field ``field_name`` (``input.size``: ``--input-size``)."""
    if field_name.startswith("input."):
        return "--input-" + field_name.removeprefix("input.").replace("_", "-")
    return _FLAGS.get(field_name, field_name)


def declared_conflicts(declared: ModelSpec | None, own: ModelSpec) -> list[tuple[str, Any, Any]]:
    """The fields ``declared`` sets to something else than ``own`` (a model's own spec):
    ``(field, declared value, own value)``; input fields are named ``input.X``.

    ``num_classes`` agrees with the number of ``own``'s classes.
    """
    if declared is None:
        return []
    out: list[tuple[str, Any, Any]] = []
    mine = declared.model_dump(exclude_unset=True)
    theirs = own.model_dump()
    for key, value in mine.items():
        if key == "input":
            inp = own.input.model_dump()
            out += [(f"input.{k}", v, inp[k]) for k, v in value.items()
                    if not _agree(v, inp[k])]
        elif key == "num_classes":
            n = len(own.classes or [])
            if value is not None and value != n:
                out.append((key, value, n))
        elif not _agree(value, theirs[key]):
            out.append((key, value, theirs[key]))
    return out


def _agree(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return bool(a == b)
