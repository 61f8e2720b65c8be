"""The explainer registry: built-ins, errors, and a toy explainer registered from outside the
package and run through ``run_cam`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from hideseek.classification import build_model, save_classifier
from hideseek.data import load_dataset
from hideseek.data.labels import LABELS
from hideseek.errors import HideseekError
from hideseek.explanation import CamBatch, run_cam
from hideseek.explanation.registry import (
    ExplainerSpec,
    explainer_names,
    get_explainer,
    register_explainer,
)


class GradientTimesInput:
    """Gradient x input (Shrikumar et al. 2016): the whole extension is this class and the
    ``register_explainer`` call below."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __call__(self, x: torch.Tensor, targets: dict[str, torch.Tensor | None],
                 autocast: bool = False) -> CamBatch:
        self.model.eval()
        maps = {}
        with torch.enable_grad():
            for name, t in targets.items():
                xi = x.detach().clone().requires_grad_(True)
                logits = self.model(xi)
                idx = logits.argmax(1) if t is None else t
                (grad,) = torch.autograd.grad(logits.gather(1, idx.view(-1, 1)).sum(), xi)
                maps[name] = (grad * xi).sum(1).clamp_min(0).detach()
        prob = logits.detach().softmax(1)
        return CamBatch(prob=prob, maps=maps, grid=tuple(x.shape[-2:]))  # type: ignore[arg-type]


def test_builtins_and_errors() -> None:
    assert {"gradcam", "occlusion"} <= set(explainer_names())
    assert get_explainer("gradcam").needs_gradients
    assert not get_explainer("occlusion").needs_gradients
    with pytest.raises(HideseekError, match="unknown explanation method"):
        get_explainer("no_such_method")
    with pytest.raises(HideseekError, match="already registered"):
        register_explainer(get_explainer("gradcam"))


@pytest.mark.parametrize("method", ["grad_x_input", "occlusion"])
def test_registered_explainer_runs_through_run_cam(phantom_lungs: Path, tmp_path: Path,
                                                   method: str) -> None:
    register_explainer(ExplainerSpec("grad_x_input", lambda m, _size: GradientTimesInput(m),
                                     True, "gradient x input"), replace=True)
    torch.manual_seed(0)
    save_classifier(tmp_path / "m" / "best.pt", build_model("resnet18", 3, pretrained=False),
                    list(LABELS), {"arch": "resnet18", "image_size": 32, "crop_top": 0.0})
    res = run_cam({"data": tmp_path / "m"}, load_dataset(phantom_lungs),
                  phantom_lungs / "masks", tmp_path / "cam", split="all", max_images=12,
                  n_boot=50, method=method)
    assert res["method"] == method and res["n"] == 12
    rep = json.loads((tmp_path / "cam" / "cam.json").read_text())["representations"]["data"]
    assert rep["grid"] == ("32x32" if method == "grad_x_input" else "8x8")
    lung_ratio = rep["per_class"]["all"]["lung_ratio"]
    assert set(lung_ratio) >= {"value", "ci", "null", "null_uniform"}
    assert lung_ratio["null"]["value"] is not None
