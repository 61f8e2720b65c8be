"""``bench/gpu.py``: the CPU smoke path and the no-CUDA exit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _gpu_bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("hideseek_bench_gpu", BENCH / "gpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_so_and_exits_0(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bench = _gpu_bench()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    assert "no CUDA device" in out and out.count("\n") == 1


def test_cpu_quick_smoke_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bench = _gpu_bench()
    # The demo gets a budget far too short to finish: it is stopped, and the run goes on.
    assert bench.main(["--device", "cpu", "--quick", "--demo-n", "20",
                       "--demo-budget", "0.5"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 4 + 1  # header, (U-Net, ResNet-50) x (train, predict), demo
    assert "ResNet-50" in out and "stopped at the budget" in out
    r = bench.measure(bench._cases(True)[0], bench.Runtime(device="cpu", amp=False), True, 1, 1)
    assert r["images_per_s"] > 0 and r["peak_mib"] is None and r["amp"] == "off"
