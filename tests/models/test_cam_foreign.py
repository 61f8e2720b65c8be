"""Grad-CAM and occlusion through ``run_cam`` for models the loaders give (issue 12)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from hideseek.classification.config import load_train_config
from hideseek.classification.train import train_classifier
from hideseek.cli.main import main
from hideseek.data import load_dataset
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.errors import HideseekError
from hideseek.explanation import run_cam
from hideseek.explanation.cam_model import cam_model
from hideseek.models import ModelAdapter, ModelSpec, build_model, load_model
from hideseek.runtime import Runtime

SIZE = 48
OURS = ["normal", "pneumonia", "COVID-19"]
EXACT = Runtime(device="cpu", amp=False, channels_last=False)
XRV_MAP = {"Pneumonia": "pneumonia", "Lung Opacity": "COVID-19"}


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 48-image, 48 px lungs phantom."""
    out = tmp_path_factory.mktemp("camforeign") / "phantom"
    write_phantom_dataset(out, PhantomConfig(scenario="lungs", n=48, size=SIZE, seed=3))
    return out


def _cam(models: dict[str, Any], pack: Path, out: Path, max_images: int = 8,
         **kw: Any) -> dict[str, Any]:
    return run_cam(models, load_dataset(pack), pack / "masks", out, runtime=EXACT,
                   cache_dir=pack.parent / "cache", max_images=max_images, n_boot=10, **kw)


def _check(result: dict[str, Any], out: Path, reps: list[str]) -> None:
    """Finite numbers in every class, maps written, a grid reported."""
    assert list(result["representations"]) == reps
    for rep in reps:
        r = result["representations"][rep]
        assert r["grid"] and set(r["per_class"]) <= {*OURS, "all"}
        for m in r["per_class"].values():
            assert 0.0 <= m["lung_share"]["value"] <= 1.0
            assert np.isfinite(m["occlusion"]["value"])
        maps = np.load(out / f"maps_{rep}.npz")
        assert maps["predicted"].shape[1:] == (SIZE, SIZE)
        assert np.isfinite(maps["predicted"]).all() and maps["predicted"].max() > 0
    assert json.loads((out / "cam.json").read_text())["n"] == result["n"]


@pytest.mark.parametrize("arch", ["timm:efficientnet_b0", "torchvision:densenet121"])
def test_gradcam_of_user_architectures_trained_by_hideseek(arch: str, pack: Path,
                                                           tmp_path: Path) -> None:
    cfg = load_train_config(arch=arch, epochs=1, image_size=SIZE, pretrained=False,
                            crop_top=0.0, batch_size=16, augment={"enabled": False})
    train_classifier(load_dataset(pack), tmp_path / "run", cfg, cache_dir=pack.parent / "cache")
    result = _cam({"lungs_removed": tmp_path / "run"}, pack, tmp_path / "cam")
    _check(result, tmp_path / "cam", ["lungs_removed"])
    assert result["representations"]["lungs_removed"]["arch"] == arch


@pytest.fixture(scope="module")
def exported(pack: Path, export_model: Callable[..., dict[str, Path]]) -> dict[str, Path]:
    """A tiny (random) ResNet-18 as TorchScript and ONNX files, with its spec."""
    out = pack.parent / "exports"
    out.mkdir(exist_ok=True)
    return export_model(build_model("resnet18", pretrained=False).eval(), out, SIZE, 0.0, False)


def test_exported_models_get_occlusion_and_onnx_gradcam_is_refused(
        exported: dict[str, Path], pack: Path, tmp_path: Path) -> None:
    spec = ModelSpec(classes=OURS, input={"size": SIZE, "crop_top": 0.0})  # type: ignore[arg-type]
    per_kind = {}
    for kind in ("ts", "onnx"):
        r = _cam({"data": exported[kind]}, pack, tmp_path / kind, 3, spec=spec,
                 method="occlusion")
        _check(r, tmp_path / kind, ["data"])
        per_kind[kind] = r["representations"]["data"]["per_class"]
    for cls, m in per_kind["ts"].items():  # the same network: the same numbers
        assert m["occlusion"]["value"] == pytest.approx(per_kind["onnx"][cls]["occlusion"]
                                                        ["value"], abs=1e-3)
    with pytest.raises(HideseekError, match="Grad-CAM needs a PyTorch module.*onnxruntime"):
        _cam({"data": exported["onnx"]}, pack, tmp_path / "g", spec=spec)
    with pytest.raises(HideseekError, match="cannot hook the layers of a TorchScript graph"):
        cam_model(exported["ts"], spec=spec)


def test_cli_cam_refuses_onnx_gradcam_with_the_reason(
        exported: dict[str, Path], pack: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cam", str(pack), "--model", str(exported["onnx"]), "--spec",
                 str(exported["yaml"]), "--masks", str(pack / "masks"), "--out",
                 str(tmp_path / "o"), "--representations", "data"])
    err = capsys.readouterr().err
    assert code == 1 and "Grad-CAM needs a PyTorch module" in err and "Traceback" not in err
    assert "--method occlusion" in err


def test_xrv_densenet_gradcam_through_a_spec(pack: Path, tmp_path: Path) -> None:
    spec = ModelSpec(mapping=XRV_MAP, activation="sigmoid", normal="one_minus_max",
                     input={"size": SIZE})  # type: ignore[arg-type]
    adapter = load_model("xrv:densenet121-res224-all", spec)
    with torch.no_grad():  # random weights saturate every sigmoid (no gradient): tame them
        adapter.module.classifier.weight.mul_(1e-3)  # type: ignore[union-attr,operator]
    r = _cam({"data": adapter}, pack, tmp_path, spec=spec)
    _check(r, tmp_path, ["data"])
    assert r["representations"]["data"]["arch"] == "xrv:densenet121-res224-all"


def test_cli_target_layer_names_a_layer_or_lists_the_candidates(
        pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["cam", "--model", "xrv:densenet121-res224-all", "--map", "Pneumonia=pneumonia",
            "--map", "Lung Opacity=COVID-19", "--normal", "one_minus_max", "--input-size",
            str(SIZE), str(pack), "--masks", str(pack / "masks"),
            "--representations", "data", "--max-images", "6", "--n-boot", "10",
            "--device", "cpu", "--no-amp"]
    assert main([*base, "--out", str(tmp_path / "bad"), "--target-layer", "features.nope"]) == 1
    err = capsys.readouterr().err
    assert "'features.nope' is not a layer" in err and "features.denseblock3" in err
    assert main([*base, "--out", str(tmp_path / "ok"), "--target-layer",
                 "features.denseblock3"]) == 0
    result = json.loads((tmp_path / "ok" / "cam.json").read_text())
    assert result["representations"]["data"]["grid"] == "3x3"  # denseblock3: 48 px / 16


def test_a_vision_transformer_is_refused_clearly() -> None:
    timm = pytest.importorskip("timm")
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=3,
                            img_size=32)
    adapter = ModelAdapter.from_module(vit, ModelSpec(
        classes=OURS, input={"size": 32, "channels": 3}))  # type: ignore[arg-type]
    with pytest.raises(HideseekError, match="vision transformer"):
        cam_model(adapter)
    assert cam_model(adapter, method="occlusion").layer is None  # occlusion needs no layer
