"""The command line: help, one-line errors, --debug."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hideseek.cli.main import build_parser, main


def test_help_lists_every_stage() -> None:
    text = build_parser().format_help()
    for stage in ("segment", "represent", "train", "evaluate", "audit", "cam", "run", "demo",
                  "phantom", "data"):
        assert stage in text


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("hideseek: error:") and "Traceback" not in err
    assert str(tmp_path / "missing") in err


def test_debug_shows_traceback(tmp_path: Path) -> None:
    from hideseek.errors import HideseekError

    with pytest.raises(HideseekError):
        main(["--debug", "data", "check", str(tmp_path / "missing")])


def test_data_check_fails_on_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "bad.png").write_bytes(b"garbage")
    (tmp_path / "manifest.csv").write_text("filename,label\nbad.png,normal\n")
    assert main(["data", "check", str(tmp_path)]) == 1
    assert "bad.png: not an image" in capsys.readouterr().out


def test_cam_reads_each_model_once(phantom_lungs: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The numbers and Fig. 3 share one model cache (``load``): one read per model."""
    import hideseek.explanation as explanation
    from hideseek.models import loaders

    reads: list[str] = []
    monkeypatch.setattr(loaders, "resolve_model",
                        lambda source, *a, **k: reads.append(str(source)) or object())

    def fake_cam(models: dict[str, Any], *a: Any, load: Any, **k: Any) -> dict[str, Any]:
        for m in models.values():
            load(m)
        return {"method": "gradcam", "n": 0, "split": "test",
                "representations": {"data": {"per_class": {}}}}

    monkeypatch.setattr(explanation, "run_cam", fake_cam)
    monkeypatch.setattr(explanation, "figure3", fake_cam)
    monkeypatch.setattr(explanation, "ratio_plot", lambda path, *a, **k: path)
    assert main(["cam", str(phantom_lungs), "--model", "torchvision:a", "--rep-model",
                 "lungs_removed=timm:b", "--masks", str(phantom_lungs / "masks"),
                 "--out", str(tmp_path / "cam"), "--representations",
                 "data,lungs_removed"]) == 0
    assert sorted(reads) == ["timm:b", "torchvision:a"]


# --- every error one line, whatever raises it -------------------------------------------------


def _raising(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make ``hideseek data check`` raise ``exc`` (the handler is looked up at registration)."""
    from hideseek.cli import data_cmds

    def handler(args: Any) -> int:
        raise exc

    monkeypatch.setattr(data_cmds, "_check", handler)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "https://" not in err
    return lines[0]


def test_a_bad_setting_is_one_line_without_pydantic_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "m"), "--representation",
                 "foo", "--lr", "-1"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("hideseek: error: invalid training config: ")
    assert "representation: unknown representation 'foo'; choose from data" in line
    assert "lr: Input should be greater than 0" in line
    assert "Value error" not in line and "type=" not in line


def test_a_raw_validation_error_is_field_message_pairs(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pydantic import ValidationError

    from hideseek.classification.config import TrainConfig

    with pytest.raises(ValidationError) as info:
        TrainConfig(epochs=0, batch_size=0)
    _raising(monkeypatch, info.value)
    assert main(["data", "check", "x"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line == ("hideseek: error: invalid TrainConfig: batch_size: Input should be greater "
                    "than or equal to 1; epochs: Input should be greater than or equal to 1")


def test_a_dataloader_worker_error_is_the_original_message(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from torch.utils.data import DataLoader, Dataset

    from hideseek.errors import ImageReadError

    class Broken(Dataset[int]):
        def __len__(self) -> int:
            return 2

        def __getitem__(self, i: int) -> int:
            raise ImageReadError("/data/scan.png", "not an image (cannot identify image file)")

    with pytest.raises(Exception, match="DataLoader worker") as info:
        list(DataLoader(Broken(), num_workers=1))
    _raising(monkeypatch, info.value)
    assert main(["data", "check", "x"]) == 1
    assert _one_line(capsys.readouterr().err) == \
        "hideseek: error: /data/scan.png: not an image (cannot identify image file)"


def test_a_foreign_worker_error_names_its_type() -> None:
    from hideseek.cli.output import describe_error

    text = ('Caught ValueError in DataLoader worker process 3.\nOriginal Traceback (most recent '
            'call last):\n  File "/x/worker.py", line 3, in f\n    raise ValueError(\'bad: x\')\n'
            '    ^^^^^^^^^\nValueError: bad: x\n')
    assert describe_error(RuntimeError(text)) == \
        "ValueError: bad: x (rerun with --debug for the traceback)"


def test_any_other_error_is_type_and_message(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _raising(monkeypatch, ZeroDivisionError("division by zero"))
    assert main(["data", "check", "x"]) == 1
    assert _one_line(capsys.readouterr().err) == ("hideseek: error: ZeroDivisionError: division "
                                                  "by zero (rerun with --debug for the traceback)")
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "data", "check", "x"])


def test_a_long_message_is_cut_with_a_count(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from hideseek.errors import DataError

    _raising(monkeypatch, DataError("missing files (50):\n" + "\n".join(
        f"  img{i}.png" for i in range(50))))
    assert main(["data", "check", "x"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 22 and lines[0] == "hideseek: error: missing files (50):"
    assert lines[-1] == "  ... and 30 more"


def test_an_interruption_says_how_to_resume(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _raising(monkeypatch, KeyboardInterrupt())
    assert main(["data", "check", "x"]) == 130
    assert _one_line(capsys.readouterr().err) == \
        "hideseek: interrupted; rerun the same command to resume"


def test_a_closed_pipe_exits_quietly(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _raising(monkeypatch, BrokenPipeError(32, "Broken pipe"))
    assert main(["data", "check", "x"]) == 141
    assert capsys.readouterr().err == ""


def test_a_closed_pipe_in_a_real_process(tmp_path: Path) -> None:
    """``hideseek ... | head`` with the reader gone before the output: no traceback."""
    import os
    import subprocess
    import sys

    (tmp_path / "normal").mkdir()
    from hideseek.data.io import write_png

    write_png(tmp_path / "normal" / "a.png", np.zeros((16, 16), np.float32))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "hideseek", "data", "check", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err and "error" not in err


# --- --json PATH|- ------------------------------------------------------------------------------


def test_json_dash_is_standard_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from hideseek.data.io import write_png

    (tmp_path / "normal").mkdir()
    write_png(tmp_path / "normal" / "a.png", np.zeros((16, 16), np.float32))
    assert main(["data", "check", str(tmp_path), "--json", "-"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert report["n_images"] == 1 and "status: OK" in err  # the text went to stderr
    assert not (Path.cwd() / "-").exists()
    assert main(["data", "check", str(tmp_path), "--json", str(tmp_path / "r" / "c.json")]) == 0
    assert json.loads((tmp_path / "r" / "c.json").read_text()) == report
    assert "status: OK" in capsys.readouterr().out


def test_every_json_option_uses_the_one_helper() -> None:
    """Each command's ``--json`` says that ``-`` means standard output."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]
    found = []

    def walk(p: Any, name: str) -> None:
        for a in p._actions:
            if a.dest == "json":
                found.append(name)
                assert "'-': standard output" in (a.help or ""), name
            elif getattr(a, "choices", None) and isinstance(a.choices, dict):
                for k, child in a.choices.items():
                    walk(child, f"{name} {k}")

    for name, p in sub.items():
        walk(p, name)
    assert {"evaluate", "audit", "probe-source", "cam", "demo", "segment eval",
            "data check"} <= set(found)


# --- one grammar for every command ------------------------------------------------------------


def _leaves() -> list[tuple[tuple[str, ...], Any]]:
    """Every command's parser (those with a handler), with its words."""
    from hideseek.cli.args import iter_parsers

    return [(words, p) for words, p in iter_parsers(build_parser())
            if p.get_default("handler") is not None]


def test_every_default_is_in_the_help() -> None:
    import argparse

    from hideseek.cli.args import default_text

    missing = []
    for words, p in _leaves():
        p.format_help()  # every help renders
        for a in p._actions:
            if not a.option_strings or a.nargs == 0 or a.help == argparse.SUPPRESS:
                continue
            if a.default in (None, False, argparse.SUPPRESS):
                continue
            if default_text(a.default) not in (a.help or ""):
                missing.append(f"{' '.join(words)} {a.option_strings[0]}: {a.default!r}")
    assert not missing, missing


def test_train_help_shows_the_recipe_defaults() -> None:
    from hideseek.classification.config import TrainConfig

    text = " ".join(dict(_leaves())[("train",)].format_help().split())
    cfg = TrainConfig.model_validate({})
    for flag, value in (("--arch", cfg.arch), ("--epochs", cfg.epochs),
                        ("--image-size", cfg.image_size), ("--batch-size", cfg.batch_size),
                        ("--lr", cfg.lr), ("--seed", cfg.seed), ("--workers", cfg.workers),
                        ("--fill", cfg.fill), ("--box-margin", cfg.box_margin),
                        ("--min-delta", cfg.min_delta)):
        part = text.split(f" {flag} ", 1)[1].split(" --", 1)[0]
        assert f"(default: {value})" in part, (flag, part)
    assert "resnet50" in text


def test_segment_help_names_every_shipped_model() -> None:
    from hideseek.segmentation import SHIPPED_MODELS

    for cmd in (("segment", "predict"), ("segment", "eval")):
        text = " ".join(dict(_leaves())[cmd].format_help().split())
        for name in SHIPPED_MODELS:
            assert f"'{name}'" in text, (cmd, name)


def test_the_data_argument_is_spelled_one_way() -> None:
    import argparse

    from hideseek.cli.data_cmds import DATA_HELP

    with_data = set()
    for words, p in _leaves():
        for a in p._actions:
            if "--data" in a.option_strings:
                assert a.help == argparse.SUPPRESS, words  # the old spelling, hidden
            elif a.dest == "data":
                assert not a.option_strings and a.metavar == "DATA", words
                assert (a.help or "").startswith(DATA_HELP), words
                with_data.add(" ".join(words))
    assert {"evaluate", "audit", "cam", "train", "represent", "probe-source", "plant",
            "data check", "segment predict"} <= with_data


def test_the_old_data_option_still_works(phantom_lungs: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    from hideseek.cli.data_cmds import _data

    parser = build_parser()
    old = parser.parse_args(["audit", "--model", "m", "--data", "d1", "d2", "--masks", "k"])
    new = parser.parse_args(["audit", "d1", "d2", "--model", "m", "--masks", "k"])
    assert _data(new) == ["d1", "d2"] and "deprecated" not in caplog.text
    assert _data(old) == ["d1", "d2"] and "--data is deprecated" in caplog.text
    with pytest.raises(Exception, match="DATA is required"):
        _data(parser.parse_args(["audit", "--model", "m", "--masks", "k"]))


def test_no_command_offers_a_flag_it_ignores(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for command in ("evaluate", "audit"):
        with pytest.raises(SystemExit):
            parser.parse_args([command, "d", "--model", "m", "--masks", "k",
                               "--target-layer", "x"])
        assert "unrecognized arguments: --target-layer" in capsys.readouterr().err
    args = parser.parse_args(["cam", "d", "--model", "m", "--masks", "k", "--out", "o",
                              "--target-layer", "layer4"])
    assert args.target_layer == "layer4"


def test_lists_take_commas_and_spaces(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    base = ["represent", "d", "--masks", "k", "--out", "o", "--representations"]
    commas = parser.parse_args([*base, "data,lungs_removed"]).representations
    spaces = parser.parse_args([*base, "data", "lungs_removed"]).representations
    assert commas == spaces == ["data", "lungs_removed"]
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "data,nope"])
    assert "invalid choice 'nope'" in capsys.readouterr().err
    cam = ["cam", "d", "--model", "m", "--masks", "k", "--out", "o"]
    assert parser.parse_args(cam).representations[-1] == "lungs_boxed_out"
    assert parser.parse_args([*cam, "--representations", "data, lungs_removed"]
                             ).representations == ["data", "lungs_removed"]
    spec = parser.parse_args([*cam, "--classes", "a,b", "c", "--input-range=-1,1",
                              "--map", "a=normal,b=pneumonia", "--map", "c=COVID-19"])
    assert spec.classes == ["a", "b", "c"] and spec.input_range == [-1.0, 1.0]
    assert parser.parse_args([*cam, "--input-range", "-1024", "1024"]).input_range == [-1024,
                                                                                       1024]
    assert spec.mapping == ["a=normal", "b=pneumonia", "c=COVID-19"]
    assert parser.parse_args(["demo", "--archs", "resnet18,alexnet"]).archs == ["resnet18",
                                                                               "alexnet"]
    assert parser.parse_args(["segment", "crossval", "d", "--out", "o", "--folds", "A,B"]
                             ).folds == ["A", "B"]
