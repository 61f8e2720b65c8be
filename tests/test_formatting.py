"""The one value-with-interval formatter and its aliases."""

from __future__ import annotations

import pytest

from hideseek.classification.evaluate import format_cell
from hideseek.formatting import format_value_ci


@pytest.mark.parametrize(("m", "want"), [
    ({"value": 0.8123, "ci": [0.7, 0.9]}, "0.812 [0.70, 0.90]"),
    ({"value": -0.25, "ci": [-0.5, 0.03]}, "-0.250 [-0.50, 0.03]"),
    ({"value": 0.5, "ci": [None, None]}, "0.500"),
    ({"value": 0.5, "ci": [float("nan"), float("nan")]}, "0.500"),
    ({"value": 0.5}, "0.500"),
    ({"value": None, "ci": [0.1, 0.2]}, "n/a"),
    (None, "n/a"),
])
def test_format_value_ci(m: dict[str, object] | None, want: str) -> None:
    assert format_value_ci(m) == want
    assert format_cell is format_value_ci


def test_digits() -> None:
    assert format_value_ci({"value": 0.8123, "ci": [0.7, 0.9]}, digits=2) == "0.81 [0.70, 0.90]"
    assert format_value_ci({"value": 0.8123, "ci": [0.7, 0.9]}, ci_digits=3) == \
        "0.812 [0.700, 0.900]"
