"""File names made from architecture names are valid on every OS."""

from __future__ import annotations

from pathlib import Path

import pytest

from hideseek.naming import safe_name
from hideseek.protocol.layout import CellKey, RunLayout


@pytest.mark.parametrize(("name", "safe"), [
    ("torchvision:densenet121", "torchvision_densenet121"),
    ("python:my.pkg:build", "python_my.pkg_build"),
    ('a<b>c"d/e\\f|g?h*i', "a_b_c_d_e_f_g_h_i"),
    ("vgg11_bn", "vgg11_bn"), ("lungs-resnet18", "lungs-resnet18")])
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe


@pytest.mark.parametrize("name", ["", " ", "..", "."])
def test_safe_name_refuses_names_of_no_file(name: str) -> None:
    with pytest.raises(ValueError, match="cannot be used as a file name"):
        safe_name(name)


def test_run_layout_paths_have_no_colon(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    arch = "timm:efficientnet_b0"
    paths = [layout.cell(CellKey(arch, "data", 0)), layout.audit(arch), layout.cam(arch),
             layout.forest(arch)]
    assert all(":" not in str(p.relative_to(tmp_path)) for p in paths)
    assert layout.cell(CellKey("resnet18", "data", 0)) == tmp_path / "cells/resnet18/data/seed0"
