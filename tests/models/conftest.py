"""Fixtures of the model tests: one way to export a classifier to the foreign formats."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

#: (model, folder, input side, crop_top, with a torch.export program) -> kind -> file
Export = Callable[[nn.Module, Path, int, float, bool], dict[str, Path]]


def _export(model: nn.Module, out: Path, size: int, crop_top: float,
            pt2: bool = False) -> dict[str, Path]:
    """``model`` as TorchScript, ONNX (and a ``torch.export`` program) with ``model.yaml``,
    its spec in our class order."""
    x = torch.rand(2, 1, size, size)
    dynamic = ({0: torch.export.Dim.DYNAMIC},)
    if pt2:
        torch.export.save(torch.export.export(model, (x,), dynamic_shapes=dynamic),
                          out / "model.pt2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated in this torch
        torch.jit.trace(model, x).save(str(out / "model.ts"))
        torch.onnx.export(model, (x,), str(out / "model.onnx"), input_names=["x"],
                          dynamic_shapes=dynamic, dynamo=True)
    (out / "model.yaml").write_text(f"classes: [normal, pneumonia, COVID-19]\n"
                                    f"input: {{size: {size}, channels: 1, "
                                    f"crop_top: {crop_top}}}\n")
    kinds = ("pt2", "ts", "onnx", "yaml") if pt2 else ("ts", "onnx", "yaml")
    return {k: out / f"model.{k}" for k in kinds}


@pytest.fixture(scope="session")
def export_model() -> Export:
    """The exporter: ``export_model(model, folder, size, crop_top, pt2)``."""
    return _export
