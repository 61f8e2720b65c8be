"""Model specs (validation, refusals) and the adapter's input / output mapping."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hideseek.cli.main import main
from hideseek.errors import HideseekError
from hideseek.models import (
    ModelAdapter,
    ModelSpec,
    input_warning,
    label_matrix,
    load_model_spec,
    spec_from_flags,
)
from hideseek.models.spec import InputSpec
from hideseek.task import COVID_TASK


def test_spec_file_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    y = tmp_path / "model.yaml"
    y.write_text("classes: [a, b]\nactivation: softmx\ninput: {size: 4, range: [1, 0]}\n")
    with pytest.raises(HideseekError) as err:
        load_model_spec(y)
    msg = str(err.value)
    assert str(y) in msg and "activation" in msg and "input.size" in msg
    y.write_text("classes: [Pneumonia, Normal]\nmapping: {Pneumonia: pneumo}\n")
    spec = load_model_spec(y)  # any task's names: checked when the model meets the data
    with pytest.raises(HideseekError, match="mapping targets must be classes of the task"):
        label_matrix(spec, 2, "model", COVID_TASK)
    y.write_text("- not a mapping\n")
    with pytest.raises(HideseekError, match="must be a mapping"):
        load_model_spec(y)
    y.write_text("classes: [COVID, Normal, Viral Pneumonia]\ninput: {size: 64}\n")
    spec = load_model_spec(y)
    assert spec.input.size == 64 and spec.input.crop_top == 0.08


def test_flags_override_the_file(tmp_path: Path) -> None:
    y = tmp_path / "model.yaml"
    y.write_text("classes: [normal, pneumonia, COVID-19]\ninput: {size: 64, crop_top: 0.0}\n")
    spec = spec_from_flags(load_model_spec(y), input_size=96, activation="probabilities",
                           input_range=(-1.0, 1.0), classes=None)
    assert (spec.input.size, spec.input.crop_top, spec.input.range) == (96, 0.0, (-1.0, 1.0))
    assert spec.activation == "probabilities" and spec.classes == ["normal", "pneumonia",
                                                                   "COVID-19"]
    with pytest.raises(HideseekError, match="model spec flags.*input.channels"):
        spec_from_flags(input_channels=2)


def test_undeclared_order_is_refused_and_counts_must_match() -> None:
    net = nn.Linear(4, 3)
    with pytest.raises(HideseekError, match="class order is not declared"):
        ModelAdapter.from_module(net, ModelSpec())
    spec = ModelSpec(classes=["normal", "pneumonia"])
    with pytest.raises(HideseekError, match="3 outputs but the spec declares 2 classes"):
        label_matrix(spec, 3)
    with pytest.raises(HideseekError, match="map to none"):
        label_matrix(ModelSpec(classes=["normal", "pneumonia", "tuberculosis"]), 3)


class _Fixed(nn.Module):
    """Returns fixed logits whatever the input (records the input it saw)."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)
        self.seen: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return self.logits.expand(x.shape[0], -1)


def test_softmax_outputs_are_reordered_to_our_labels() -> None:
    net = _Fixed([3.0, 0.0, -3.0])  # COVID, Normal, Viral Pneumonia
    spec = ModelSpec(classes=["COVID", "Normal", "Viral Pneumonia"],
                     mapping={"Viral Pneumonia": "pneumonia"},
                     input=InputSpec(size=16, channels=3, range=(0, 255), mean=[127.5],
                                     std=[127.5]))
    p = ModelAdapter.from_module(net, spec).predict_proba(torch.ones(2, 1, 32, 32))
    soft = torch.tensor([3.0, 0.0, -3.0]).softmax(0).numpy()
    assert np.allclose(p, [[soft[1], soft[2], soft[0]]] * 2, atol=1e-6)
    assert net.seen is not None and net.seen.shape == (2, 3, 16, 16)
    assert torch.allclose(net.seen, torch.ones_like(net.seen))  # 1 -> 255 -> (255-127.5)/127.5


def test_sigmoid_mapping_and_one_minus_max() -> None:
    net = _Fixed([0.0, 2.0, -2.0, 5.0])
    spec = ModelSpec(classes=["Effusion", "Pneumonia", "Consolidation", "Lung Opacity"],
                     activation="sigmoid", normal="one_minus_max",
                     mapping={"Pneumonia": "pneumonia", "Consolidation": "COVID-19",
                              "Lung Opacity": "COVID-19"})
    p = ModelAdapter.from_module(net, spec).predict_proba(torch.rand(1, 1, 224, 224))[0]
    s = torch.tensor([2.0, 5.0]).sigmoid().numpy()
    raw = np.array([1 - s[1], s[0], s[1]])  # Effusion ignored; COVID-19 = max of its two
    assert np.allclose(p, raw / raw.sum(), atol=1e-6) and p.argmax() == 2


def test_a_callable_returning_probabilities() -> None:
    def fn(x: torch.Tensor) -> np.ndarray:
        return np.tile([0.1, 0.7, 0.2], (x.shape[0], 1))

    from hideseek.models import resolve_model

    a = resolve_model(fn, ModelSpec(classes=["normal", "COVID-19", "pneumonia"]))
    assert np.allclose(a.predict_proba(torch.rand(3, 1, 8, 8)), [[0.1, 0.2, 0.7]] * 3)
    with pytest.raises(HideseekError, match="Grad-CAM cannot run: a plain callable"):
        a.cam_module()


def test_input_warning_in_plain_words(caplog: pytest.LogCaptureFixture) -> None:
    xrv_like = InputSpec(range=(0, 1))
    msg = input_warning(torch.rand(4, 1, 8, 8), xrv_like, native_range=(-1024, 1024))
    assert msg is not None and "trained on inputs in [-1024, 1024]" in msg
    assert input_warning(torch.rand(4, 1, 8, 8) * 2048 - 1024, InputSpec(range=(-1024, 1024)),
                         (-1024, 1024)) is None
    assert input_warning(torch.rand(4, 1, 8, 8), InputSpec(), None) is None
    assert "mean" in (input_warning(torch.rand(2, 3, 8, 8) * 200, InputSpec(mean=[0.5]), None)
                      or "")
    spec = ModelSpec(classes=["normal", "pneumonia", "COVID-19"])
    a = ModelAdapter.from_module(_Fixed([0.0, 0.0, 1.0]), spec, native_range=(-1024, 1024))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            a.predict_proba(torch.rand(2, 1, 224, 224))
    assert caplog.text.count("probably meaningless") == 1


def test_cli_spec_flags_reach_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       phantom_lungs: Path) -> None:
    torch.manual_seed(0)
    assert main(["evaluate", str(phantom_lungs), "--model", "torchvision:resnet18",
                 "--no-amp", "--n-boot", "10", "--input-size", "32"]) == 1
    assert "class order is not declared" in capsys.readouterr().err
    classes = [str(i) for i in range(1000)]
    spec = tmp_path / "m.yaml"
    spec.write_text("classes: [" + ", ".join(classes) + "]\n")
    assert main(["evaluate", str(phantom_lungs), "--model", "torchvision:resnet18",
                 "--spec", str(spec), "--input-size", "32"]) == 1
    assert "map to none" in capsys.readouterr().err
