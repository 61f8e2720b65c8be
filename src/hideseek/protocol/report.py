"""The report: one self-contained HTML file (Jinja2, autoescaped) plus CSV / Markdown tables."""

from __future__ import annotations

import base64
import csv
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from hideseek.data.labels import LABELS
from hideseek.formatting import format_value_ci
from hideseek.naming import safe_name
from hideseek.protocol.forest import flag_words, forest_plot
from hideseek.protocol.layout import CellKey, RunLayout
from hideseek.protocol.verdicts import RULE

__all__ = ["freshness_text", "paper_table", "write_report"]

_SHORT = {"normal": "normal", "pneumonia": "pneumo", "COVID-19": "covid"}


_fmt = format_value_ci


def _png(path: Path) -> str | None:
    return base64.b64encode(path.read_bytes()).decode() if path.is_file() else None


def paper_table(results: dict[str, Any], arch: str, seed: int) -> tuple[list[str], list[list[str]]]:
    """Rows = representations; accuracy, sensitivity and PPV per class with intervals, and the
    paired comparison with ``data``."""
    reps = results["config"]["representations"]
    labels = list(LABELS)
    header = ["representation", "n", "accuracy", *[f"sens {_SHORT[c]}" for c in labels],
              *[f"PPV {_SHORT[c]}" for c in labels], "acc diff vs data", "p (McNemar)"]
    rows = []
    comp = results["comparisons"].get(arch, {}).get(f"seed{seed}", {})
    for rep in reps:
        ev = results["cells"][CellKey(arch, rep, seed).id]["eval"]
        row = [rep, str(ev["n"]), _fmt(ev["accuracy"])]
        row += [_fmt(ev["per_class"][c]["sensitivity"]) for c in labels]
        row += [_fmt(ev["per_class"][c]["ppv"]) for c in labels]
        c = comp.get(rep)
        row += ([_fmt(c["accuracy_difference"]), f"{c['mcnemar_p']:.3g}"] if c else ["-", "-"])
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


def _arch_section(results: dict[str, Any], arch: str, out: Path) -> dict[str, Any]:
    cfg = results["config"]
    seed = cfg["seeds"][0]
    header, rows = paper_table(results, arch, seed)
    _write_tables(out, f"paper_table_{safe_name(arch)}", header, rows)
    seed_rows = []
    if len(cfg["seeds"]) > 1:
        for rep in cfg["representations"]:
            accs = [results["cells"][CellKey(arch, rep, s).id]["eval"]["accuracy"]["value"]
                    for s in cfg["seeds"]]
            seed_rows.append([rep, f"{sum(accs) / len(accs):.3f}", f"{min(accs):.3f}",
                              f"{max(accs):.3f}", str(len(accs))])
    sources = sorted({s for rep in cfg["representations"] for s in results["cells"][
        CellKey(arch, rep, seed).id]["eval"].get("per_source", {})})
    source_rows = []
    for rep in cfg["representations"]:
        per = results["cells"][CellKey(arch, rep, seed).id]["eval"].get("per_source", {})
        source_rows.append([rep, *[f"{_fmt(per[s]['accuracy'])} (n {per[s]['n']})"
                                   if s in per else "-" for s in sources]])
    init = results["cells"][CellKey(arch, "data", seed).id]["train"].get("init", "unknown")
    section: dict[str, Any] = {"name": arch, "init": init, "header": header, "rows": rows,
                               "seed_rows": seed_rows, "sources": sources,
                               "source_rows": source_rows}
    audit = results.get("audits", {}).get(arch)
    if audit:
        ah = ["version", "n", "accuracy", "acc diff vs data", "p (McNemar)"]
        section["audit_header"] = ah
        section["audit_rows"] = [
            [rep, str(m["n"]), _fmt(m["accuracy"]),
             _fmt(audit["vs_data"][rep]["accuracy_difference"]) if rep in audit["vs_data"]
             else "-",
             f"{audit['vs_data'][rep]['mcnemar_p']:.3g}" if rep in audit["vs_data"] else "-"]
            for rep, m in audit["representations"].items()]
        _write_tables(out, f"audit_{safe_name(arch)}", ah, section["audit_rows"])
    cam = results.get("cam", {}).get(arch)
    if cam:
        cam_rows = []
        for rep, r in cam["representations"].items():
            for cls, m in r["per_class"].items():
                cam_rows.append([rep, cls, str(m["n"]), _fmt(m["lung_share"]),
                                 _fmt(m["lung_ratio"]), _fmt(m["box_share"]),
                                 _fmt(m["pointing"]), _fmt(m["occlusion"])])
        section["cam_rows"] = cam_rows
        _write_tables(out, f"cam_{safe_name(arch)}", ["representation", "class", "n", "lung share",
                                           "lung ratio", "box share", "pointing", "occlusion"],
                      cam_rows)
        folder = Path(cam.get("folder", out / "cam" / safe_name(arch)))
        section["ratio_png"] = _png(folder / "lung_ratio.png")
        section["fig3_png"] = _png(folder / "fig3.png")
    return section


def write_report(results: dict[str, Any], out: str | Path) -> Path:
    """Write ``report.html`` (self-contained: images inlined) and ``tables/*.csv|md``."""
    out = Path(out)
    cfg = results["config"]
    env = Environment(loader=PackageLoader("hideseek.protocol", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    qc = results.get("mask_qc") or []
    verdict_rows = [["scenario/architecture", "verdict", "sentence"]]
    verdict_rows += [[k, v["verdict"], v["sentence"]] for k, v in results["verdicts"].items()]
    _write_tables(out, "verdicts", verdict_rows[0], verdict_rows[1:])
    html = template.render(
        name=cfg["name"], env=results["environment"], seeds=cfg["seeds"],
        verdicts=results["verdicts"], rule=RULE, screen=_first_screen(results["verdicts"], out),
        n_images=_n_images(results),
        data=", ".join(cfg["data"]), masks_from=cfg["masks"] or (
            f"predicted with the {cfg['segmentation_model']} segmentation model"),
        qc=qc, qc_columns=list(qc[0]) if qc else [],
        fig1=_png(Path(results.get("figures", {}).get("fig1", out / "figures" / "fig1.png"))),
        archs=[_arch_section(results, a, out) for a in cfg["architectures"]],
        probe=results.get("probe"), fmt=_fmt, freshness=freshness_text(results),
        external=_external_rows(results, out), external_data=cfg.get("external_test"))
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def _external_rows(results: dict[str, Any], out: Path) -> list[list[str]]:
    """Per data-trained cell: its accuracy on the external test set, overall and per source."""
    rows = []
    for cell, m in (results.get("external_test") or {}).items():
        rows.append([cell, "all", str(m["n"]), _fmt(m["accuracy"])])
        rows += [[cell, src, str(s["n"]), _fmt(s["accuracy"])]
                 for src, s in sorted(m.get("per_source", {}).items())]
    if rows:
        _write_tables(out, "external_test", ["cell", "source", "n", "accuracy"], rows)
    return rows


def freshness_text(results: dict[str, Any]) -> str:
    """What this run reused from an earlier one (inputs unchanged) and what it redid."""
    if "reused" not in results and "redone" not in results:
        return ""
    reused: list[str] = results.get("reused") or []
    redone: list[str] = results.get("redone") or []
    parts = [f"Redone in this run ({len(redone)}): {', '.join(redone) or 'nothing'}."]
    parts.append(f"Reused from an earlier run with identical inputs, settings and code "
                 f"({len(reused)}): {', '.join(reused) or 'nothing'}.")
    return " ".join(parts)


def _first_screen(verdicts: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    """Per architecture: the verdict, its forest plot (inlined) and the flags in words."""
    layout = RunLayout(out)
    cards = []
    for key, v in verdicts.items():
        png = None
        if v.get("per_class") is not None:
            png = _png(forest_plot(layout.forest(key.replace("/", "_")), v, key))
        cards.append({"key": key, "verdict": v["verdict"], "sentence": v["sentence"],
                      "forest_png": png, "flags": flag_words(v.get("flags", [])),
                      "missing": v.get("missing", []),
                      "per_class": {c: cv["verdict"] for c, cv in
                                    (v.get("per_class") or {}).items()}})
    return cards


def _n_images(results: dict[str, Any]) -> int:
    return int(sum(row.get("n", 0) for row in results.get("mask_qc") or []))
