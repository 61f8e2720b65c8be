"""The protocol reads each checkpoint at most once per stage (issue 10), through ModelCache."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hideseek.classification import checkpoint
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.protocol import runner
from hideseek.protocol.config import ProtocolConfig
from hideseek.protocol.models import ModelCache


def _staged(fn: Callable[..., Any], name: str, stage: list[str]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        stage[0] = name
        try:
            return fn(*args, **kwargs)
        finally:
            stage[0] = "other"
    return wrapped


def test_no_checkpoint_is_read_twice_in_a_stage(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    pack = tmp_path / "pack"
    write_phantom_dataset(pack, PhantomConfig(scenario="lungs", n=48, size=48, seed=1))
    stage = ["other"]
    reads: Counter[tuple[str, Path]] = Counter()
    real = checkpoint.load_checkpoint_file

    def counting(path: str | Path, what: str = "model") -> tuple[Path, Any]:
        file, ckpt = real(path, what)
        reads[(stage[0], file.resolve())] += 1
        return file, ckpt

    monkeypatch.setattr(checkpoint, "load_checkpoint_file", counting)
    for name in ("run_cells", "_audits", "_cams"):
        monkeypatch.setattr(runner, name, _staged(getattr(runner, name), name, stage))
    cfg = ProtocolConfig(
        name="count", data=[str(pack)], masks=str(pack / "masks"), architectures=["resnet18"],
        representations=["data", "lungs_removed"], cam_max_images=6, n_boot=50,
        probe_source=False, output=str(tmp_path / "run"),
        train={"epochs": 1, "image_size": 32, "batch_size": 16, "pretrained": False,
               "crop_top": 0.0, "augment": {"enabled": False}})
    runner.run_protocol(cfg)
    by_stage = Counter(s for s, _ in reads)
    assert by_stage["_audits"] >= 1 and by_stage["_cams"] >= 1  # the counter sees the stages
    assert max(reads.values()) == 1, reads


def test_cache_hands_out_one_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def fake(path: str | Path) -> tuple[Any, dict[str, Any]]:
        calls.append(Path(path))
        return object.__new__(_Model), {"spec": None}

    monkeypatch.setattr(checkpoint, "load_classifier", fake)
    (tmp_path / "cell").mkdir()
    cache = ModelCache()
    first = cache.classifier(tmp_path / "cell")
    again = cache.classifier(tmp_path / "cell" / "best.pt")
    assert first[0] is again[0] and len(calls) == 1
    assert cache.loads == {(tmp_path / "cell" / "best.pt").resolve(): 1}


class _Model:
    def eval(self) -> _Model:
        return self


def test_resolve_loads_each_source_once_per_spec(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from hideseek.models import loaders
    from hideseek.models.spec import ModelSpec

    calls: list[tuple[str, ModelSpec | None, str | None]] = []

    def fake(source: Any, spec: ModelSpec | None = None, arch: str | None = None) -> object:
        calls.append((str(source), spec, arch))
        return object()

    monkeypatch.setattr(loaders, "resolve_model", fake)
    (tmp_path / "cell").mkdir()
    cache = ModelCache()
    load = cache.loader(arch="resnet18")
    assert load(tmp_path / "cell") is load(str(tmp_path / "cell"))
    assert cache.loader(arch="resnet18")("torchvision:x") is cache.resolve("torchvision:x",
                                                                           arch="resnet18")
    other = cache.resolve("torchvision:x", ModelSpec(classes=["a", "b"]))
    assert other is not cache.resolve("torchvision:x", arch="resnet18")
    assert len(calls) == 3
    assert cache.loads == {(tmp_path / "cell" / "best.pt").resolve(): 1}


def test_cell_hash_is_unchanged_by_the_typed_spec() -> None:
    """A run made before CellSpec resumes: the hashes of its cells are the same."""
    from hideseek.classification.config import TrainConfig
    from hideseek.protocol.cells import CellSpec, cell_hash

    train = {"epochs": 1, "arch": "resnet18", "representation": "data", "seed": 0,
             "split_seed": 0, "fill": "zero", "box_margin": 2}
    spec = CellSpec(["/d/a"], None, "/d/a/masks", TrainConfig(**train), "exclude", 50, "dh",
                    "mh", "c1", "/c", "/o")
    # the hashes of the dict spec before CellSpec, and before the spec held a TrainConfig
    assert cell_hash(spec) == "781305ec492780a1"
    hidden = CellSpec(["/d/a"], None, "/d/a/masks",
                      TrainConfig(**{**train, "representation": "lungs_removed"}), "exclude", 50,
                      "dh", "mh", "c1", "/c", "/o")
    assert cell_hash(hidden) == "87a060d503d60186"
    assert str(hidden) == "resnet18/lungs_removed seed 0"
