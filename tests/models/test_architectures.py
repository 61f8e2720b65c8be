"""The architectures hideseek trains (``hideseek.models.architectures``, ``covidnet``,
``foreign``): every built-in name, COVID-Net, ``kind:NAME`` backbones and the validators."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from hideseek.classification.config import load_train_config
from hideseek.errors import HideseekError
from hideseek.models import (
    ARCHITECTURES,
    PEPX,
    CovidNet,
    build_model,
    check_architecture,
    target_layer,
)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_builds_and_has_a_target_layer(arch: str) -> None:
    model = build_model(arch, 3, pretrained=False).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 3)
    layer = target_layer(model)
    assert any(layer is m for m in model.backbone.modules())


def test_target_layers_are_the_documented_ones() -> None:
    r = build_model("resnet50", pretrained=False)
    assert target_layer(r) is r.backbone.layer4[-1]
    v = build_model("vgg11", pretrained=False)
    relus = [m for m in v.backbone.features if isinstance(m, nn.ReLU)]
    assert target_layer(v) is relus[-1]


def test_pretrained_falls_back_to_random_with_a_message(caplog: pytest.LogCaptureFixture) -> None:
    build_model("resnet18", pretrained=True)
    assert "not in the local cache" in caplog.text or caplog.text == ""


def test_covidnet_is_made_of_pepx() -> None:
    net = CovidNet()
    blocks = [m for m in net.modules() if isinstance(m, PEPX)]
    assert len(blocks) == sum(CovidNet.stages)
    b = blocks[0]
    kinds = [b.project1[0].kernel_size, b.expand[0].kernel_size, b.depthwise[0].kernel_size,
             b.project2[0].kernel_size, b.extend[0].kernel_size]
    assert kinds == [(1, 1), (1, 1), (3, 3), (1, 1), (1, 1)]
    assert b.depthwise[0].groups == b.depthwise[0].in_channels


def test_unknown_arch() -> None:
    with pytest.raises(HideseekError, match="unknown architecture"):
        build_model("inception")


def test_initialisation_is_recorded() -> None:
    assert build_model("resnet18", pretrained=False).init == "random"
    assert build_model("covidnet").init == "random"


def _factory_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "usernets.py").write_text(
        "from torch import nn\n\n"
        "def grey(num_classes=10):\n"
        "    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),\n"
        "                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
        "                         nn.Linear(8, num_classes))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "python:usernets:grey"


@pytest.mark.parametrize("arch", ["torchvision:densenet121", "timm:efficientnet_b0",
                                  "torchvision:convnext_tiny"])
def test_user_architectures_get_our_head_and_a_target_layer(arch: str) -> None:
    model = build_model(arch, 3, pretrained=False).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 64, 64)).shape == (2, 3)
    layer = target_layer(model, input_size=64)
    assert any(layer is m for m in model.backbone.modules()) and layer is not model.backbone
    assert model.init == "random"
    from hideseek.explanation.gradcam import GradCAM

    out = GradCAM(model, layer)(torch.rand(2, 1, 64, 64), {"predicted": None})
    assert out.maps["predicted"].shape == (2, 64, 64) and out.prob.shape == (2, 3)


def test_python_factory_arch_and_validators(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from hideseek.protocol.config import ProtocolConfig

    name = _factory_module(tmp_path, monkeypatch)
    model = build_model(name, 3).eval()
    assert model.in_channels == 1 and model(torch.rand(2, 1, 32, 32)).shape == (2, 3)
    assert load_train_config(arch="timm:efficientnet_b0").arch == "timm:efficientnet_b0"
    proto = ProtocolConfig(data=["d"], architectures=["resnet50", "torchvision:densenet121"])
    assert proto.architectures[1] == "torchvision:densenet121"
    for bad in ("keras:resnet", "torchvision:", "resnet5"):
        with pytest.raises(ValueError, match="unknown architecture"):
            check_architecture(bad)
    with pytest.raises(HideseekError, match="unknown architecture"):
        load_train_config(arch="onnx:model")
    with pytest.raises(HideseekError, match="torchvision has no classification model"):
        build_model("torchvision:resnet7")


def test_an_input_too_small_for_the_network_is_refused_in_one_line() -> None:
    from hideseek.errors import HideseekError
    from hideseek.models.architectures import build_model, check_input_size

    model = build_model("alexnet", 2, pretrained=False)
    check_input_size(model, "alexnet", 64)  # AlexNet's smallest input is 63 px
    with pytest.raises(HideseekError, match=r"^alexnet cannot take 32 x 32 images \(.*\); use"):
        check_input_size(model, "alexnet", 32)
    assert model.training  # the mode it came in with
