"""Issue 12 acceptance: one hideseek-trained model audited as a checkpoint, a torch.export
program, TorchScript, ONNX and a permuted plain state dict gives the same answer; a foreign model
without a class order is refused; a TorchXRayVision DenseNet is audited through a spec."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from hideseek.classification.audit import audit
from hideseek.classification.checkpoint import load_classifier
from hideseek.classification.config import load_train_config
from hideseek.classification.evaluate import Predictions
from hideseek.classification.train import train_classifier
from hideseek.data import load_dataset
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.errors import HideseekError
from hideseek.models import ModelSpec, load_model_spec
from hideseek.runtime import Runtime

EXACT = Runtime(device="cpu", amp=False, channels_last=False)
REPS = ("lungs_isolated", "lungs_removed")
SIZE = 48


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A phantom (48 px) and a ResNet-18 trained on it for 2 epochs; its folder."""
    root = tmp_path_factory.mktemp("acc")
    data_dir = root / "phantom"
    write_phantom_dataset(data_dir, PhantomConfig(scenario="lungs", n=80, size=SIZE, seed=1))
    cfg = load_train_config(arch="resnet18", image_size=SIZE, batch_size=16, lr=1e-3, epochs=2,
                            pretrained=False)
    train_classifier(load_dataset(data_dir), root / "run", cfg, cache_dir=root / "cache")
    return data_dir, root / "run"


def _audit(model: Any, data_dir: Path, **kw: Any) -> tuple[dict[str, Any], dict[str, Predictions]]:
    return audit(model, load_dataset(data_dir), data_dir / "masks", representations=REPS,
                 runtime=EXACT, n_boot=20, cache_dir=data_dir.parent / "cache", **kw)


def _core(result: dict[str, Any]) -> str:
    """Metrics that depend on the predicted labels only (as JSON: NaN equals NaN)."""
    return json.dumps({rep: (m["accuracy"], m["confusion_matrix"],
                  {c: (v["sensitivity"], v["ppv"]) for c, v in m["per_class"].items()})
            for rep, m in result["representations"].items()})


def test_exports_audit_like_the_checkpoint(trained: tuple[Path, Path],
                                           export_model: Callable[..., dict[str, Path]]) -> None:
    data_dir, run = trained
    files = export_model(load_classifier(run)[0], run, SIZE, 0.08, True)
    del files["yaml"]
    spec = load_model_spec(run / "model.yaml")
    ref, ref_preds = _audit(run, data_dir)
    assert ref["n"] >= 8
    for kind, path in files.items():
        res, preds = _audit(path, data_dir, spec=spec)
        assert _core(res) == _core(ref), kind
        for rep, p in preds.items():
            assert np.array_equal(p.pred, ref_preds[rep].pred), (kind, rep)
            tol = 1e-4 if kind == "onnx" else 1e-5
            assert np.abs(p.prob - ref_preds[rep].prob).max() < tol, (kind, rep)
    # The test can fail: a wrong input size changes the predictions.
    wrong = spec.model_copy(update={"input": spec.input.model_copy(update={"size": 32})})
    res, preds = _audit(files["ts"], data_dir, spec=wrong)
    assert np.abs(preds["data"].prob - ref_preds["data"].prob).max() > 1e-3
    with pytest.raises(HideseekError, match="input.size"):  # the program is fixed at 48 px
        _audit(files["pt2"], data_dir, spec=wrong)


def test_permuted_state_dict_needs_and_honours_its_class_order(
        trained: tuple[Path, Path]) -> None:
    data_dir, run = trained
    model, _ = load_classifier(run)
    state = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    order = [2, 0, 1]  # COVID-19, normal, pneumonia (alphabetical, as an ImageFolder gives)
    state["fc.weight"], state["fc.bias"] = state["fc.weight"][order], state["fc.bias"][order]
    torch.save(state, run / "plain.pth")
    ref, _ = _audit(run, data_dir)
    spec = ModelSpec(classes=["COVID-19", "normal", "pneumonia"],
                     input={"size": SIZE})  # type: ignore[arg-type]
    res, _ = _audit(run / "plain.pth", data_dir, arch="resnet18", spec=spec)
    assert _core(res) == _core(ref)
    with pytest.raises(HideseekError, match="class order is not declared.*silently swaps"):
        _audit(run / "plain.pth", data_dir, arch="resnet18")
    # Declared in our order instead: every predicted label moves, the metrics change.
    ours = spec.model_copy(update={"classes": ["normal", "pneumonia", "COVID-19"]})
    wrong, _ = _audit(run / "plain.pth", data_dir, arch="resnet18", spec=ours)
    assert _core(wrong) != _core(ref)


XRV_SPEC = """\
activation: sigmoid
mapping: {Pneumonia: pneumonia, Lung Opacity: COVID-19, Consolidation: COVID-19}
normal: one_minus_max
input: {size: 64, channels: 1, range: [-1024, 1024], crop_top: 0.0, square: pad}
"""


def test_xrv_densenet_audits_through_a_spec_and_a_wrong_range_warns(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data_dir = tmp_path / "ph"
    write_phantom_dataset(data_dir, PhantomConfig(scenario="lungs", n=24, size=SIZE, seed=3))
    (tmp_path / "xrv.yaml").write_text(XRV_SPEC)
    spec = load_model_spec(tmp_path / "xrv.yaml")
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING):
        res, preds = _audit("xrv:densenet121-res224-all", data_dir, spec=spec)
    assert res["n"] == 24 and res["arch"] == "xrv:densenet121-res224-all"
    assert set(res["representations"]) == {"data", *REPS}
    assert np.allclose(preds["data"].prob.sum(1), 1.0, atol=1e-5)
    assert "probably meaningless" not in caplog.text
    caplog.clear()
    wrong = spec.model_copy(update={"input": spec.input.model_copy(update={"range": (0., 1.)})})
    with caplog.at_level(logging.WARNING):
        _audit("xrv:densenet121-res224-all", data_dir, spec=wrong)
    warned = [r for r in caplog.records if "probably meaningless" in r.getMessage()]
    assert len(warned) == 1  # once, not once per batch or representation
    assert "[-1024, 1024]" in warned[0].getMessage()


def test_python_api_audits_a_module_and_a_callable(trained: tuple[Path, Path]) -> None:
    import hideseek

    data_dir, run = trained
    model, _ = load_classifier(run)
    ref, _ = _audit(run, data_dir, split="all")
    spec = {"classes": ["normal", "pneumonia", "COVID-19"], "input": {"size": SIZE}}
    kw = {"representations": REPS, "runtime": EXACT, "n_boot": 20, "split": "all",
          "cache_dir": data_dir.parent / "cache"}
    res = hideseek.audit(model, data_dir, spec=spec, **kw)
    assert _core(res) == _core(ref) and set(res) == set(ref)

    def probabilities(x: torch.Tensor) -> torch.Tensor:
        return model(x).softmax(1)

    assert _core(hideseek.audit(probabilities, data_dir, spec=spec, **kw)) == _core(ref)
    with pytest.raises(HideseekError, match="class order is not declared"):
        hideseek.audit(model, data_dir, **kw)
