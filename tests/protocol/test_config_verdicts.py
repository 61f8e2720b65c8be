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
    ("data: {d}\nmargins: {{uses_lungs_max: 0.9}}\n", "margins need"),
    ("data: {d}\nmargins: {{strictness: 2}}\n", "unknown margin"),
    ("data: {d}\ntrain: {{split_seed: 2}}\n", "set by the protocol itself"),
])
def test_invalid_configs_are_clear(tmp_path: Path, phantom_lungs: Path, text: str,
                                   message: str) -> None:
    with pytest.raises(HideseekError, match=message):
        load_protocol_config(_write(tmp_path, text.format(d=phantom_lungs)))


def _eval(acc: float, lo: float, hi: float, n_per_class: int = 30) -> dict:  # type: ignore[type-arg]
    k = n_per_class
    return {"accuracy": {"value": acc, "ci": [lo, hi]},
            "confusion_matrix": [[k, 0, 0], [0, k, 0], [0, 0, k]]}


def _cmp(p: float, value: float, lo: float, hi: float) -> dict:  # type: ignore[type-arg]
    return {"mcnemar_p": p, "accuracy_difference": {"value": value, "ci": [lo, hi]}}


def test_verdict_from_summaries_uses_the_retained_skill_interval() -> None:
    v = verdict(_eval(0.93, 0.88, 0.96), _eval(0.91, 0.86, 0.95), _cmp(0.41, -0.02, -0.06, 0.02))
    assert v["verdict"] == "shortcut" and "p = 0.41" in v["sentence"]
    assert v["rule"] == RULE
    v = verdict(_eval(0.93, 0.88, 0.96), _eval(0.35, 0.26, 0.45), _cmp(1e-6, -0.58, -0.66, -0.5))
    assert v["verdict"] == "uses_lungs"
    v = verdict(_eval(0.93, 0.88, 0.96), _eval(0.70, 0.60, 0.78), _cmp(1e-3, -0.23, -0.35, -0.1))
    assert v["verdict"] == "inconclusive"  # retained [0.41, 0.83]: no margin is cleared
    v = verdict(_eval(0.36, 0.27, 0.46), _eval(0.35, 0.26, 0.45), _cmp(0.9, -0.01, -0.1, 0.1))
    assert v["verdict"] == "not_learned" and "does not clear chance" in v["sentence"]


def test_low_power_no_significant_drop_is_not_a_shortcut() -> None:
    # The case: 30 images, 0.80 -> 0.53, paired CI [-0.50, -0.03], McNemar p = 0.077.
    v = verdict(_eval(0.80, 0.63, 0.90, 10), _eval(0.53, 0.36, 0.70, 10),
                _cmp(0.077, -0.27, -0.50, -0.03))
    assert v["verdict"] == "inconclusive"


def test_demo_expectations_live_in_the_library() -> None:
    from hideseek.protocol.demo import demo_is_right

    assert demo_is_right({"lungs/resnet18": {"verdict": "uses_lungs"},
                          "shortcut/resnet18": {"verdict": "shortcut"}})
    assert not demo_is_right({"lungs/resnet18": {"verdict": "inconclusive"}})
    assert not demo_is_right({})
