"""The command line: help, one-line errors, --debug."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        return {"method": "gradcam", "n": 0, "split": "test", "representations": {}}

    monkeypatch.setattr(explanation, "run_cam", fake_cam)
    monkeypatch.setattr(explanation, "figure3", fake_cam)
    monkeypatch.setattr(explanation, "ratio_plot", lambda path, *a, **k: path)
    assert main(["cam", "--model", "torchvision:a", "--rep-model", "lungs_removed=timm:b",
                 "--data", str(phantom_lungs), "--masks", str(phantom_lungs / "masks"),
                 "--out", str(tmp_path / "cam"), "--representations",
                 "data,lungs_removed"]) == 0
    assert sorted(reads) == ["timm:b", "torchvision:a"]
