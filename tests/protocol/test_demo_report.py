"""``hideseek demo`` end to end, and its report in a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hideseek.cli.main import main

sys.path.insert(0, str(Path(__file__).parent))
from report_checks import check_report, read_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    os.environ.setdefault("HIDESEEK_CACHE", str(out / "cache"))
    assert main(["demo", "--out", str(out)]) == 0  # exit 3 when a verdict is wrong
    return out


def test_demo_verdicts_are_right(demo_out: Path) -> None:
    verdicts = json.loads((demo_out / "verdicts.json").read_text())
    assert verdicts["shortcut/resnet18"]["verdict"] == "shortcut"
    assert verdicts["lungs/resnet18"]["verdict"] == "uses_lungs"
    for v in verdicts.values():
        assert v["rule"] and v["sentence"] and "accuracy_data" in v["figures"]


def test_demo_models_reach_their_potential(demo_out: Path) -> None:
    """Every cell trained to what its input allows: no ``undertrained`` verdict, no cell that
    ended still improving, and in the ``lungs`` scenario the originals' model within noise of
    the lungs-only model (the same evidence is in both)."""
    verdicts = json.loads((demo_out / "verdicts.json").read_text())
    for key, v in verdicts.items():
        assert "undertrained" not in v["flags"] and not v["undertrained"], (key, v["undertrained"])
        for rep, found in v["convergence"].items():
            for record in found if isinstance(found, list) else [found]:
                assert not record["still_improving"], (key, rep, record["reason"])
    ba = verdicts["lungs/resnet18"]["balanced_accuracy"]
    assert abs(ba["data"]["value"] - ba["lungs_isolated"]["value"]) < 0.1, ba


def test_demo_report_agrees_with_itself(demo_out: Path) -> None:
    """Both scenarios: the audit verdict leads its section with the matched controls, and the
    report's sections agree (``report_checks.check_report``)."""
    runs = [read_run(demo_out / scenario) for scenario in ("lungs", "shortcut")]
    for run in runs:
        assert run.audits and all(a.audit_verdict for a in run.audits.values())
    check_report(demo_out, runs)


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


def test_report_renders_in_a_browser(demo_out: Path, tmp_path: Path) -> None:
    exe = _chromium()
    url = (demo_out / "report.html").resolve().as_uri()
    dom = _browser(exe, tmp_path / "p1", "--virtual-time-budget=5000", "--dump-dom", url).stdout
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, "the page's load handler did not run"
    ok, total = map(int, loaded.groups())
    assert total >= 5 and ok == total  # every image loads (Fig. 1, Fig. 3s, ratio plots)
    for text in ("Verdicts", "uses_lungs", "shortcut", "the paper's table with intervals",
                 "McNemar", "Per data source", "Test-time audit", "Where the evidence is",
                 "Source probe", "Rule:"):
        assert text in dom, text
    shot = tmp_path / "report.png"
    _browser(exe, tmp_path / "p2", "--window-size=1280,2400", f"--screenshot={shot}", url)
    assert shot.is_file() and shot.stat().st_size > 50_000
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    lo, hi = pixels.getextrema()
    assert hi - lo > 100  # not a blank page
