"""No import circles between the package's modules (lazy imports inside functions counted).

The root package's lazy ``hideseek.audit`` export is left out: it is a convenience for
notebooks, not a dependency of any stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hideseek

ROOT = Path(hideseek.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        name = ".".join(("hideseek", *f.relative_to(ROOT).with_suffix("").parts))
        out[name.removesuffix(".__init__")] = f
    return out


def _edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for n in ast.walk(ast.parse(f.read_text())):
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("hideseek."):
                subs = {f"{n.module}.{a.name}" for a in n.names} & set(mods)
                edges[m] |= subs
                if n.module in mods and len(subs) < len(n.names):
                    edges[m].add(n.module)
            elif isinstance(n, ast.Import):
                edges[m] |= {a.name for a in n.names if a.name in mods and a.name != "hideseek"}
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(edges[v]):
            if state.get(w) == 1:
                return [*path[path.index(w):], w]
            if w not in state and (found := visit(w)):
                return found
        state[v] = 2
        path.pop()
        return None

    for v in sorted(edges):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_no_module_imports_itself_through_others() -> None:
    mods = _modules()
    assert "hideseek.classification.audit" in mods
    cycle = _cycle(_edges(mods))
    assert cycle is None, " -> ".join(cycle or [])
