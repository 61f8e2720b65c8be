"""Classifier checkpoints: ours round-trip, a plain state dict needs its ``arch``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from hideseek.classification.checkpoint import load_classifier, save_classifier
from hideseek.errors import HideseekError
from hideseek.models import build_model


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
