"""Protocol config validation and the verdict rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from hideseek.errors import HideseekError
from hideseek.protocol import RULE, load_protocol_config, verdict


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "protocol.yaml"
    p.write_text(text)
    return p


def test_valid_config_resolves_paths(tmp_path: Path, phantom_lungs: Path) -> None:
    cfg = load_protocol_config(_write(tmp_path, f"data: {phantom_lungs}\noutput: out\n"
                                      "architectures: [resnet18]\nrepresentations: "
                                      "[lungs_removed]\n"))
    assert cfg.output == str(tmp_path / "out")
    assert cfg.representations == ["data", "lungs_removed"]  # data is always the reference


@pytest.mark.parametrize(("text", "message"), [
    ("data: {d}\narchitectures: [resnet51]\n", "unknown architecture"),
    ("data: /nowhere/at/all\n", "data not found"),
    ("data: {d}\ntrain: {{arch: vgg11}}\n", "set by the protocol itself"),
    ("data: {d}\ntrain: {{epochs: 0}}\n", "epochs"),
    ("data: {d}\nrepresentations: [lungs_hidden]\n", "unknown representation"),
    ("data: {d}\nexecutor: slurm\n", "executor"),
])
def test_invalid_configs_are_clear(tmp_path: Path, phantom_lungs: Path, text: str,
                                   message: str) -> None:
    with pytest.raises(HideseekError, match=message):
        load_protocol_config(_write(tmp_path, text.format(d=phantom_lungs)))


def _eval(acc: float, lo: float, hi: float, n_per_class: int = 30) -> dict:  # type: ignore[type-arg]
    k = n_per_class
    return {"accuracy": {"value": acc, "ci": [lo, hi]},
            "confusion_matrix": [[k, 0, 0], [0, k, 0], [0, 0, k]]}


def _cmp(p: float) -> dict:  # type: ignore[type-arg]
    return {"mcnemar_p": p, "accuracy_difference": {"value": -0.1, "ci": [-0.2, 0.0]}}


def test_verdict_shortcut_uses_lungs_inconclusive() -> None:
    v = verdict(_eval(0.93, 0.88, 0.96), _eval(0.91, 0.86, 0.95), _cmp(0.41))
    assert v["verdict"] == "shortcut" and "not significant (p = 0.41)" in v["sentence"]
    assert v["rule"] == RULE
    v = verdict(_eval(0.93, 0.88, 0.96), _eval(0.35, 0.26, 0.45), _cmp(1e-6))
    assert v["verdict"] == "uses_lungs"
    v = verdict(_eval(0.93, 0.88, 0.96), _eval(0.70, 0.60, 0.78), _cmp(1e-3))
    assert v["verdict"] == "inconclusive"  # half the skill lost: neither rule holds
    v = verdict(_eval(0.36, 0.27, 0.46), _eval(0.35, 0.26, 0.45), _cmp(0.9))
    assert v["verdict"] == "inconclusive" and "does not clear chance" in v["sentence"]
