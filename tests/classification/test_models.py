"""The model registry, COVID-Net, checkpoints and configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from hideseek.classification.checkpoint import load_classifier, save_classifier
from hideseek.classification.config import load_train_config
from hideseek.classification.models import (
    ARCHITECTURES,
    PEPX,
    CovidNet,
    build_model,
    target_layer,
)
from hideseek.errors import HideseekError
from hideseek.task import COVID_TASK, Task


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


def test_checkpoint_roundtrip_and_plain_state_dict(tmp_path: Path) -> None:
    model = build_model("resnet18", pretrained=False)
    save_classifier(tmp_path / "best.pt", model, ["normal", "pneumonia", "COVID-19"],
                    {"arch": "resnet18"})
    loaded, meta = load_classifier(tmp_path)
    assert meta["arch"] == "resnet18"
    x = torch.rand(1, 1, 32, 32)
    assert torch.allclose(model.eval()(x), loaded(x))
    plain = torchvision.models.resnet18(num_classes=3)
    torch.save(plain.state_dict(), tmp_path / "plain.pth")
    with pytest.raises(HideseekError, match="--arch"):
        load_classifier(tmp_path / "plain.pth")
    m2, _ = load_classifier(tmp_path / "plain.pth", arch="resnet18")
    assert torch.equal(m2.backbone.fc.weight, plain.fc.weight)


def test_config_presets_yaml_and_errors(tmp_path: Path) -> None:
    cfg = load_train_config(preset="covidnet")
    assert (cfg.arch, cfg.image_size, cfg.batch_size, cfg.lr, cfg.epochs) == (
        "covidnet", 480, 8, 2e-4, 10)
    assert cfg.augment.hflip and cfg.sampler == "covid_fraction"
    default = load_train_config()
    assert (default.image_size, default.batch_size, default.lr, default.epochs) == (
        224, 32, 1e-4, 20)
    assert default.class_weights is None and not default.augment.hflip
    assert default.loss_weights(COVID_TASK) == [1.0, 1.0, 4.0]  # the paper's, by name
    binary = Task(("normal", "tuberculosis"))
    assert default.loss_weights(binary) == [1.0, 1.0]
    named = load_train_config(class_weights={"tuberculosis": 3})
    assert named.loss_weights(binary) == [1.0, 3.0]
    with pytest.raises(ValueError, match="class_weights has 3 values"):
        load_train_config(class_weights=[1, 1, 4]).loss_weights(binary)
    with pytest.raises(ValueError, match="names covid"):
        load_train_config(class_weights={"covid": 2}).loss_weights(binary)
    y = tmp_path / "c.yaml"
    y.write_text("arch: vgg11\nepochs: 3\naugment:\n  rotation: 5\n")
    cfg = load_train_config(y, epochs=2)
    assert (cfg.arch, cfg.epochs, cfg.augment.rotation) == ("vgg11", 2, 5)
    y.write_text("arch: vgg12\n")
    with pytest.raises(HideseekError, match="unknown architecture"):
        load_train_config(y)
    with pytest.raises(HideseekError, match="representation"):
        load_train_config(representation="lungs_gone")


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
    from hideseek.classification.models import check_architecture
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


@pytest.mark.parametrize("arch", ["timm:efficientnet_b0", "torchvision:densenet121"])
def test_user_architectures_train_and_evaluate(arch: str, phantom_lungs: Path,
                                               tmp_path: Path) -> None:
    from hideseek.classification.evaluate import evaluate
    from hideseek.classification.train import train_classifier
    from hideseek.data import load_dataset

    data = load_dataset(phantom_lungs)
    cfg = load_train_config(arch=arch, image_size=32, batch_size=16, lr=1e-3, epochs=1,
                            pretrained=False)
    train_classifier(data, tmp_path / "run", cfg, cache_dir=tmp_path / "c")
    loaded, meta = load_classifier(tmp_path / "run")
    assert meta["arch"] == arch and loaded.arch == arch
    result, preds = evaluate(tmp_path / "run", data, cache_dir=tmp_path / "c", n_boot=10)
    assert result["arch"] == arch and result["n"] == len(preds.records) > 0
    assert preds.prob.shape == (result["n"], 3)
