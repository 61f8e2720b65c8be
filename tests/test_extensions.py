"""The four extension recipes of docs/ARCHITECTURE.md, each registered from outside the package
and run through the protocol (:func:`hideseek.protocol.runner.run_protocol`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.engine.checkpoint import atomic_save
from hideseek.explanation.gradcam import CamBatch
from hideseek.explanation.registry import ExplainerSpec, register_explainer
from hideseek.protocol.config import ProtocolConfig
from hideseek.protocol.runner import run_protocol
from hideseek.representations.registry import (
    RepresentationSpec,
    register_representation,
    unregister_representation,
)
from hideseek.segmentation.registry import register_segmenter

TRAIN = {"epochs": 1, "image_size": 32, "batch_size": 16, "pretrained": False,
         "crop_top": 0.0, "augment": {"enabled": False}}
#: (d) a model architecture from outside the package, trained by the protocol.
TOY_ARCH = f"python:{__name__}:toy_net"


def toy_net(num_classes: int = 3) -> nn.Module:
    """A two-convolution classifier of 1-channel images (fast on 2 cores)."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ext_pack")
    write_phantom_dataset(root, PhantomConfig(scenario="lungs", n=48, size=48, seed=1))
    return root


def _config(pack: Path, out: Path, **kw: Any) -> ProtocolConfig:
    base: dict[str, Any] = {
        "name": "ext", "data": [str(pack)], "masks": str(pack / "masks"),
        "architectures": [TOY_ARCH], "representations": ["data", "lungs_removed"],
        "train": TRAIN, "cam": False, "cam_max_images": 6, "n_boot": 50,
        "probe_source": False, "output": str(out)}
    return ProtocolConfig(**{**base, **kw})


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))


# (a) a representation -------------------------------------------------------------------------

def _left_half(mask: np.ndarray, margin: int, boxes: object) -> np.ndarray:
    keep = np.zeros(mask.shape, bool)
    keep[:, : mask.shape[1] // 2] = True
    return keep


@pytest.fixture
def toy_representation() -> Iterator[str]:
    register_representation(RepresentationSpec(
        "toy_left_half", "left half", "the left half of the image", region=_left_half))
    yield "toy_left_half"
    unregister_representation("toy_left_half")


def test_a_representation_runs_through_the_protocol(pack: Path, tmp_path: Path,
                                                    toy_representation: str) -> None:
    cfg = _config(pack, tmp_path / "run", architectures=["resnet18"],
                  representations=["data", toy_representation], cam=True)
    res = run_protocol(cfg)
    assert f"resnet18/{toy_representation}/seed0" in res.cells
    assert toy_representation in res.comparisons["resnet18"]["seed0"]
    assert toy_representation in res.audits["resnet18"].representations
    assert toy_representation in res.cam["resnet18"].representations
    assert (tmp_path / "run" / "cam" / "resnet18" / "fig3.png").is_file()


# (b) an explainer -----------------------------------------------------------------------------

class BrightnessMap:
    """A model-agnostic toy explainer: the map is the image itself."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, targets: Mapping[str, torch.Tensor | None],
                 autocast: bool = False) -> CamBatch:
        prob = self.model(x).float().softmax(1)
        return CamBatch(prob=prob, maps={k: x[:, 0].float() for k in targets},
                        grid=tuple(x.shape[-2:]))  # type: ignore[arg-type]


def test_b_explainer_runs_through_the_protocol(pack: Path, tmp_path: Path) -> None:
    register_explainer(ExplainerSpec("toy_brightness", lambda m, _s: BrightnessMap(m), False,
                                     "the image as its own map"), replace=True)
    res = run_protocol(_config(pack, tmp_path / "run", cam=True, audit=False,
                               cam_method="toy_brightness"))
    cam = res.cam[TOY_ARCH]
    assert cam.method == "toy_brightness"
    assert set(cam.representations) == {"data", "lungs_removed"}
    assert cam.representations["data"].grid == "32x32"


def test_b_unknown_explainer_is_refused_by_the_config(pack: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cam_method"):
        _config(pack, tmp_path / "run", cam_method="no_such_method")


# (c) a segmenter ------------------------------------------------------------------------------

class BoxLungs(nn.Module):
    """Toy segmenter: two fixed boxes are 'lung' whatever the image."""

    multiple = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        lung = torch.full_like(x[:, :1], -5.0)
        for c0, c1 in ((0.15, 0.45), (0.55, 0.85)):
            lung[..., int(0.2 * h): int(0.8 * h), int(c0 * w): int(c1 * w)] = 5.0
        return torch.cat([-lung, lung], 1)


SEGMENTER_LOADS: list[Mapping[str, Any]] = []


def _box_lungs(ckpt: Mapping[str, Any]) -> nn.Module:
    SEGMENTER_LOADS.append(ckpt)
    return BoxLungs()


def test_c_segmenter_kind_runs_through_the_protocol(pack: Path, tmp_path: Path) -> None:
    register_segmenter("toy-box-lungs", _box_lungs, replace=True)
    ckpt = atomic_save(tmp_path / "toy_seg.pt", {"kind": "toy-box-lungs", "image_size": 32})
    SEGMENTER_LOADS.clear()
    res = run_protocol(_config(pack, tmp_path / "run", masks=None,
                               segmentation_model=str(ckpt)))
    assert len(SEGMENTER_LOADS) == 1
    masks = sorted((tmp_path / "run" / "segmentation" / "masks").rglob("*.png"))
    assert len(masks) == 48
    assert sum(1 for row in res.mask_qc if row) > 0
    assert f"{TOY_ARCH}/lungs_removed/seed0" in res.cells


# (d) a model architecture ---------------------------------------------------------------------

def test_d_architecture_is_trained_and_audited_by_the_protocol(pack: Path,
                                                               tmp_path: Path) -> None:
    res = run_protocol(_config(pack, tmp_path / "run", cam=True, cam_method="occlusion"))
    cell = res.cell(TOY_ARCH, "data", 0)
    assert cell.eval.n > 0
    assert res.audits[TOY_ARCH].representations
    assert res.cam[TOY_ARCH].method == "occlusion"
    assert f"ext/{TOY_ARCH}" in res.verdicts
    saved = json.loads((tmp_path / "run" / "verdicts.json").read_text())
    assert saved[f"ext/{TOY_ARCH}"]["verdict"]
