"""The one JSON (de)serialiser: typed results written in their old shapes, read back."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from hideseek.classification.results import Comparison, Metrics
from hideseek.classification.stats import classification_metrics, paired_comparison
from hideseek.errors import HideseekError
from hideseek.jsonio import OMIT_NONE, dumps, from_json, to_json

LABELS = ["normal", "pneumonia", "COVID-19"]


@dataclass(frozen=True)
class _Inner:
    value: float | None
    ci: tuple[float, float]


@dataclass(frozen=True)
class _Outer:
    name: str
    inner: dict[str, _Inner]
    items: list[_Inner]
    note: str | None = field(default=None, metadata=OMIT_NONE)


def test_plain_values_numpy_paths_and_nan() -> None:
    obj = {"a": np.float32(0.5), "b": np.arange(3), "c": (1, 2), "p": Path("x/y"),
           "n": float("nan")}
    assert to_json(obj)["a"] == 0.5 and type(to_json(obj)["a"]) is float
    assert to_json(obj)["b"] == [0, 1, 2] and to_json(obj)["c"] == [1, 2]
    assert to_json(obj)["p"] == "x/y"
    assert math.isnan(to_json(obj)["n"])  # in memory the results keep NaN
    assert to_json(obj, nan_as_null=True)["n"] is None
    assert _strict(dumps(obj))["n"] is None  # written: null (strict JSON), never NaN


def _strict(text: str) -> object:
    """``json.loads`` that refuses ``NaN`` / ``Infinity`` as strict parsers do."""
    def refuse(constant: str) -> None:
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_dumps_writes_every_non_finite_float_as_null() -> None:
    obj = {"nan": float("nan"), "inf": float("inf"), "-inf": -np.inf,
           "np": np.float32("nan"), "arr": np.array([1.0, np.nan]), "t": (math.nan, 0.5),
           "deep": [{"x": [float("-inf")]}], "ok": 1.5, "none": None}
    data = _strict(dumps(obj))
    assert data == {"nan": None, "inf": None, "-inf": None, "np": None, "arr": [1.0, None],
                    "t": [None, 0.5], "deep": [{"x": [None]}], "ok": 1.5, "none": None}
    assert _strict(dumps(obj, indent=None)) == data and "\n" not in dumps(obj, indent=None)
    # default= may make any value: a non-finite float it makes is refused, never written.
    with pytest.raises(ValueError, match="JSON compliant"):
        dumps({"x": object()}, default=lambda o: float("nan"))


def test_write_json_makes_the_folder(tmp_path: Path) -> None:
    from hideseek.jsonio import write_json

    path = write_json(tmp_path / "a" / "b.json", {"v": float("nan")})
    assert _strict(path.read_text()) == {"v": None}


def test_null_reads_back_as_nan_where_a_float_is_expected() -> None:
    @dataclass(frozen=True)
    class _F:
        x: float
        y: float | None
        ci: tuple[float, float]

    back = from_json(_F, _strict(dumps(_F(math.nan, None, (math.nan, 1.0)))))
    assert math.isnan(back.x) and back.y is None and math.isnan(back.ci[0])
    assert back.ci[1] == 1.0


def test_an_undefined_ppv_has_a_null_interval() -> None:
    """The issue's example: a class never predicted has ppv null and interval [null, null]."""
    y = np.array([0, 1, 2] * 10)
    pred = np.where(y == 2, 0, y)  # COVID-19 never predicted
    data = _strict(dumps(classification_metrics(y, pred, LABELS, n_boot=20)))
    ppv = data["per_class"]["COVID-19"]["ppv"]  # type: ignore[index]
    assert ppv["value"] is None and ppv["ci"] == [None, None]
    assert from_json(Metrics, data).per_class["COVID-19"].ppv.value is None


def test_dataclasses_round_trip_and_omit_none() -> None:
    o = _Outer("x", {"k": _Inner(0.1, (0.0, 0.2))}, [_Inner(None, (1.0, 2.0))])
    data = json.loads(dumps(o))
    assert data == {"name": "x", "inner": {"k": {"value": 0.1, "ci": [0.0, 0.2]}},
                    "items": [{"value": None, "ci": [1.0, 2.0]}]}  # no "note" while None
    assert from_json(_Outer, data) == o
    assert to_json(from_json(_Outer, {**data, "note": "n"}))["note"] == "n"
    with pytest.raises(HideseekError, match="lacks the field 'inner'"):
        from_json(_Outer, {"name": "x", "items": []})


def test_metrics_and_comparisons_keep_their_json() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    pred = np.where(rng.random(60) < 0.7, y, rng.integers(0, 3, 60))
    m = classification_metrics(y, pred, LABELS, n_boot=50)
    text = dumps(m)
    data = json.loads(text)
    assert list(data) == ["n", "accuracy", "balanced_accuracy", "bootstrap", "per_class",
                          "confusion_matrix", "labels"]
    assert list(data["accuracy"]) == ["value", "ci", "ci_bootstrap"]
    assert list(data["per_class"]["normal"]) == ["support", "bootstrap_without_class",
                                                 "sensitivity", "ppv", "specificity", "f1",
                                                 "auc"]
    assert dumps(from_json(Metrics, data)) == text
    c = paired_comparison(y, pred, y, n_boot=50)
    data = json.loads(dumps(c))
    assert list(data["accuracy_difference"]) == ["value", "ci"]  # no ci_bootstrap here
    assert data["discordant"] == {"a_only": 0, "b_only": int((pred != y).sum())}
    assert from_json(Comparison, data) == c


def test_rest_keeps_unknown_keys_of_a_file() -> None:
    from hideseek.classification.results import EvalResult

    y = np.array([0, 1, 2, 0, 1, 2] * 5)
    m = classification_metrics(y, y, LABELS, n_boot=20)
    data = {**to_json(m), "representation": "lungs_removed", "split": "test", "arch": "r18",
            "external": False, "added_later": {"x": 1}}
    e = from_json(EvalResult, data)
    assert e.representation == "lungs_removed" and e.extra == {"added_later": {"x": 1}}
    # the same keys, order and values (NaN written as null)
    assert dumps(e) == json.dumps(to_json(data, nan_as_null=True), indent=2)
