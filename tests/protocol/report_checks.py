"""Checks that a report agrees with itself and with the results it was made from (used by
``test_report_consistency.py`` on tiny runs and ``test_demo_report.py`` on the real demo)."""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

from hideseek.formatting import format_value_ci
from hideseek.jsonio import dumps
from hideseek.protocol.results import RunResult

__all__ = ["check_report", "read_run", "text"]

_AUDIT_VERDICTS = ("relies_on_lungs", "relies_outside")


def read_run(folder: Path) -> RunResult:
    """A run's ``results.json`` read back (and checked to round-trip unchanged)."""
    raw = json.loads((folder / "results.json").read_text())
    run = RunResult.from_json(raw)
    assert json.loads(dumps(run)) == raw, "results.json does not round-trip through RunResult"
    return run


def text(fragment: str) -> str:
    """Visible text of an HTML fragment (tags dropped, entities unescaped)."""
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))


def _body(page: str) -> str:
    """The page without its style sheet and script (whose class names are not claims)."""
    return re.sub(r"<(style|script)>.*?</\1>", "", page, flags=re.S)


def _sections(page: str, kind: str) -> dict[str, str]:
    """``<section class="kind" data-key=...>`` blocks by key."""
    found = re.findall(rf'<section class="{kind}"[^>]*data-key="([^"]+)"[^>]*>(.*?)</section>',
                       page, flags=re.S)
    out = {html_lib.unescape(k): whole for k, whole in found}
    assert len(out) == len(found), f"a {kind} section is repeated"
    return out


def _attr(page: str, kind: str, key: str, attr: str) -> str:
    m = re.search(rf'<(?:section|div) class="{kind}"[^>]*data-key="{re.escape(key)}"[^>]*'
                  rf'{attr}="([^"]*)"', page)
    assert m, f"no {kind} {key} with {attr}"
    return m.group(1)


def check_report(out: Path, runs: list[RunResult]) -> None:
    """Assert that ``out/report.html`` agrees with ``runs`` and with itself."""
    page = (out / "report.html").read_text(encoding="utf-8")
    body = _body(page)
    keys = [run.key(a) for run in runs for a in run.architectures]
    assert sorted(keys) == sorted(k for run in runs for k in run.verdicts)

    # Self-contained: every image inlined, nothing fetched.
    assert all(src.startswith("data:image/png;base64,")
               for src in re.findall(r'<img src="([^"]+)"', page))
    assert not re.search(r'(src|href)="(https?:)?//', page)

    # One naming: each architecture is "<name>/<arch>" in its card, every section and the
    # verdict table; the demo's old "<name>-<arch>" spelling appears nowhere.
    audits = _sections(body, "audit")
    for run in runs:
        for arch in run.architectures:
            key = run.key(arch)
            assert f"{key}: the paper's table with intervals" in body, key
            assert f"{run.name}-{arch}" not in body, f"{key} spelled another way"
            assert _attr(body, "card", key, "data-verdict") == run.verdicts[key].verdict

            # The audit section leads with the audit's verdict and the matched controls,
            # and the raw accuracy table comes only after them.
            audit = run.audits.get(arch)
            if audit is None:
                assert key not in audits
                assert f"Not run: {run.skipped['audit']}" in text(body)
                continue
            section = audits[key]
            assert _attr(body, "audit", key, "data-audit-verdict") == audit.audit_verdict
            lead = re.search(r"Audit verdict:</b>\s*<span class=\"verdict (\w+)\">", section)
            assert lead and lead.group(1) == audit.audit_verdict, key
            raw_at = section.index('class="audit-raw"')
            controls_at = section.index('class="controls"')
            assert section.index("Audit verdict:") < controls_at < raw_at
            assert "A raw drop is not lung reliance by itself" in text(section)
            controlled = [(r, c) for r, c in audit.vs_data.items() if c.controlled]
            assert controlled, key
            for rep, c in controlled:
                row = re.search(rf"<tr><td>{rep}</td>(.*?)</tr>", section[controls_at:raw_at])
                assert row, (key, rep)
                for est in (c.drop, c.control_drop, c.net_drop):
                    assert est is not None
                    want = format_value_ci({"value": est.value, "ci": list(est.ci)})
                    assert want in row.group(1), (key, rep, want)
            # The first screen names the same audit verdict, and no other verdict word of the
            # audit appears anywhere for this key.
            card = re.search(rf'<div class="card"[^>]*data-key="{re.escape(key)}".*?</div>',
                             body, flags=re.S)
            assert card and f'verdict {audit.audit_verdict}">{audit.audit_verdict}' in \
                card.group(0), key
    claimed = {w for w in _AUDIT_VERDICTS if w in body}
    made = {a.audit_verdict for run in runs for a in run.audits.values()}
    made |= {v for run in runs for a in run.audits.values() if a.audit is not None
             for v in (a.audit.per_finding or {}).values()}  # a multi-label audit's findings
    assert claimed <= made, f"the report claims {claimed - made} that no audit made"

    # Grad-CAM rows: each measure beside its null, the zero-map count, the grid.
    cams = re.findall(r'<tr class="cam-row">(.*?)</tr>', body, flags=re.S)
    want_rows = sum(len(r.per_class) for run in runs for c in run.cam.values()
                    for r in c.representations.values())
    assert len(cams) == want_rows
    zero = [int(z) for z in re.findall(r'<td class="zero-maps">(\d+)</td>', body)]
    assert zero == [m.n_zero_maps for run in runs for c in run.cam.values()
                    for r in c.representations.values() for m in r.per_class.values()]
    for row in cams:
        assert text(row).count("null ") == 5, text(row)

    # Every skipped stage says why; the probe in its own section.
    for run in runs:
        for why in run.skipped.values():
            assert why in text(body), why
        if run.probe is None or not run.probe.representations:
            said = [text(p) for p in re.findall(r'<p class="skipped probe-skipped">(.*?)</p>',
                                                body, flags=re.S)]
            assert any(f"Skipped: {run.skipped['probe']}" in p for p in said), said

    # Reproduce: every path it names exists under the report's folder.
    repro = body[body.index('id="reproduce"'):]
    paths = [html_lib.unescape(p) for p in re.findall(r'<code class="path">([^<]+)</code>', repro)]
    assert paths and all((out / p).exists() for p in paths), [
        p for p in paths if not (out / p).exists()]
    for run in runs:
        assert any(p.endswith("config.resolved.yaml") and (out / p).resolve()
                   == (Path(run.output) / "config.resolved.yaml").resolve() for p in paths)
