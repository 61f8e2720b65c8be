"""The engine on a tiny synthetic task: exact resume, early stopping, metrics, old states, and
a finished run's state dropped unless kept (``keep_state``; the tests that compare ``last.pt``
of finished runs keep it)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hideseek.engine import (
    CHECKPOINT_VERSION,
    EngineConfig,
    TrainTask,
    atomic_save,
    claim_run_dir,
    epoch_seed,
    load_training_state,
    run_training,
)
from hideseek.errors import HideseekError
from hideseek.runtime import Runtime

RT = Runtime(amp=False, channels_last=False)


def _data(seed: int, n: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0.5).long()
    return TensorDataset(x, y)


def _task(scores: Iterator[float] | None = None) -> TrainTask:
    """A small conv net with batch norm and dropout (both need the per-epoch seeding)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Dropout(0.3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    train, val = _data(1, 48), _data(2, 16)

    def batches(epoch: int) -> DataLoader[tuple[torch.Tensor, ...]]:
        return DataLoader(train, batch_size=8, shuffle=True,
                          generator=torch.Generator().manual_seed(epoch_seed(3, epoch)))

    @torch.no_grad()
    def validate(m: nn.Module) -> dict[str, float]:
        m.eval()
        x, y = val.tensors
        loss = float(F.cross_entropy(m(x), y))
        return {"val_loss": loss, "val_scripted": next(scores) if scores else -loss}

    def save_best(path: Path, epoch: int, s: dict[str, float]) -> None:
        atomic_save(path, {"kind": "toy", "state_dict": model.state_dict(), "epoch": epoch})

    return TrainTask(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.5,
                                                            momentum=0.9),
                     batches=batches, loss=F.cross_entropy, validate=validate,
                     score=lambda s: s["val_scripted"], save_best=save_best)


def _same_state(a: Path, b: Path) -> None:
    sa, sb = load_training_state(a), load_training_state(b)
    assert sa["model"].keys() == sb["model"].keys()
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"])
    mom_a = [v["momentum_buffer"] for v in sa["optimizer"]["state"].values()]
    mom_b = [v["momentum_buffer"] for v in sb["optimizer"]["state"].values()]
    assert all(torch.equal(x, y) for x, y in zip(mom_a, mom_b, strict=True))
    assert sa["history"] == sb["history"]


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    full = run_training(tmp_path / "full", _task(), EngineConfig(epochs=4, seed=3,
                                                                 keep_state=True), RT)
    run_training(tmp_path / "part", _task(), EngineConfig(epochs=2, seed=3, keep_state=True), RT)
    part = run_training(tmp_path / "part", _task(), EngineConfig(epochs=4, seed=3,
                                                                 keep_state=True), RT,
                        resume=True)
    _same_state(tmp_path / "full" / "last.pt", tmp_path / "part" / "last.pt")
    assert (full.best_epoch, full.history) == (part.best_epoch, part.history)
    assert part.epochs_run == 4
    metrics = (tmp_path / "full" / "metrics.csv").read_text()
    assert metrics == (tmp_path / "part" / "metrics.csv").read_text()
    rows = list(csv.DictReader(metrics.splitlines()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    assert set(rows[0]) == {"epoch", "train_loss", "val_loss", "val_scripted"}
    # The training changed the weights (the comparison above is not vacuous).
    first = _task().model.state_dict()
    last = load_training_state(tmp_path / "full" / "last.pt")["model"]
    assert not torch.equal(first["0.weight"], last["0.weight"])


def test_seeding_depends_on_the_seed(tmp_path: Path) -> None:
    run_training(tmp_path / "a", _task(), EngineConfig(epochs=1, seed=3, keep_state=True), RT)
    run_training(tmp_path / "b", _task(), EngineConfig(epochs=1, seed=4, keep_state=True), RT)
    a = load_training_state(tmp_path / "a" / "last.pt")["model"]
    b = load_training_state(tmp_path / "b" / "last.pt")["model"]
    assert not torch.equal(a["0.weight"], b["0.weight"])  # dropout draws differ


def test_early_stopping_stops_and_is_recorded(tmp_path: Path) -> None:
    # Improves at 1 and 2, then 3 and 4 do not beat 0.6 by more than 0.05: stop at 4.
    scores = iter([0.5, 0.6, 0.64, 0.62, 0.99, 0.99])
    cfg = EngineConfig(epochs=6, seed=3, patience=2, min_delta=0.05, keep_state=True)
    res = run_training(tmp_path / "run", _task(scores), cfg, RT)
    assert res.stopped_early_at == 4 and res.epochs_run == 4
    assert res.best_epoch == 3  # best.pt is the best score, improvement threshold aside
    assert res.early_stopping(cfg) == {"patience": 2, "min_delta": 0.05, "stopped_early": True,
                                       "stopped_at_epoch": 4, "max_epochs": 6}
    state = load_training_state(tmp_path / "run" / "last.pt")
    assert state["stopped_early_at"] == 4 and state["epoch"] == 3
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=True)["epoch"] == 3
    # Resuming a stopped run trains nothing more.
    again = run_training(tmp_path / "run", _task(iter([1.0])), cfg, RT, resume=True)
    assert again.epochs_run == 4 and again.stopped_early_at == 4 and again.images == 0


def test_no_patience_never_stops(tmp_path: Path) -> None:
    res = run_training(tmp_path / "run", _task(iter([0.9, 0.1, 0.1, 0.1])),
                       EngineConfig(epochs=4, seed=3), RT)
    assert res.stopped_early_at is None and res.epochs_run == 4 and res.best_epoch == 1


def test_resumes_a_state_written_before_versioning(tmp_path: Path) -> None:
    keep = EngineConfig(epochs=3, seed=3, keep_state=True)
    run_training(tmp_path / "full", _task(), keep, RT)
    run_training(tmp_path / "old", _task(), EngineConfig(epochs=2, seed=3, keep_state=True), RT)
    # Rewrite last.pt the way hideseek 0.x did: plain torch.save, no version, no extra keys.
    state = load_training_state(tmp_path / "old" / "last.pt")
    legacy = {k: state[k] for k in ("model", "optimizer", "epoch", "best", "best_epoch",
                                    "history")}
    torch.save(legacy, tmp_path / "old" / "last.pt")
    (tmp_path / "old" / "finished.json").unlink()  # hideseek 0.x wrote no record of the end
    run_training(tmp_path / "old", _task(), keep, RT, resume=True)
    _same_state(tmp_path / "full" / "last.pt", tmp_path / "old" / "last.pt")
    new = torch.load(tmp_path / "old" / "last.pt", weights_only=True)
    assert new["format_version"] == CHECKPOINT_VERSION


def test_refuses_to_overwrite_a_run(tmp_path: Path) -> None:
    run_training(tmp_path / "run", _task(), EngineConfig(epochs=1), RT)
    with pytest.raises(HideseekError, match="--resume"):
        claim_run_dir(tmp_path / "run", resume=False)
    assert claim_run_dir(tmp_path / "run", resume=True) == tmp_path / "run"
    assert claim_run_dir(tmp_path / "new", resume=False).is_dir()


def test_not_a_training_state(tmp_path: Path) -> None:
    atomic_save(tmp_path / "x.pt", {"kind": "toy"})
    with pytest.raises(HideseekError, match="not a hideseek training state"):
        load_training_state(tmp_path / "x.pt")


@pytest.mark.slow
def test_compile_option_trains_and_saves_plain_weights(tmp_path: Path) -> None:
    res = run_training(tmp_path / "run", _task(), EngineConfig(epochs=1, seed=3, compile=True,
                                                               keep_state=True), RT)
    assert res.epochs_run == 1 and res.images == 48
    state = load_training_state(tmp_path / "run" / "last.pt")
    assert set(state["model"]) == set(_task().model.state_dict())  # no _orig_mod. prefix


def test_sparse_checkpoints_resume_to_the_same_weights(tmp_path: Path) -> None:
    """``checkpoint_every``: a run cut between checkpoints repeats the epochs since the last."""
    run_training(tmp_path / "full", _task(), EngineConfig(epochs=5, seed=3, keep_state=True), RT)
    every = EngineConfig(epochs=5, seed=3, checkpoint_every=3, keep_state=True)

    def crash(epoch: int) -> None:
        if epoch == 4:
            raise KeyboardInterrupt

    task = _task()
    task.before_epoch = crash
    with pytest.raises(KeyboardInterrupt):
        run_training(tmp_path / "cut", task, every, RT)
    assert load_training_state(tmp_path / "cut" / "last.pt")["epoch"] == 2  # after epoch 3
    again = run_training(tmp_path / "cut", _task(), every, RT, resume=True)
    assert again.epochs_run == 5
    _same_state(tmp_path / "full" / "last.pt", tmp_path / "cut" / "last.pt")
    with pytest.raises(ValueError, match="checkpoint_every"):
        EngineConfig(epochs=2, checkpoint_every=0)


def _untrainable() -> TrainTask:
    task = _task()

    def no_batches(epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        raise AssertionError("a finished run was trained again")

    task.batches = no_batches
    return task


def test_a_finished_run_drops_its_state_and_a_resume_reports_it(tmp_path: Path) -> None:
    cfg = EngineConfig(epochs=2, seed=3)
    res = run_training(tmp_path / "run", _task(), cfg, RT)
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert "last.pt" not in names and {"best.pt", "finished.json", "metrics.csv"} <= names
    done = json.loads((tmp_path / "run" / "finished.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert done["epochs_run"] == 2 and done["state_kept"] is False
    # A resume trains nothing and reports the same run; a new run in the folder is refused.
    again = run_training(tmp_path / "run", _untrainable(), cfg, RT, resume=True)
    assert (again.history, again.best_epoch, again.images) == (res.history, res.best_epoch, 0)
    with pytest.raises(HideseekError, match="finished training run"):
        claim_run_dir(tmp_path / "run", resume=False)
    assert claim_run_dir(tmp_path / "run", resume=True) == tmp_path / "run"
    # Training it longer needs the dropped state: a clear refusal, nothing trained.
    with pytest.raises(HideseekError, match="resumable state was dropped"):
        run_training(tmp_path / "run", _untrainable(), EngineConfig(epochs=3, seed=3), RT,
                     resume=True)


def test_an_early_stopped_run_is_finished_too(tmp_path: Path) -> None:
    cfg = EngineConfig(epochs=6, seed=3, patience=1, min_delta=1.0)
    res = run_training(tmp_path / "run", _task(iter([0.5, 0.5, 0.5])), cfg, RT)
    assert res.stopped_early_at == 2 and not (tmp_path / "run" / "last.pt").exists()
    again = run_training(tmp_path / "run", _untrainable(), cfg, RT, resume=True)
    assert again.stopped_early_at == 2 and again.epochs_run == 2


def test_a_nan_history_is_written_as_null_and_read_back(tmp_path: Path) -> None:
    scores = iter([float("nan"), float("nan")])
    cfg = EngineConfig(epochs=2, seed=3)
    run_training(tmp_path / "run", _task(scores), cfg, RT)
    text = (tmp_path / "run" / "finished.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    again = run_training(tmp_path / "run", _untrainable(), cfg, RT, resume=True)
    assert again.best_score == -float("inf") and all(
        r["val_scripted"] != r["val_scripted"] for r in again.history)  # NaN again
