"""``hideseek.audit`` hands the audit the model's real path (its splits.csv, its name)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from hideseek.models import api

# the module (the package's ``audit`` attribute is the function)
audit_mod = importlib.import_module("hideseek.classification.audit")


def test_audit_passes_the_model_path(phantom_lungs: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    sentinel = object()
    monkeypatch.setattr(api, "resolve_model", lambda model, spec: sentinel)

    def fake(model_path: Any, *a: Any, adapter: Any, **k: Any) -> tuple[dict[str, Any], None]:
        seen.append((model_path, adapter))
        return {"audit_verdict": "x"}, None

    monkeypatch.setattr(audit_mod, "audit", fake)
    folder = tmp_path / "model"
    assert api.audit(folder, phantom_lungs) == {"audit_verdict": "x"}
    assert api.audit(lambda x: x, phantom_lungs, spec={"classes": ["a", "b"]})
    assert seen == [(folder, sentinel), (None, sentinel)]
