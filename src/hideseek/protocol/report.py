"""The report: one self-contained HTML file (Jinja2, autoescaped) plus CSV / Markdown tables.

It reads one or more :class:`~hideseek.protocol.results.RunResult` by attribute (the demo
reports its two scenarios' runs in one file). Every architecture is named one way throughout,
``<run name>/<arch>``: its key in ``verdicts.json``.
"""

from __future__ import annotations

import base64
import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from hideseek.classification.results import Estimate
from hideseek.explanation.measures import MeasureSummary
from hideseek.formatting import format_value_ci
from hideseek.jsonio import to_json
from hideseek.naming import safe_name
from hideseek.protocol.forest import flag_words, forest_plot
from hideseek.protocol.layout import CellKey, RunLayout
from hideseek.protocol.operating import detection_sentence
from hideseek.protocol.results import AuditRecord, CamRecord, RunResult, VerdictRecord
from hideseek.protocol.verdicts import RULE
from hideseek.representations.detectability import DETECTABLE_AUC
from hideseek.representations.registry import representation_title

__all__ = ["AUDIT_FLAG_WORDS", "COARSE_GRID", "freshness_text", "paper_table", "write_report"]

_SHORT = {"normal": "normal", "pneumonia": "pneumo", "COVID-19": "covid"}

#: The audit's flags in plain words (docs/AUDIT.md).
AUDIT_FLAG_WORDS = {
    "region_around_lungs": "Hiding the lung boxes costs more than hiding any equal area, but "
                           "hiding the lung mask does not: the model uses something around the "
                           "lungs (inside their boxes), not the lungs.",
    "fill_detectable": "A probe tells the fill from real tissue: the model may react to the "
                       "fill itself, so that version's net drop is not read as reliance.",
    "control_unmatched": "No matched control could be built (too little area outside the "
                         "hidden region, or a different disturbance): that version's net drop "
                         "is not read.",
}

#: A Grad-CAM map with fewer cells than this on a side is coarse: smoothed toward the lungs'
#: area share whatever the model does (docs/AUDIT.md, "Grad-CAM against a null").
COARSE_GRID = 7

_ENDPOINTS = {"balanced_accuracy": "balanced accuracy", "macro_auc": "macro AUC"}

_FILL_SOURCE = {"default": "the audit's default, the least detectable fill measured",
                "training": "the fill the model was trained with",
                "given": "as given"}


def _fmt(m: Estimate | MeasureSummary | dict[str, Any] | None, digits: int = 3) -> str:
    """A value with its interval (typed or JSON); ``n/a`` when undefined."""
    if m is None or isinstance(m, dict):
        return format_value_ci(m, digits)
    return format_value_ci({"value": m.value, "ci": m.ci}, digits)


def _ratio(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.2f}"


def _png(path: Path) -> str | None:
    return base64.b64encode(path.read_bytes()).decode() if path.is_file() else None


def _anchor(key: str) -> str:
    return safe_name(key)


def paper_table(run: RunResult, arch: str, seed: int) -> tuple[list[str], list[list[str]]]:
    """Rows = representations; accuracy, sensitivity and PPV per class with intervals, and the
    paired comparison with ``data`` (a multi-label task: macro AUC and the AUC per finding)."""
    reps = run.representations
    first = run.cell(arch, reps[0], seed).eval
    labels = list(first.labels)
    multilabel = first.macro_auc is not None
    if multilabel:
        header = ["representation", "n", "macro AUC", *[f"AUC {c}" for c in labels],
                  "acc diff vs data", "p (McNemar)"]
    else:
        header = ["representation", "n", "accuracy",
                  *[f"sens {_SHORT.get(c, c)}" for c in labels],
                  *[f"PPV {_SHORT.get(c, c)}" for c in labels], "acc diff vs data",
                  "p (McNemar)"]
    rows = []
    comp = run.comparisons.get(arch, {}).get(f"seed{seed}", {})
    for rep in reps:
        ev = run.cell(arch, rep, seed).eval
        if multilabel:
            row = [rep, str(ev.n), _fmt(ev.macro_auc)]
            row += [_fmt(ev.per_class[c].auc) for c in labels]
        else:
            row = [rep, str(ev.n), _fmt(ev.accuracy)]
            row += [_fmt(ev.per_class[c].sensitivity) for c in labels]
            row += [_fmt(ev.per_class[c].ppv) for c in labels]
        c = comp.get(rep)
        row += [_fmt(c.accuracy_difference), f"{c.mcnemar_p:.3g}"] if c else ["-", "-"]
        rows.append(row)
    return header, rows


def _write_tables(out: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    tables = out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    with (tables / f"{name}.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    (tables / f"{name}.md").write_text("\n".join(md) + "\n")


def _endpoint_name(v: VerdictRecord | None) -> str:
    return "macro AUC" if v is not None and v.multilabel else "balanced accuracy"


def _finding_rows(v: VerdictRecord, hidden: list[str]) -> list[dict[str, Any]]:
    """The first screen's rows: the architecture's endpoint, then one row per class (per
    finding of a multi-label task): verdict, retained skill per hidden version, score on the
    originals."""
    kind = "finding" if v.multilabel else "class"
    rows = [{"name": f"architecture ({_endpoint_name(v)})", "verdict": v.verdict,
             "retained": [_fmt(v.retained.get(h), 2) for h in hidden],
             "original": _fmt(v.balanced_accuracy.get("data"), 2)}]
    rows += [{"name": f"{kind} {c} (AUC{'' if v.multilabel else ' vs rest'})",
              "verdict": cv.verdict, "retained": [_fmt(cv.retained.get(h), 2) for h in hidden],
              "original": _fmt(cv.auc.get("data"), 2)} for c, cv in v.per_class.items()]
    return rows


def _convergence_lines(run: RunResult, v: VerdictRecord) -> list[dict[str, Any]]:
    """One line per cell: epochs run of planned, best epoch, still improving or not."""
    lines = []
    for rep in run.representations:
        for seed, c in zip(v.seeds or run.seeds, v.convergence_of(rep), strict=False):
            text = (f"{rep} (seed {seed}): {c.epochs_run}/{c.max_epochs} epochs, best epoch "
                    f"{c.best_epoch}; ")
            text += f"still improving - {c.reason}" if c.still_improving else c.reason
            lines.append({"text": text, "warn": c.still_improving})
    return lines


def _mask_line(found: Any, what: str) -> str | None:
    """The mask-perturbation sentence of a verdict or an audit (None when not run)."""
    if found is None:
        return None
    how = (" (the hidden versions' models trained again on them)"
           if getattr(found, "retrained", False) else "")
    return (f"With the lung masks shrunk / grown by {found.change:.0%} of the lung width{how}, "
            f"{what} reads {found.erode.verdict} / {found.dilate.verdict}: it "
            f"{'holds' if found.holds else 'does not hold'}.")


def _card(run: RunResult, key: str, v: VerdictRecord, out: Path) -> dict[str, Any]:
    """One verdict card of the first screen."""
    layout = RunLayout(out)
    png = None
    if v.per_class:
        png = _png(forest_plot(layout.forest(key.replace("/", "_")), to_json(v), key))
    hidden = [h for h in run.representations if h in v.retained]
    arch = next((a for a in run.architectures if run.key(a) == key), None)
    audit = run.audits.get(arch) if arch is not None else None
    return {"key": key, "anchor": _anchor(key), "verdict": v.verdict, "sentence": v.sentence,
            "forest_png": png, "flags": flag_words(v.flags), "missing": v.missing,
            "undertrained": v.undertrained, "hidden": [representation_title(h) for h in hidden],
            "rows": _finding_rows(v, hidden), "convergence": _convergence_lines(run, v),
            "mask": _mask_line(v.mask_perturbation, "the verdict"),
            "audit_verdict": audit.audit_verdict if audit else None,
            "audit_reason": audit.audit.reason if audit and audit.audit else None,
            "audit_skipped": run.skipped.get("audit"),
            "detectable": detection_sentence(v.n_test)}


def _audit_view(a: AuditRecord, stem: str, out: Path) -> dict[str, Any]:
    """The audit section: its verdict, reason, flags, notes, fill and matched controls first;
    the raw accuracy per version last."""
    d = a.audit
    endpoint = _ENDPOINTS.get(d.endpoint, d.endpoint) if d else "balanced accuracy"
    found = a.fill_detectability or {}
    ch = ["hidden version", "drop", "control drop", "net drop", f"{endpoint} hidden",
          "control / hidden change", "control / hidden area", f"fill detectability "
          f"(probe AUC; lower bound >= {DETECTABLE_AUC:g}: detectable)"]
    control_rows = []
    for rep, c in a.vs_data.items():
        if not c.controlled:
            continue
        fd = found.get(rep)
        probe = "-" if fd is None else (
            _fmt({"value": fd.auc, "ci": list(fd.ci)}, 2)
            + (" detectable" if fd.detectable else " not detectable"))
        control_rows.append([rep, _fmt(c.drop), _fmt(c.control_drop), _fmt(c.net_drop),
                             _fmt(c.hidden_balanced_accuracy), _ratio(c.control_disturbance_ratio),
                             _ratio(c.control_area_ratio), probe])
    _write_tables(out, f"audit_controls_{stem}", ch, control_rows)
    hidden = [r for r, c in a.vs_data.items() if c.per_finding]
    verdicts = (d.per_finding if d else None) or {}
    findings = list(dict.fromkeys([*verdicts, *[f for h in hidden
                                                for f in a.vs_data[h].per_finding or {}]]))

    def net(rep: str, finding: str) -> str:
        drops = a.vs_data[rep].per_finding or {}
        return _fmt(drops[finding].net_drop) if finding in drops else "-"

    finding_rows = [[f, verdicts.get(f, "-"), *[net(h, f) for h in hidden]] for f in findings]
    rh = ["version", "n", "accuracy", "acc diff vs data", "p (McNemar)"]
    raw_rows = [[rep, str(m.n), _fmt(m.accuracy),
                 _fmt(a.vs_data[rep].accuracy_difference) if rep in a.vs_data else "-",
                 f"{a.vs_data[rep].mcnemar_p:.3g}" if rep in a.vs_data else "-"]
                for rep, m in a.representations.items()]
    _write_tables(out, f"audit_{stem}", rh, raw_rows)
    return {"verdict": a.audit_verdict or "not made",
            "reason": d.reason if d else "run without matched controls: no verdict",
            "scope": d.scope if d else "", "level": d.level if d else None,
            "flags": [AUDIT_FLAG_WORDS.get(f, f) for f in (d.flags if d else [])],
            "notes": d.notes if d else [], "fill": a.fill or "?",
            "fill_source": _FILL_SOURCE.get(a.fill_source or "", a.fill_source or "unknown"),
            "endpoint": endpoint, "control_header": ch, "control_rows": control_rows,
            "finding_header": ["finding", "audit verdict", *[f"net drop {h}" for h in hidden]],
            "finding_rows": finding_rows,
            "mask": _mask_line(a.mask_perturbation, "the audit's verdict"),
            "raw_header": rh, "raw_rows": raw_rows}


def _grid_cells(grid: str | None) -> int | None:
    """The smaller side of a ``"HxW"`` grid (None when unknown)."""
    try:
        return min(int(x) for x in (grid or "").lower().split("x"))
    except ValueError:
        return None


def _cam_view(run: RunResult, arch: str, cam: CamRecord, stem: str,
              out: Path) -> dict[str, Any]:
    """Grad-CAM rows: each measure beside its null, the zero-map count, the grid and the
    caveats that keep a lung ratio from being read as lung use."""
    from hideseek.classification.audit import hides_lungs

    v = run.verdicts.get(run.key(arch))
    audit = run.audits.get(arch)
    measures = ("lung_share", "lung_ratio", "box_share", "pointing", "occlusion")
    rows, csv_rows = [], []
    for rep, r in cam.representations.items():
        side = _grid_cells(r.grid)
        for cls, m in r.per_class.items():
            caveats = []
            if side is not None and side < COARSE_GRID:
                caveats.append(f"coarse map ({r.grid} cells): smoothed toward the lungs' area "
                               "share whatever the model does")
            if hides_lungs(rep):
                caveats.append("this model never sees the lungs (they are filled): "
                               "attribution inside them is not lung use")
            elif rep == "data" and v is not None and "shortcut" in (
                    v.verdict, v.per_class[cls].verdict if cls in v.per_class else None):
                caveats.append("the verdict puts the evidence outside the lungs (shortcut): "
                               "attribution in them is not lung use")
            elif rep == "data" and audit is not None and audit.audit_verdict == "relies_outside":
                caveats.append("the audit reads this model as relying outside the lungs")
            if m.n_zero_maps:
                caveats.append(f"{m.n_zero_maps} of {m.n} maps all zero (left out of the "
                               "measures)")
            cells = []
            for name in measures:
                s: MeasureSummary = getattr(m, name)
                null = f"null {_fmt(s.null, 2)}"
                if s.null_uniform is not None and math.isfinite(s.null_uniform):
                    null += f"; uniform {s.null_uniform:.2f}"
                cells.append({"value": _fmt(s, 2), "null": null})
            rows.append({"rep": rep, "cls": cls, "n": m.n, "zero": m.n_zero_maps,
                         "grid": r.grid or "?", "cells": cells, "caveats": caveats})
            csv_rows.append([rep, cls, str(m.n), str(m.n_zero_maps), r.grid or "?",
                             *[t for c in cells for t in (c["value"], c["null"])],
                             "; ".join(caveats)])
    _write_tables(out, f"cam_{stem}", ["representation", "class", "n", "zero maps", "grid",
                                       *[t for n in measures for t in (n, f"{n} null")],
                                       "caveats"], csv_rows)
    folder = Path(cam.folder or out / "cam" / safe_name(arch))
    return {"rows": rows, "method": cam.method, "ratio_png": _png(folder / "lung_ratio.png"),
            "fig3_png": _png(folder / "fig3.png")}


def _arch_section(run: RunResult, arch: str, stem: str, out: Path) -> dict[str, Any]:
    key = run.key(arch)
    seed = run.seeds[0]
    header, rows = paper_table(run, arch, seed)
    _write_tables(out, f"paper_table_{stem}", header, rows)
    seed_rows = []
    if len(run.seeds) > 1:
        for rep in run.representations:
            accs = [run.cell(arch, rep, s).eval.accuracy.value or math.nan for s in run.seeds]
            seed_rows.append([rep, f"{sum(accs) / len(accs):.3f}", f"{min(accs):.3f}",
                              f"{max(accs):.3f}", str(len(accs))])
    sources = sorted({s for rep in run.representations
                      for s in run.cell(arch, rep, seed).eval.per_source or {}})
    source_rows = []
    for rep in run.representations:
        per = run.cell(arch, rep, seed).eval.per_source or {}
        source_rows.append([rep, *[f"{_fmt(per[s].accuracy)} (n {per[s].n})"
                                   if s in per else "-" for s in sources]])
    init = run.cell(arch, "data", seed).train.get("init", "unknown")
    audit = run.audits.get(arch)
    cam = run.cam.get(arch)
    return {"key": key, "anchor": _anchor(key), "init": init, "header": header, "rows": rows,
            "seed_rows": seed_rows, "sources": sources, "source_rows": source_rows,
            "audit": _audit_view(audit, stem, out) if audit else None,
            "audit_skipped": run.skipped.get("audit", "not run"),
            "cam": _cam_view(run, arch, cam, stem, out) if cam else None,
            "cam_skipped": run.skipped.get("cam", "not run")}


def _reproduce(run: RunResult, out: Path) -> dict[str, Any]:
    """The run's files, as paths from the report's folder (only those that exist)."""
    rel = Path(os.path.relpath(run.output, out))
    named = [("resolved config", "config.resolved.yaml"), ("environment", "environment.json"),
             ("everything this report is made from", "results.json"),
             ("verdicts", "verdicts.json"), ("paired comparisons", "comparisons.json"),
             ("every cell's config, splits, per-epoch metrics, checkpoint and predictions",
              "cells")]
    if rel != Path("."):
        named.append(("this run's own report", "report.html"))
    files = []
    for what, name in named:
        path = Path(run.output) / name
        if path.exists():
            files.append({"what": what, "path": (rel / name).as_posix()
                          + ("/" if path.is_dir() else "")})
    return {"name": run.name, "files": files,
            "command": f"hideseek run {(rel / 'config.resolved.yaml').as_posix()}"}


def _run_view(run: RunResult, out: Path, single: bool) -> dict[str, Any]:
    """Per run: data, masks, QC, Fig. 1, sections, probe, external test, reproduce."""
    cfg = run.config
    qc = run.mask_qc or []
    fig1 = _png(Path(run.figures.get("fig1", Path(run.output) / "figures" / "fig1.png")))
    archs = [_arch_section(run, a, safe_name(a) if single else safe_name(f"{run.name}_{a}"),
                           out) for a in run.architectures]
    probe = run.probe
    probe_rows = [[rep, _fmt(r.accuracy), "-" if r.chance is None else f"{r.chance:.2f}",
                   str(r.n)] for rep, r in (probe.representations if probe else {}).items()]
    left_out = (probe.extra.get("design", {}).get("left_out", {}) if probe else {}) or {}
    return {"name": run.name, "anchor": _anchor(run.name), "env": run.environment,
            "freshness": freshness_text(run),
            "n_images": _n_images(run), "data": ", ".join(cfg["data"]),
            "masks_from": cfg.get("masks") or (
                f"predicted with the {cfg.get('segmentation_model')} segmentation model"),
            "qc": qc, "qc_columns": list(qc[0]) if qc else [], "fig1": fig1, "archs": archs,
            "probe_rows": probe_rows, "probe_skipped": run.skipped.get("probe"),
            "probe_left_out": [f"{label}: {why}" for label, why in left_out.items()],
            "external": _external_rows(run), "external_data": cfg.get("external_test"),
            "external_skipped": run.skipped.get("external_test"),
            "skipped": [{"stage": _STAGE_NAMES.get(s, s), "why": why}
                        for s, why in run.skipped.items()],
            "reproduce": _reproduce(run, out)}


_STAGE_NAMES = {"audit": "test-time audit", "cam": "Grad-CAM", "probe": "source probe",
                "external_test": "external test", "mask_perturbation": "mask perturbation"}


def write_report(results: RunResult | Sequence[RunResult], out: str | Path, *,
                 title: str | None = None, commands: Sequence[str] = ()) -> Path:
    """Write ``report.html`` (self-contained: images inlined) and ``tables/*.csv|md``.

    Args:
        results: One run, or several reported side by side (the demo's scenarios).
        out: The report's folder.
        title: The report's title (default: the run's name).
        commands: Further commands that reproduce it, shown under "Reproduce".
    """
    out = Path(out)
    runs = [results] if isinstance(results, RunResult) else list(results)
    env = Environment(loader=PackageLoader("hideseek.protocol", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    verdicts = [(run, k, v) for run in runs for k, v in run.verdicts.items()]
    verdict_rows = [[k, v.verdict, v.sentence] for _, k, v in verdicts]
    _write_tables(out, "verdicts", ["scenario/architecture", "verdict", "sentence"],
                  verdict_rows)
    views = [_run_view(run, out, len(runs) == 1) for run in runs]
    external = [row for view in views for row in view["external"]]
    if external:
        _write_tables(out, "external_test", ["cell", "source", "n", "accuracy"], external)
    html = template.render(
        name=title or runs[0].name, runs=views, env=runs[0].environment,
        seeds=sorted({s for run in runs for s in run.seeds}),
        verdicts=[{"key": k, "anchor": _anchor(k), "verdict": v.verdict,
                   "sentence": v.sentence} for _, k, v in verdicts],
        rule=RULE, screen=[_card(run, k, v, out) for run, k, v in verdicts],
        commands=list(commands),
        top_files=[p for p in ("verdicts.json", "tables/")
                   if (len(runs) > 1 or p == "tables/") and (out / p).exists()])
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def _external_rows(run: RunResult) -> list[list[str]]:
    """Per data-trained cell: its accuracy on the external test set, overall and per source."""
    rows = []
    for cell, m in run.external_test.items():
        k = CellKey.parse(cell)
        name = f"{run.key(k.arch)} ({k.representation}, seed {k.seed})"
        rows.append([name, "all", str(m.n), _fmt(m.accuracy)])
        rows += [[name, src, str(s.n), _fmt(s.accuracy)]
                 for src, s in sorted((m.per_source or {}).items())]
    return rows


def freshness_text(run: RunResult) -> str:
    """What this run reused from an earlier one (inputs unchanged) and what it redid."""
    parts = [f"Redone in this run ({len(run.redone)}): {', '.join(run.redone) or 'nothing'}."]
    parts.append(f"Reused from an earlier run with identical inputs, settings and code "
                 f"({len(run.reused)}): {', '.join(run.reused) or 'nothing'}.")
    return " ".join(parts)


def _n_images(run: RunResult) -> int:
    return int(sum(row.get("n", 0) for row in run.mask_qc or []))
