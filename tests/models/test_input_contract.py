"""One input convention for every model kind (``resolve_input``), ``num_classes``, the spec
fields that cannot apply, and the README's notebook call with torchvision models."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torchvision
from torch import nn

import hideseek
from hideseek.classification.checkpoint import save_classifier
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.errors import HideseekError
from hideseek.models import InputSpec, ModelSpec, build_model, load_model, resolve_model
from hideseek.models.inputs import (
    IMAGENET_MEAN,
    ModelInput,
    onnx_input,
    resolve_input,
    timm_input,
)
from hideseek.runtime import Runtime
from hideseek.task import COVID_TASK

OURS = ["normal", "pneumonia", "COVID-19"]
EXACT = Runtime(device="cpu", amp=False, channels_last=False)


def _conv(channels: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


@pytest.fixture(scope="module")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32 px phantom pack with lung masks (a handful of test images)."""
    out = tmp_path_factory.mktemp("tiny_pack")
    write_phantom_dataset(out, PhantomConfig(scenario="lungs", n=30, size=32, seed=3))
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One of our checkpoints (random ResNet-18 weights, 32 px)."""
    out = tmp_path_factory.mktemp("ckpt")
    save_classifier(out / "best.pt", build_model("resnet18", 3, pretrained=False), OURS,
                    {"image_size": 32, "crop_top": 0.08}, task=COVID_TASK.to_json())
    return out


def test_the_readme_notebook_call_with_torchvision_models(
        tiny_pack: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Acceptance: ResNet-18 and DenseNet-121 in memory (spec: classes only) and by name with
    num_classes; random weights are said."""
    torch.manual_seed(0)
    models: list[tuple[Any, dict[str, Any]]] = [
        (torchvision.models.resnet18(num_classes=3), {"classes": OURS}),
        (torchvision.models.densenet121(num_classes=3), {"classes": OURS}),
        ("torchvision:resnet18", {"classes": OURS, "num_classes": 3}),
        ("torchvision:densenet121", {"classes": OURS, "num_classes": 3}),
    ]
    with caplog.at_level(logging.INFO):
        for model, spec in models:
            result = hideseek.audit(model, tiny_pack, spec=spec, n_boot=10, runtime=EXACT,
                                    representations=("lungs_removed",), batch_size=8,
                                    cache_dir=tmp_path / "cache")
            assert result["n"] > 0 and "lungs_removed" in result["vs_data"], model
            assert result["representations"]["data"]["accuracy"] is not None
    text = caplog.text
    assert "input 224 px, 3 channels, ImageNet mean / std" in text
    assert "its first convolution takes 3 channels" in text
    for name in ("torchvision:resnet18", "torchvision:densenet121"):
        assert f"{name}: random weights" in text and "mean nothing unless" in text


def test_resolve_input_field_by_field(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        grey, why = resolve_input(_conv(1), None, name="grey")
    assert (grey.channels, grey.mean, grey.range, grey.size) == (1, None, (0.0, 1.0), 224)
    assert "its first convolution takes 1 channel" in why and "grey: input 224 px" in caplog.text
    rgb, _ = resolve_input(_conv(3), ModelSpec(input={"size": 48}))  # type: ignore[arg-type]
    assert (rgb.channels, rgb.mean, rgb.size) == (3, IMAGENET_MEAN, 48)
    # a declared channel count wins, without the model's 3-channel normalisation, and is warned
    with caplog.at_level(logging.WARNING):
        one, _ = resolve_input(_conv(3), InputSpec(channels=1), name="m")
    assert (one.channels, one.mean) == (1, None)
    assert "declares 1 input channel(s) but its first convolution takes 3" in caplog.text
    # loader defaults come after the model's own, before the documented ones
    inp, why = resolve_input(None, None, {"crop_top": 0.0, "size": 96},
                             own=ModelInput({"size": 64}, "the test"))
    assert (inp.size, inp.crop_top, inp.channels) == (64, 0.0, 1)
    assert "size: the test" in why and "crop_top: the loader's defaults" in why
    with pytest.raises(HideseekError, match="it takes none.*leave out --input-mean"):
        resolve_input(None, InputSpec(mean=[0.5]),
                      own=ModelInput({"mean": None}, "fixed here", fixed=True))


def test_what_models_say_of_their_input(tmp_path: Path) -> None:
    import timm

    cfg = timm_input(timm.create_model("resnet10t"))
    assert cfg is not None and cfg.fields["size"] == 176 and cfg.fields["channels"] == 3
    session = SimpleNamespace(get_inputs=lambda: [SimpleNamespace(shape=["N", 3, 64, 64])])
    onnx = onnx_input(session)
    assert onnx is not None and onnx.fields["size"] == 64 and onnx.fields["mean"] == IMAGENET_MEAN
    # a torch.export program: the shape it was exported with (1 channel, 20 px)
    x = torch.rand(2, 1, 20, 20)
    program = torch.export.export(_conv(1), (x,),
                                  dynamic_shapes=({0: torch.export.Dim.DYNAMIC},))
    torch.export.save(program, tmp_path / "m.pt2")
    a = load_model(tmp_path / "m.pt2", ModelSpec(classes=OURS))
    assert (a.input.channels, a.input.size) == (1, 20) and "exported program" in \
        a.input_provenance
    assert a.predict_proba(torch.rand(2, 1, 32, 32)).shape == (2, 3)
    # a traced TorchScript module (not our wrapper): its first convolution, no exported shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated in this torch
        torch.jit.trace(_conv(1), x).save(str(tmp_path / "m.ts"))
        ts = load_model(tmp_path / "m.ts", ModelSpec(classes=OURS))
    assert ts.input.channels == 1 and "first convolution" in ts.input_provenance


def test_num_classes_and_long_class_lists() -> None:
    many = [f"c{i}" for i in range(999)]
    with pytest.raises(HideseekError) as info:
        load_model("torchvision:resnet18", ModelSpec(classes=many), pretrained=False)
    msg = str(info.value)
    assert "1000 outputs" in msg and "--num-classes 999" in msg and "... and 987 more" in msg
    assert len(msg) < 500 and "\n" not in msg
    with pytest.raises(ValueError, match="num_classes is 3 but classes names 2"):
        ModelSpec(classes=OURS[:2], num_classes=3)
    with pytest.raises(HideseekError, match="--arch .* applies to a plain state dict only"):
        load_model("torchvision:resnet18", ModelSpec(classes=OURS, num_classes=3),
                   pretrained=False, arch="resnet50")
    a = resolve_model(torchvision.models.resnet18(), ModelSpec(classes=OURS, num_classes=3))
    with pytest.raises(HideseekError, match="1000 outputs but the spec says num_classes 3"):
        a.predict_proba(torch.rand(1, 1, 32, 32))


def test_plain_state_dict_refuses_a_normalised_input(tmp_path: Path) -> None:
    net = build_model("resnet18", 3, pretrained=False)
    torch.save(net.backbone.state_dict(), tmp_path / "w.pth")
    ok = load_model(tmp_path / "w.pth", ModelSpec(classes=OURS, input={"size": 32}),  # type: ignore[arg-type]
                    arch="resnet18")
    assert (ok.input.size, ok.input.channels, ok.input.mean) == (32, 1, None)
    spec = ModelSpec(classes=OURS, input={"channels": 3, "mean": IMAGENET_MEAN})  # type: ignore[arg-type]
    with pytest.raises(HideseekError, match="resnet18 wrapper.*--input-channels / --input-mean"):
        load_model(tmp_path / "w.pth", spec, arch="resnet18")


def test_our_checkpoint_refuses_flags_that_differ(checkpoint: Path, tiny_pack: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from hideseek.cli.main import main

    assert load_model(checkpoint, ModelSpec(classes=OURS, input={"size": 32})).input.size == 32  # type: ignore[arg-type]
    with pytest.raises(HideseekError, match="declares its own.*input.size 64 .*checkpoint's: "
                       "32.*--input-size"):
        load_model(checkpoint, ModelSpec(input={"size": 64}))  # type: ignore[arg-type]
    with pytest.raises(HideseekError, match="arch resnet50 .*--arch"):
        load_model(checkpoint, None, arch="resnet50")
    assert main(["evaluate", str(tiny_pack), "--model", str(checkpoint), "--classes",
                 "a,b,c", "--activation", "sigmoid"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "leave out --classes / --activation" in err
