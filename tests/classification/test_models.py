"""The deprecated alias ``hideseek.classification.models``: the same objects as
:mod:`hideseek.models`, with a ``DeprecationWarning``; nothing in the package imports it."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

import hideseek
import hideseek.models as home
from hideseek.models import architectures, covidnet, foreign

OLD = ["hideseek.classification.models", "hideseek.classification.models.registry",
       "hideseek.classification.models.covidnet", "hideseek.classification.models.foreign"]


def test_old_paths_give_the_same_objects_with_a_deprecation_warning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OLD:
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.warns(DeprecationWarning, match="import the architectures from hideseek.models"):
        old = importlib.import_module("hideseek.classification.models")
    for name in old.__all__:
        assert getattr(old, name) is getattr(home, name), name
    for sub, new in zip(OLD[1:], (architectures, covidnet, foreign), strict=True):
        mod = importlib.import_module(sub)
        assert mod.__all__ and all(getattr(mod, n) is getattr(new, n) for n in mod.__all__), sub


def test_nothing_in_the_package_imports_the_alias() -> None:
    root = Path(hideseek.__file__).parent
    alias = root / "classification" / "models"
    users = []
    for f in root.rglob("*.py"):
        if f.parent == alias:
            continue
        for n in ast.walk(ast.parse(f.read_text())):
            names = ([n.module or ""] if isinstance(n, ast.ImportFrom)
                     else [a.name for a in n.names] if isinstance(n, ast.Import) else [])
            if isinstance(n, ast.ImportFrom) and n.module == "hideseek.classification":
                names += [f"{n.module}.{a.name}" for a in n.names]
            if any(m.startswith("hideseek.classification.models") for m in names):
                users.append(str(f.relative_to(root)))
    assert not users
