"""Loaders by kind, the loader registry and Grad-CAM target layers of any module."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from hideseek.errors import HideseekError
from hideseek.explanation.layers import find_target_layer
from hideseek.models import LOADERS, ModelAdapter, ModelSpec, load_model, register_loader

OURS = ["normal", "pneumonia", "COVID-19"]
FACTORY = '''
from torch import nn

def tiny():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 3))
'''


def _spec(size: int = 32, **kw: Any) -> ModelSpec:
    return ModelSpec(classes=OURS, input={"size": size, **kw})  # type: ignore[arg-type]


def test_torchvision_timm_and_xrv_by_name(caplog: pytest.LogCaptureFixture) -> None:
    x = torch.rand(2, 1, 40, 40)
    with pytest.raises(HideseekError, match="1000 outputs but the spec declares 3.*"
                       "--num-classes 3"):
        load_model("torchvision:resnet18", _spec(channels=3), pretrained=False)
    tv = load_model("torchvision:resnet18", ModelSpec(classes=OURS, num_classes=3,
                                                      input={"size": 32}),  # type: ignore[arg-type]
                    pretrained=False)
    assert isinstance(tv.module, torchvision.models.ResNet) and tv.input.channels == 3
    assert tv.predict_proba(x).shape == (2, 3)
    tm = load_model("timm:resnet10t", ModelSpec(classes=[str(i) for i in range(1000)],
                                                mapping={"0": "normal", "1": "pneumonia",
                                                         "2": "COVID-19"},
                                                activation="sigmoid"))
    assert tm.input.mean is not None and tm.predict_proba(x).shape == (2, 3)
    with caplog.at_level(logging.WARNING):
        xr = load_model("xrv:densenet121-res224-all", ModelSpec(
            mapping={"Pneumonia": "pneumonia", "Lung Opacity": "COVID-19"},
            normal="one_minus_max", input={"size": 32}))  # type: ignore[arg-type]
    assert "random weights" in caplog.text
    assert len(xr.classes) == 18 and xr.input.range == (-1024, 1024) and xr.input.channels == 1
    p = xr.predict_proba(x)
    assert p.shape == (2, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    with pytest.raises(HideseekError, match="unknown; choose from"):
        load_model("xrv:resnet-1", None)
    with pytest.raises(HideseekError, match="torchvision has no model"):
        load_model("torchvision:resnet7", None)


def test_python_factory_and_a_registered_kind(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mymodels.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    a = load_model("python:mymodels:tiny", _spec())
    assert a.predict_proba(torch.rand(3, 1, 32, 32)).shape == (3, 3)
    assert isinstance(a.cam_module()(torch.rand(1, 1, 32, 32)), torch.Tensor)
    with pytest.raises(HideseekError, match="has no callable 'small'"):
        load_model("python:mymodels:small", _spec())
    with pytest.raises(HideseekError, match="cannot import"):
        load_model("python:nowhere.at_all:f", _spec())

    def toy(name: str, spec: ModelSpec | None, **_: Any) -> ModelAdapter:
        return ModelAdapter.from_module(nn.Sequential(nn.Flatten(), nn.LazyLinear(3)),
                                        spec or _spec(), name=f"toy:{name}")

    register_loader("toy", toy)
    try:
        assert load_model("toy:one").name == "toy:one"
    finally:
        del LOADERS["toy"]
    sys.modules.pop("mymodels", None)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_has_no_gradcam_with_the_reason(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(2, 3)).eval()
    torch.onnx.export(net, (torch.rand(1, 1, 16, 16),), str(tmp_path / "m.onnx"),
                      input_names=["x"], dynamo=False, dynamic_axes={"x": {0: "n"}})
    a = load_model(tmp_path / "m.onnx", _spec(16))
    with torch.no_grad():
        ref = net(torch.full((2, 1, 16, 16), 0.5)).softmax(1).numpy()
    assert np.allclose(a.predict_proba(torch.full((2, 1, 16, 16), 0.5)), ref, atol=1e-5)
    with pytest.raises(HideseekError, match="Grad-CAM cannot run: an ONNX model"):
        a.cam_module()
    (tmp_path / "bad.onnx").write_bytes(b"nope")
    with pytest.raises(HideseekError, match="not a readable ONNX model"):
        load_model(tmp_path / "bad.onnx", _spec())


def _name(module: nn.Module, layer: nn.Module) -> str:
    return next(n for n, m in module.named_modules() if m is layer)


@pytest.mark.parametrize(("build", "size", "expected"), [
    (lambda: torchvision.models.densenet121(), 224, "features"),
    (lambda: torchvision.models.convnext_tiny(), 224, "features"),
    (lambda: __import__("timm").create_model("efficientnet_b0"), 224, "bn2"),
    (lambda: torchvision.models.resnet18(), 64, "layer2"),  # layer3 is 4 x 4 at 64 px
])
def test_target_layer_is_the_last_fine_spatial_map(build: Any, size: int,
                                                   expected: str) -> None:
    net = build()
    hooks_before = sum(len(m._forward_hooks) for m in net.modules())
    assert _name(net, find_target_layer(net, size)) == expected
    assert sum(len(m._forward_hooks) for m in net.modules()) == hooks_before


def test_named_target_layer_and_refusals(caplog: pytest.LogCaptureFixture) -> None:
    net = torchvision.models.resnet18()
    assert find_target_layer(net, 64, name="layer4.1") is net.layer4[1]
    with pytest.raises(HideseekError, match="'layer9' is not a layer.*layer4"):
        find_target_layer(net, 64, name="layer9")
    with caplog.at_level(logging.WARNING):
        assert find_target_layer(net, 32, min_cells=32) is net.layer3  # none fine: the deepest
    assert "no layer keeps 32 x 32 cells" in caplog.text
    vit = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=1,
                                               num_heads=2, hidden_dim=16, mlp_dim=16)
    with pytest.raises(HideseekError, match="vision transformer.*tokens"):
        find_target_layer(vit, 32)
    with pytest.raises(HideseekError, match="no layer has a spatial output"):
        find_target_layer(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)), 8)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.trace, in this torch
def test_compiled_graphs_refuse_gradcam_with_the_reason() -> None:
    net = torchvision.models.resnet18(num_classes=3).eval()
    x = torch.rand(1, 3, 64, 64)
    traced = torch.jit.trace(net, x)
    for graph in (traced, torch.export.export(net, (x,)).module()):
        with pytest.raises(HideseekError, match="graph hides its layers"):
            find_target_layer(graph, 64)
