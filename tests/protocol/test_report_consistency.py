"""The report agrees with itself: the demo's two scenarios (tiny recipe) and a multi-label run,
rendered and read back as HTML (issue "The first hour without a surprise", item 5)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.protocol.config import ProtocolConfig
from hideseek.protocol.demo import run_demo
from hideseek.protocol.report import write_report
from hideseek.protocol.results import RunResult
from hideseek.protocol.runner import run_protocol

sys.path.insert(0, str(Path(__file__).parent))
from report_checks import check_report, read_run, text

TINY: dict[str, Any] = {"epochs": 1, "image_size": 32, "batch_size": 16, "lr": 1e-3,
                        "pretrained": False, "crop_top": 0.0, "augment": {"enabled": False}}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[RunResult]]:
    out = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIDESEEK_CACHE", str(out / "cache"))
        run_demo(out, n=60, train=TINY, n_boot=50, cam_max_images=12)
    return out, [read_run(out / s) for s in ("lungs", "shortcut")]


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    root = tmp_path_factory.mktemp("findings")
    data = root / "data"
    write_phantom_dataset(data, PhantomConfig(n=60, size=48, seed=1, task="multilabel"))
    cfg = ProtocolConfig(name="findings", data=[str(data)], masks=str(data / "masks"),
                         architectures=["resnet18"],
                         representations=["data", "lungs_removed", "lungs_boxed_out"],
                         train={**TINY, "split": (0.4, 0.1, 0.5)}, cam=False,
                         cam_max_images=8, n_boot=50, output=str(root / "run"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIDESEEK_CACHE", str(root / "cache"))
        result = run_protocol(cfg)
    assert read_run(root / "run") is not None
    return root / "run", result


def test_demo_report_agrees_with_itself(demo: tuple[Path, list[RunResult]]) -> None:
    out, runs = demo
    check_report(out, runs)
    page = (out / "report.html").read_text()
    for run in runs:  # both scenarios: the audit with its controls
        assert run.audits and all(a.audit_verdict for a in run.audits.values())
        check_report(Path(run.output), [run])  # each run's own report too
    assert "ROI Hide-and-Seek report: demo" in page


def test_each_card_shows_training_and_the_rows_per_class(
        demo: tuple[Path, list[RunResult]]) -> None:
    out, runs = demo
    page = (out / "report.html").read_text()
    for run in runs:
        for key, v in run.verdicts.items():
            card = re.search(rf'<div class="card"[^>]*data-key="{re.escape(key)}".*?</div>',
                             page, flags=re.S)
            assert card
            words = text(card.group(0))
            assert words.count("epochs, best epoch") == len(run.representations)
            for cls, cv in v.per_class.items():
                assert re.search(rf"class {re.escape(cls)} \(AUC vs rest\)\s+{cv.verdict}",
                                 " ".join(words.split())), cls


def test_multilabel_first_screen_has_one_row_per_finding(
        findings: tuple[Path, RunResult]) -> None:
    out, run = findings
    check_report(out, [run])
    page = (out / "report.html").read_text()
    v = run.verdicts["findings/resnet18"]
    rows = re.findall(r"<tr><td>finding (\w+) \(AUC\)</td><td><span class=\"verdict (\w+)\">",
                      page)
    assert dict(rows) == {f: cv.verdict for f, cv in v.per_class.items()}
    assert v.task is not None and len(rows) == len(v.task["classes"])
    assert "architecture (macro AUC)" in page
    assert f"Skipped: {run.skipped['probe']}" in text(page)  # one source only
    assert "one data source only" in run.skipped["probe"]
    assert "Grad-CAM: turned off in the config" in " ".join(text(page).split())


def test_grad_cam_caveats_from_a_results_file(demo: tuple[Path, list[RunResult]],
                                              tmp_path: Path) -> None:
    _, runs = demo
    run = runs[1]  # shortcut
    arch = run.architectures[0]
    cam = run.cam[arch]
    coarse = {rep: dataclasses.replace(r, grid="4x4") for rep, r in cam.representations.items()}
    short = dataclasses.replace(run.verdicts[run.key(arch)], verdict="shortcut")
    changed = dataclasses.replace(
        run, cam={arch: dataclasses.replace(cam, representations=coarse)},
        verdicts={run.key(arch): short})
    write_report(changed, tmp_path)
    words = " ".join(text((tmp_path / "report.html").read_text()).split())
    assert "coarse map (4x4 cells)" in words
    assert "the verdict puts the evidence outside the lungs (shortcut)" in words
    assert "this model never sees the lungs" in words
    check_report(tmp_path, [changed])


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is missing (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return exe


def _browser(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_report_renders_in_a_browser(demo: tuple[Path, list[RunResult]], tmp_path: Path) -> None:
    """The demo's combined report in a real headless browser: every image loads, every
    section is there, the page is not blank."""
    exe = _chromium()
    url = (demo[0] / "report.html").resolve().as_uri()
    dom = _browser(exe, tmp_path / "p1", "--virtual-time-budget=5000", "--dump-dom", url).stdout
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, "the page's load handler did not run"
    ok, total = map(int, loaded.groups())
    assert total >= 5 and ok == total  # every image loads (Fig. 1, Fig. 3s, ratio plots)
    for words in ("Verdicts", "uses_lungs", "shortcut", "the paper's table with intervals",
                  "McNemar", "Per data source", "Test-time audit", "Where the evidence is",
                  "Source probe", "Rule:"):
        assert words in dom, words
    shot = tmp_path / "report.png"
    _browser(exe, tmp_path / "p2", "--window-size=1280,2400", f"--screenshot={shot}", url)
    assert shot.is_file() and shot.stat().st_size > 50_000
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    lo, hi = pixels.getextrema()
    assert hi - lo > 100  # not a blank page
