"""``hideseek demo`` end to end with its own recipe: the known answers and trained models."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from hideseek.cli.main import main

sys.path.insert(0, str(Path(__file__).parent))
from report_checks import check_report, read_run

# The demo's own recipe (about 8 minutes on an idle 2-core AVX2 CPU): ``make test-known``. The
# suite renders the demo's report with a tiny recipe (tests/protocol/test_report_consistency.py).
pytestmark = [pytest.mark.slow, pytest.mark.known_answer, pytest.mark.timeout(1800)]


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
