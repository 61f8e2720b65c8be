"""``hideseek run CONFIG --validate-only``: every shipped protocol config validates without its
data (fields, task, architectures, representations) and prints the resolved config."""

from __future__ import annotations

from pathlib import Path

import pytest

from hideseek.cli.main import main
from hideseek.data.importers import CHEXPERT_FINDINGS
from hideseek.errors import HideseekError
from hideseek.protocol.config import load_protocol_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PROTOCOL_CONFIGS = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("segment"))


def test_the_new_configs_are_shipped() -> None:
    names = {p.name for p in PROTOCOL_CONFIGS}
    assert {"shenzhen-tb.yaml", "quex.yaml", "chexpert-14.yaml", "mimic-14.yaml"} <= names


@pytest.mark.parametrize("path", PROTOCOL_CONFIGS, ids=lambda p: p.stem)
def test_every_protocol_config_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(path), "--validate-only"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: valid protocol config" in out
    assert "architectures:" in out and "representations:" in out and "task:" in out


@pytest.mark.parametrize("name", ["chexpert-14", "mimic-14"])
def test_multilabel_configs_without_their_data(name: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = CONFIGS / f"{name}.yaml"
    cfg = load_protocol_config(path, check_paths=False)
    task = cfg.declared_task()
    assert task is not None and task.multilabel and task.classes == CHEXPERT_FINDINGS
    assert task.uncertain == "ignore" and cfg.data == [f"/data/{name.split('-')[0]}"]
    assert main(["run", str(path), "--validate-only"]) == 0
    out = capsys.readouterr().out
    assert "multilabel task No Finding" in out and "(uncertain: ignore)" in out
    assert "(not found)" in out and "31 decisions" in out  # 2 hidden x (1 + 14) + silhouette
    with pytest.raises(HideseekError, match="data not found"):
        load_protocol_config(path)  # a real run needs the data


def test_binary_and_own_name_tasks() -> None:
    tb = load_protocol_config(CONFIGS / "shenzhen-tb.yaml", check_paths=False).declared_task()
    assert tb is not None and tb.classes == ("normal", "tuberculosis")
    assert tb.primary == "tuberculosis" and not tb.multilabel
    quex = load_protocol_config(CONFIGS / "quex.yaml", check_paths=False).declared_task()
    assert quex is not None and quex.classes == ("normal", "non-COVID", "COVID-19")
    assert quex.primary == "COVID-19" and quex.name == "custom"


@pytest.mark.parametrize(("extra", "message"), [
    ("architectures: [resnet9000]\n", "resnet9000"),
    ("task: {classes: [a, b]}\ntrain: {class_weights: {c: 2}}\n", "class_weights"),
    ("task: {classes: [a, b]}\ntrain: {sampler: primary_fraction}\n", "no primary class"),
    ("task: {classes: [a], kind: ordinal}\n", "task"),
])
def test_invalid_configs_are_one_line_errors_naming_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ndata: /nowhere\n" + extra)
    assert main(["run", str(path), "--validate-only"]) == 1
    err = capsys.readouterr().err
    assert "hideseek: error:" in err and str(path) in err and message in err
