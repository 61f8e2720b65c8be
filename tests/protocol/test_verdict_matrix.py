"""The known-answer matrix (issue 11): every phantom scenario at a small and a large test size
gets a right verdict. One training per scenario and representation, tiny images, fixed seeds."""

from __future__ import annotations

import pytest

from hideseek.protocol.matrix import EXPECTED, MatrixRow, format_matrix, run_matrix

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], MatrixRow]:
    rows = run_matrix(tmp_path_factory.mktemp("matrix"))
    print(format_matrix(rows))
    return {(r.scenario, r.test_size): r for r in rows}


@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_verdict_is_right(matrix: dict[tuple[str, str], MatrixRow], scenario: str,
                          size: str) -> None:
    row = matrix[(scenario, size)]
    if row.skipped:
        pytest.skip(f"{scenario}: {row.skipped}")
    assert row.ok, f"{scenario}/{size}: expected {row.expected}, got {row.sentence}"


def test_lungs_never_shortcut_and_large_tests_decide(
        matrix: dict[tuple[str, str], MatrixRow]) -> None:
    assert all(matrix[("lungs", s)].verdict != "shortcut" for s in ("small", "large"))
    assert matrix[("lungs", "large")].n_test > 3 * matrix[("lungs", "small")].n_test
