"""The runner end to end on small phantoms: outputs, resume, redo on change, Ray."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hideseek.cli.main import main
from hideseek.jsonio import to_json
from hideseek.protocol import load_protocol_config, run_protocol

TINY = ("train: {epochs: 1, image_size: 32, batch_size: 16, lr: 0.001, pretrained: false, "
        "crop_top: 0.0}\n")


def _config(tmp_path: Path, data: Path, extra: str = "") -> Path:
    p = tmp_path / "protocol.yaml"
    p.write_text(f"name: tiny\ndata: {data}\nmasks: {data / 'masks'}\narchitectures: "
                 f"[resnet18]\nrepresentations: [data, lungs_removed]\n{TINY}"
                 f"cam_max_images: 12\nn_boot: 50\noutput: {tmp_path / 'run'}\n{extra}")
    return p


def test_run_writes_everything_and_resumes(phantom_shortcut: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    cfg_path = _config(tmp_path, phantom_shortcut, "mask_perturbation: true\n")
    assert main(["run", str(cfg_path)]) == 0
    run = tmp_path / "run"
    for name in ("report.html", "verdicts.json", "environment.json", "config.resolved.yaml",
                 "comparisons.json", "tables/paper_table_resnet18.csv", "figures/fig1.png",
                 "cam/resnet18/fig3.png", "audit/resnet18.json", "probe/probe.json"):
        assert (run / name).is_file(), name
    verdicts = json.loads((run / "verdicts.json").read_text())
    v = verdicts["tiny/resnet18"]
    assert v["verdict"] in {"shortcut", "uses_lungs", "both", "inconclusive", "not_learned"}
    assert {"rule", "sentence", "figures", "per_class", "flags", "balanced_accuracy", "n_test",
            "n_patients", "seeds"} <= set(v)
    assert "lungs_boxed_out" in v["missing"]  # not run, and said so
    # every cell's convergence record; the verdict re-made on shrunk and grown masks
    for rep in ("data", "lungs_removed"):
        conv = v["convergence"][rep]
        assert conv["epochs_run"] == 1 and len(conv["curve"]) == 1
        assert isinstance(conv["still_improving"], bool) and conv["reason"]
    assert isinstance(v["undertrained"], list) and v["task"]["classes"][-1] == "COVID-19"
    m = v["mask_perturbation"]
    assert m["change"] == 0.02 and {"erode", "dilate", "holds"} <= set(m)
    assert m["holds"] == (m["erode"]["verdict"] == m["dilate"]["verdict"] == v["verdict"])
    html = (run / "report.html").read_text()
    assert html.index("retained skill per class") < html.index("How to read this")  # 1st screen
    env = json.loads((run / "environment.json").read_text())
    assert env["data_hash"] and env["torch"]
    cell = run / "cells" / "resnet18" / "lungs_removed" / "seed0" / "cell.json"
    stamp = cell.stat().st_mtime_ns
    # Rerun: nothing changed, nothing retrained.
    run_protocol(load_protocol_config(cfg_path))
    assert cell.stat().st_mtime_ns == stamp
    # A changed recipe redoes the cells.
    cfg_path.write_text(cfg_path.read_text().replace("lr: 0.001", "lr: 0.002"))
    run_protocol(load_protocol_config(cfg_path))
    assert cell.stat().st_mtime_ns != stamp
    assert "lr: 0.002" in (cell.parent / "config.yaml").read_text()


def _test_split(cell: Path) -> set[str]:
    import csv

    with (cell / "splits.csv").open() as fh:
        return {r["filename"] for r in csv.DictReader(fh) if r["split"] == "test"}


def test_seeds_share_one_test_split_and_are_pooled(phantom_lungs: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    cfg = load_protocol_config(_config(tmp_path, phantom_lungs, "audit: false\ncam: false\n"
                                       "probe_source: false\nseeds: [0, 1]\nsplit_seed: 3\n"))
    res = run_protocol(cfg)
    cells = tmp_path / "run" / "cells" / "resnet18"
    splits = [_test_split(cells / rep / f"seed{s}") for rep in ("data", "lungs_removed")
              for s in (0, 1)]
    assert splits[0] and all(s == splits[0] for s in splits)
    assert res.verdicts["tiny/resnet18"].n_test == len(splits[0])
    v = to_json(res.verdicts["tiny/resnet18"])  # as in verdicts.json
    assert v["seeds"] == [0, 1] and v["split_seed"] == 3
    assert set(v["balanced_accuracy"]) == {"data", "lungs_removed"}
    for entry in v["per_class"].values():
        assert set(entry["retained"]["lungs_removed"]) == {"value", "ci"}


def test_mask_perturbation_retrain_trains_the_hidden_versions_again(
        phantom_shortcut: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hideseek.data.io import read_mask

    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    cfg = load_protocol_config(_config(tmp_path, phantom_shortcut, "audit: false\ncam: false\n"
                                       "probe_source: false\nmask_perturbation: retrain\n"))
    res = run_protocol(cfg)
    m = res.verdicts["tiny/resnet18"].mask_perturbation
    assert m is not None and m.retrained and m.holds == (
        m.erode.verdict == m.dilate.verdict == res.verdicts["tiny/resnet18"].verdict)
    root = tmp_path / "run" / "mask_perturbation"
    cells = {name: root / name / "cells" / "resnet18" / "lungs_removed" / "seed0"
             for name in ("erode", "dilate")}
    assert all((c / "cell.json").is_file() for c in cells.values())
    assert not (root / "erode" / "cells" / "resnet18" / "data").exists()  # only hidden versions
    # the masks it trained on: every one shrunk / grown, none lost
    given = sorted((phantom_shortcut / "masks").rglob("*.png"))
    for name, sign in (("erode", -1), ("dilate", 1)):
        moved = sorted((root / f"masks-{name}").rglob("*.png"))
        assert len(moved) == len(given)
        a, b = read_mask(given[0]), read_mask(moved[0])
        assert sign * (int(b.sum()) - int(a.sum())) > 0
    stamp = (cells["erode"] / "cell.json").stat().st_mtime_ns
    run_protocol(cfg)  # rerun: nothing trained again
    assert (cells["erode"] / "cell.json").stat().st_mtime_ns == stamp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ray_executor_on_a_local_cluster(phantom_lungs: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    ray_bin = Path(sys.executable).parent / "ray"
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HIDESEEK_CACHE": str(tmp_path / "c")}
    start = subprocess.run(
        [str(ray_bin), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
        env=env, capture_output=True, text=True, timeout=180, check=False)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        cfg = load_protocol_config(_config(tmp_path, phantom_lungs,
                                           "audit: false\ncam: false\nprobe_source: false\n"
                                           "cpus_per_cell: 1\n"),
                                   executor="ray", ray_address=f"127.0.0.1:{port}")
        res = run_protocol(cfg)
        assert set(res.cells) == {"resnet18/data/seed0", "resnet18/lungs_removed/seed0"}
        assert (tmp_path / "run" / "report.html").is_file()
    finally:
        import ray

        ray.shutdown()
        subprocess.run([str(ray_bin), "stop", "--force"], env=env, capture_output=True,
                       timeout=120, check=False)
