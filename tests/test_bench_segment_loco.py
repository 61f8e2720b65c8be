"""``bench/segment_loco.py --reading``: a reader's verdicts on failures, counted and weighed."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
READINGS = BENCH / "readings"


def _loco() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("hideseek_bench_loco", BENCH / "segment_loco.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_readings_are_counted_with_flags_and_their_share_of_the_gap(tmp_path: Path) -> None:
    loco = _loco()
    # 40 held-out images: 36 good (0.96), two failures the model made, two the reference made.
    dice = {f"coll/img{i:02d}.png": 0.96 for i in range(36)}
    dice |= {"coll/img36.png": 0.10, "coll/img37.png": 0.50,
             "coll/img38.png": 0.70, "coll/img39.png": 0.75}
    reading = _write(tmp_path / "reading.csv", ["collection", "filename", "dice", "reading"], [
        ["fold", "img36.png", 0.10, "misses-opaque-lung"],
        ["fold", "img37.png", 0.50, "misses-opaque-lung"],
        ["fold", "img38.png", 0.70, "reference-omits-opaque-lung"],
        ["fold", "img39.png", 0.75, "reference-omits-opaque-lung"],
        ["other-fold", "elsewhere.png", 0.2, "unclear"],  # another fold's: not counted here
    ])
    flags = {Path(k).name: k.endswith(("img36.png", "img00.png")) for k in dice}
    readings = loco._read_readings([str(reading)], {"fold", "other-fold"}, tmp_path)
    rows = {r[1]: r for r in loco._reading_rows(readings, "fold", dice, flags)}
    assert set(rows) == {"(not read)", "misses-opaque-lung", "reference-omits-opaque-lung"}
    assert rows["(not read)"][2:5] == ["36", "0", "1 of 36"]
    assert rows["misses-opaque-lung"][2:5] == ["2", "2", "1 of 2"]  # the two worst: the 5%
    assert rows["reference-omits-opaque-lung"][2:4] == ["2", "0"]
    shares = {k: float(r[5]) for k, r in rows.items()}
    assert shares["misses-opaque-lung"] == pytest.approx((0.85 + 0.45) / 40, abs=1e-4)
    gap = sum(0.95 - v for v in dice.values()) / len(dice)
    assert sum(shares.values()) == pytest.approx(gap, abs=3e-4)
    assert loco._reading_rows(readings, "no-such-fold", dice, flags) == []


def test_a_bad_reading_is_refused_in_one_line_naming_the_file(tmp_path: Path) -> None:
    loco = _loco()
    header = ["collection", "filename", "dice", "reading"]
    stranger = _write(tmp_path / "stranger.csv", header, [["fold", "stranger.png", 0.3, "unclear"]])
    readings = loco._read_readings([str(stranger)], {"fold"}, tmp_path)
    with pytest.raises(SystemExit, match=r"stranger\.csv: 1 file\(s\) not held out in fold fold"):
        loco._reading_rows(readings, "fold", {"coll/a.png": 0.9}, {"a.png": False})
    no_fold = _write(tmp_path / "no_fold.csv", header, [["elsewhere", "a.png", 0.3, "unclear"]])
    with pytest.raises(SystemExit, match=r"no_fold\.csv: collection 'elsewhere' is no fold"):
        loco._read_readings([str(no_fold)], {"fold"}, tmp_path)
    no_column = _write(tmp_path / "no_column.csv", ["collection", "filename"], [["fold", "a.png"]])
    with pytest.raises(SystemExit, match=r"no_column\.csv: no column 'reading'"):
        loco._read_readings([str(no_column)], {"fold"}, tmp_path)


def test_shipped_readings_use_the_documented_categories() -> None:
    named = [line.split("`")[1] for line in (READINGS / "README.md").read_text().splitlines()
             if line.startswith("| `")]
    documented = {name for name in named if not name.endswith(".csv")}
    assert {"misses-opaque-lung", "retrocardiac-convention"} <= documented
    for path in READINGS.glob("*.csv"):
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows and {r["reading"] for r in rows} <= documented, path.name
        assert len({r["filename"] for r in rows}) == len(rows), path.name
