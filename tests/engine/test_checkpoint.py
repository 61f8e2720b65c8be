"""Checkpoints: atomic, versioned (a future version is refused), today's files still load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hideseek.classification.checkpoint import KIND, load_classifier, save_classifier
from hideseek.data.manifest import Record, write_manifest
from hideseek.engine import CHECKPOINT_VERSION, atomic_save, check_version
from hideseek.engine.checkpoint import load_checkpoint_file
from hideseek.errors import HideseekError
from hideseek.models import build_model
from hideseek.segmentation import (
    UNet,
    UNetConfig,
    export_segmenter,
    load_segmenter,
    save_segmenter,
)
from hideseek.segmentation.checkpoint import DEFAULT_MODEL, SHIPPED_MODELS, shipped_model_path


def test_atomic_save_writes_a_version_and_leaves_no_tmp(tmp_path: Path) -> None:
    atomic_save(tmp_path / "a.pt", {"x": torch.ones(2)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]
    ckpt = torch.load(tmp_path / "a.pt", weights_only=True)
    assert ckpt["format_version"] == CHECKPOINT_VERSION == 1
    assert check_version(tmp_path / "a.pt", ckpt) == 1


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "last.pt"
    atomic_save(target, {"epoch": 1})

    def broken_save(obj: object, f: Path) -> None:
        Path(f).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save(target, {"epoch": 2})
    monkeypatch.undo()
    assert torch.load(target, weights_only=True)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def _future(path: Path, payload: dict[str, object]) -> Path:
    torch.save({**payload, "format_version": CHECKPOINT_VERSION + 1}, path)
    return path


def test_a_future_version_is_refused_everywhere(tmp_path: Path) -> None:
    model = build_model("resnet18", 3, pretrained=False)
    save_classifier(tmp_path / "c.pt", model, ["a", "b", "c"], {})
    clf = torch.load(tmp_path / "c.pt", weights_only=True)
    future = _future(tmp_path / "future_c.pt", clf)
    with pytest.raises(HideseekError, match=r"future_c\.pt: checkpoint format version 2 is "
                       "newer than this hideseek reads"):
        load_classifier(future)
    net = UNet(UNetConfig(depth=2, base=2))
    save_segmenter(tmp_path / "s.pt", net, 16)
    seg = _future(tmp_path / "future_s.pt", torch.load(tmp_path / "s.pt", weights_only=True))
    with pytest.raises(HideseekError, match="upgrade hideseek"):
        load_segmenter(seg)
    with pytest.raises(HideseekError, match="invalid checkpoint format_version"):
        check_version("x.pt", {"format_version": "one"})


def test_classifier_checkpoints_of_today_still_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("resnet18", 3, pretrained=False).eval()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    # The unversioned layout save_classifier wrote before the engine.
    torch.save({"kind": KIND, "arch": "resnet18", "classes": ["normal", "pneumonia", "COVID-19"],
                "config": {"arch": "resnet18"}, "state_dict": state, "meta": {"epoch": 3}},
               tmp_path / "old.pt")
    save_classifier(tmp_path / "new.pt", model, ["normal", "pneumonia", "COVID-19"],
                    {"arch": "resnet18"}, epoch=3)
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        want = model(x)
        for name in ("old.pt", "new.pt"):
            loaded, meta = load_classifier(tmp_path / name)
            assert meta["classes"] == ["normal", "pneumonia", "COVID-19"]
            assert torch.equal(loaded(x), want)
    assert check_version("old.pt", torch.load(tmp_path / "old.pt", weights_only=True)) == 0


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_every_shipped_segmenter_loads_by_name(name: str) -> None:
    file = shipped_model_path(name)
    assert file is not None and file.stat().st_size < 10e6
    path, ckpt = load_checkpoint_file(file)
    assert ckpt["kind"] == "hideseek-unet" and check_version(path, ckpt) <= CHECKPOINT_VERSION
    model, size, meta = load_segmenter(name if name != DEFAULT_MODEL else None)
    assert isinstance(model, UNet) and not model.training and size % model.multiple == 0
    assert meta.get("qc_ranges"), "every shipped model carries the shape ranges of its training"
    assert shipped_model_path("no-such-model") is None
    with torch.no_grad():
        out = model(torch.rand(1, 1, size, size))
    assert out.shape == (1, 2, size, size) and out.dtype == torch.float32


def test_export_segmenter_halves_weights_and_names_held_out_files(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = UNet(UNetConfig(depth=2, base=4)).eval()
    run = tmp_path / "run"
    save_segmenter(run / "best.pt", net, 16, epoch=3, qc_ranges={"area": [0.1, 0.5]})
    write_manifest(run / "splits.csv", [Record(f"{i}.png", None, split=s) for i, s in
                                        enumerate(["train", "val", "train", "test", "val"])])
    out = export_segmenter(run, tmp_path / "small.pt", recipe="hideseek segment train ...")
    ckpt = torch.load(out, weights_only=True)
    assert {v.dtype for v in ckpt["state_dict"].values() if v.is_floating_point()} == {
        torch.float16}
    model, size, meta = load_segmenter(out)
    assert size == 16 and meta["epoch"] == 3 and meta["qc_ranges"] == {"area": [0.1, 0.5]}
    assert (meta["val_files"], meta["test_files"]) == (["1.png", "4.png"], ["3.png"])
    assert meta["recipe"].startswith("hideseek segment train")
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x), atol=0.05)
    (run / "splits.csv").write_text("a,b\n1,2\n")
    with pytest.raises(HideseekError, match="splits.csv: not a splits file"):
        export_segmenter(run, tmp_path / "again.pt")


def test_segmenter_round_trip_is_versioned(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = UNet(UNetConfig(depth=2, base=2)).eval()
    save_segmenter(tmp_path / "s.pt", net, 16, epoch=2)
    assert torch.load(tmp_path / "s.pt", weights_only=True)["format_version"] == 1
    model, size, meta = load_segmenter(tmp_path / "s.pt")
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), net(x))
    assert (size, meta) == (16, {"epoch": 2})
