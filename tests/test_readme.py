"""The README as an executable contract: its commands run as written.

The commands are read from the README's fenced ``bash`` blocks (continuations joined, comments
dropped), so an edit that breaks a command breaks this test:

- the quick path on phantoms runs exactly as written;
- the walk-through on the real pack runs command for command on a small copy of the pack (same
  relative path ``../shared/data/classification``), training one epoch at 64 px;
- the walk-through's ``hideseek run configs/shared-pack.yaml`` runs the shipped config with a
  few values made small (:data:`SMALL_PROTOCOL`);
- every example of "Audit your own model" runs with its placeholders (``DATA``, ``MASKS``,
  ``runs/resnet50``, ``model.yaml`` - the README's own spec example -,
  ``python:mylab.nets:build``, ...) made by the test, at 64 px; its notebook example (the
  ``python`` block) runs with ``"DATA"`` and ``"MASKS"`` replaced.

Each command runs in-process (``hideseek.cli.main.main``, with ``--debug`` so that a failure
shows its traceback) and must exit 0, find the files it reads (``--model``, ``--masks``) and
write the files it names (``--out``, ``--json``, ``--figure``).
"""

from __future__ import annotations

import csv
import importlib
import json
import re
import shlex
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hideseek.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: Where the walk-through reads the pack from (relative to the repository root).
PACK_PATH = "../shared/data/classification"

#: The small copy of the pack: images per (label, source), the first ones by file name. Two
#: sources with 10 normal images each, so that ``probe-source`` has a design to train on.
SUBSET: dict[tuple[str, str], int] = {
    ("normal", "kermany"): 10, ("normal", "actualmed"): 10, ("normal", "cohen"): 2,
    ("COVID-19", "cohen"): 8, ("COVID-19", "actualmed"): 4,
    ("pneumonia", "kermany"): 6, ("pneumonia", "cohen"): 4,
}
#: The data of the "Audit your own model" examples (a model named by kind has no splits: every
#: image is tested, so fewer of them).
OWN_SUBSET: dict[tuple[str, str], int] = {
    ("normal", "kermany"): 3, ("normal", "actualmed"): 3, ("COVID-19", "cohen"): 3,
    ("COVID-19", "actualmed"): 3, ("pneumonia", "kermany"): 3, ("pneumonia", "cohen"): 3,
}
#: The data of the notebook example, whose torchvision ResNet-18 runs at 224 px (its masks are
#: among those of :data:`OWN_SUBSET`).
NOTEBOOK_SUBSET: dict[tuple[str, str], int] = {
    ("normal", "kermany"): 2, ("COVID-19", "cohen"): 2, ("pneumonia", "kermany"): 2,
}

#: The only changes to the walk-through: one epoch at 64 px (the README: 10 epochs at 224 px).
SMALL_TRAINING = {"--epochs": "1", "--image-size": "64"}

#: The walk-through's ``hideseek run configs/shared-pack.yaml`` runs the shipped config with
#: these values changed, every other key as shipped. ResNet-18 only: AlexNet's 58 M-parameter
#: head makes each of its cells and its Grad-CAM about three times as slow (AlexNet runs from
#: 63 px up).
SMALL_PROTOCOL: dict[str, Any] = {"train": {"image_size": 64, "epochs": 1}, "n_boot": 200,
                                  "cam_max_images": 8, "architectures": ["resnet18"]}

#: Image size of every "Audit your own model" example (the README's 224 where it names one).
OWN_SIZE = "64"

#: Flags whose value is a file or folder a command reads (made by an earlier step) or writes.
READS = ("--model", "--masks", "--spec")
WRITES = ("--out", "--json", "--figure")


@dataclass(frozen=True)
class Block:
    """A fenced code block of the README and the headings it is under."""

    headings: tuple[str, ...]
    lang: str
    text: str


def readme_blocks(markdown: str) -> list[Block]:
    """Every fenced code block with its language and its heading path (outermost first)."""
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    fence: str | None = None
    lines: list[str] = []
    for line in markdown.splitlines():
        if fence is None:
            m = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
            if m:
                level = len(m.group(1))
                stack = [h for h in stack if h[0] < level] + [(level, m.group(2))]
            elif line.startswith("```"):
                fence, lines = line[3:].strip(), []
        elif line.startswith("```"):
            blocks.append(Block(tuple(h for _, h in stack), fence, "\n".join(lines)))
            fence = None
        else:
            lines.append(line)
    return blocks


def shell_commands(text: str) -> list[list[str]]:
    """The commands of a shell block, split as a shell would: backslash continuations joined,
    comments (whole lines and trailing ``# ...``) dropped."""
    out: list[list[str]] = []
    pending = ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        argv = shlex.split(pending + line, comments=True)
        pending = ""
        if argv:
            out.append(argv)
    assert not pending, f"a continuation ends the block: {pending!r}"
    return out


def section(heading: str, lang: str = "bash") -> list[Block]:
    """The ``lang`` blocks under the README heading that starts with ``heading``."""
    found = [b for b in readme_blocks(README.read_text(encoding="utf-8"))
             if b.lang == lang and any(h.startswith(heading) for h in b.headings)]
    assert found, f"README: no {lang} block under a heading {heading!r}"
    return found


def section_commands(heading: str) -> list[list[str]]:
    """The ``hideseek`` commands of the bash blocks under ``heading``, in README order."""
    commands = [c for b in section(heading) for c in shell_commands(b.text)]
    for argv in commands:
        assert argv[0] == "hideseek", f"README under {heading!r}: not a hideseek command: {argv}"
    return commands


def with_flags(argv: list[str], flags: dict[str, str]) -> list[str]:
    """``argv`` with each flag's value replaced, or the flag appended where it is missing."""
    out = list(argv)
    for flag, value in flags.items():
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out


def _values(argv: list[str], flags: tuple[str, ...]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in flags]


def _is_path(value: str) -> bool:
    """A file or folder, not a model named by kind (``torchvision:NAME``, ...)."""
    return not re.match(r"^[a-z]+:", value)


def run_readme_command(argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run one README command in ``cwd``: what it reads exists before, what it writes after."""
    text = shlex.join(argv)
    monkeypatch.chdir(cwd)
    for value in _values(argv, READS):
        assert not _is_path(value) or (cwd / value).exists(), \
            f"{text}: reads {value}, which no earlier step made"
    assert main(["--debug", *argv[1:]]) == 0, text
    for value in _values(argv, WRITES):
        assert (cwd / value).exists(), f"{text}: did not write {value}"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One preprocessing cache for the module (the user's cache stays untouched)."""
    return tmp_path_factory.mktemp("readme-cache")


@pytest.fixture(autouse=True)
def _own_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(cache_dir))


def copy_pack_subset(pack: Path, out: Path, subset: dict[tuple[str, str], int]) -> int:
    """Copy ``subset`` of the pack (images per label and source, the first by file name; their
    manifest rows as they are) to ``out``."""
    with (pack / "manifest.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = sorted(reader, key=lambda r: r["filename"])
    taken: Counter[tuple[str, str]] = Counter()
    keep = []
    for row in rows:
        key = (row["label"], row["source"])
        if taken[key] < subset.get(key, 0):
            taken[key] += 1
            keep.append(row)
    (out / "images").mkdir(parents=True)
    with (out / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(keep)
    for row in keep:
        shutil.copy2(pack / "images" / row["filename"], out / "images" / row["filename"])
    return len(keep)


@pytest.fixture(scope="module")
def small_pack(classification_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder ``<root>/repo`` whose ``../shared/data/classification`` is a small copy of the
    real pack (44 images)."""
    root = tmp_path_factory.mktemp("readme")
    n = copy_pack_subset(classification_pack, root / "shared" / "data" / "classification",
                         SUBSET)
    assert n == sum(SUBSET.values())
    (root / "repo").mkdir()
    return root / "repo"


def test_changelog_names_this_version() -> None:
    import tomllib

    import hideseek

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert hideseek.__version__ == version
    assert f"## {version}\n" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_readme_blocks_are_parsed_as_a_shell_would() -> None:
    text = "# a comment\nhideseek audit DATA --model m \\\n    --map \"A B=c\"  # why\n\n"
    assert shell_commands(text) == [["hideseek", "audit", "DATA", "--model", "m", "--map",
                                     "A B=c"]]
    blocks = readme_blocks("# T\n## S\n```bash\nx\n```\n### U\n```yaml\ny\n```\n")
    assert [(b.headings, b.lang, b.text) for b in blocks] == [
        (("T", "S"), "bash", "x"), (("T", "S", "U"), "yaml", "y")]


def test_quick_path_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = section_commands("Quick path")
    for argv in commands:
        run_readme_command(argv, tmp_path, monkeypatch)
    # The README says what the audit finds on the shortcut phantom.
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert audit["audit_verdict"] == "relies_outside"


@pytest.mark.slow
def test_walkthrough_on_the_pack(small_pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = section_commands("Walk-through on the real pack")
    assert all(PACK_PATH in argv for argv in commands if argv[1] != "run")
    config = ROOT / "configs" / "shared-pack.yaml"
    for argv in commands:
        if argv[1] in ("train", "probe-source"):
            argv = with_flags(argv, SMALL_TRAINING)
        if argv[1] == "run":
            assert argv[2] == "configs/shared-pack.yaml"
            _small_protocol_config(config, small_pack / argv[2])
        run_readme_command(argv, small_pack, monkeypatch)
    # What the steps wrote, as the next ones read it.
    seg = small_pack / "seg"
    assert len(list((seg / "masks").iterdir())) == sum(SUBSET.values())
    assert (seg / "regions.csv").is_file()
    assert json.loads((small_pack / "eval.json").read_text())["n"] > 0
    assert "probe.json" in {p.name for p in (small_pack / "probe").iterdir()}
    assert json.loads((small_pack / "cam.json").read_text())["representations"]
    run = small_pack / "runs" / "shared-pack"
    assert (run / "report.html").is_file() and (run / "verdicts.json").is_file()


def _small_protocol_config(shipped: Path, out: Path) -> None:
    """The shipped protocol config with :data:`SMALL_PROTOCOL` over it, at ``out`` (same
    relative paths: ``../../shared/data/classification`` is the small pack)."""
    cfg = yaml.safe_load(shipped.read_text())
    for key, value in SMALL_PROTOCOL.items():
        assert key in cfg, f"{shipped}: no key {key}"
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) else value
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))


# ---------------------------------------------------------------------------------------------
# Audit your own model: one example per model kind, placeholders made here.

OWN = "Audit your own model"
CLASSES = ["normal", "pneumonia", "COVID-19"]

#: ``python:mylab.nets:build``: a factory returning an ``nn.Module``.
NETS = '''\
"""A user's own architecture (made by tests/test_readme.py)."""

from torch import nn


def build() -> nn.Module:
    """A tiny CNN on one grey channel with three outputs."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3))
'''


def _own_commands() -> list[list[str]]:
    return section_commands(OWN)


def _own_id(argv: list[str]) -> str:
    model = _values(argv, ("--model",))
    extra = "-occlusion" if "occlusion" in argv else ("-new-head" if "--num-classes" in argv
                                                      else "")
    return f"{argv[1]}-{model[0] if model else '?'}{extra}"


@dataclass(frozen=True)
class OwnWorkspace:
    """The folder the examples run in and what their placeholders stand for."""

    cwd: Path
    data: Path
    masks: Path
    notebook_data: Path
    findings_data: Path

    def substitute(self, argv: list[str]) -> list[str]:
        """``DATA`` and ``MASKS`` replaced; every example at :data:`OWN_SIZE` px. A
        TorchXRayVision model without a mapping is audited per pathology: its ``DATA`` is
        multi-label data whose findings it names (:data:`XRV_FINDINGS`)."""
        per_pathology = any(a.startswith("xrv:") for a in argv) and not {"--map", "--spec"} \
            & set(argv)
        data = self.findings_data if per_pathology else self.data
        subs = {"DATA": str(data), "MASKS": str(self.masks)}
        return with_flags([subs.get(a, a) for a in argv], {"--input-size": OWN_SIZE})


#: Findings named like TorchXRayVision's outputs, given to the images in turn.
XRV_FINDINGS = ("Effusion", "Nodule", "Effusion|Nodule", "")


def _findings_copy(data: Path, out: Path) -> None:
    """``data`` as multi-label data (the same images, a ``labels`` column of findings)."""
    with (data / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out.mkdir()
    (out / "images").symlink_to((data / "images").resolve(), target_is_directory=True)
    with (out / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["filename", "labels", "source", "patient_id"])
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({"filename": row["filename"], "source": row["source"],
                             "patient_id": row["patient_id"],
                             "labels": XRV_FINDINGS[i % len(XRV_FINDINGS)]})


def _write_models(cwd: Path) -> None:
    """The model files the examples name, all with three outputs at :data:`OWN_SIZE` px."""
    import warnings

    import torch
    import torchvision

    size = int(OWN_SIZE)
    torch.manual_seed(0)
    # a plain state dict of a registry architecture (ImageFolder order: COVID-19 first)
    torch.save(torchvision.models.resnet50(num_classes=3).state_dict(), cwd / "weights.pth")
    spec = {"classes": CLASSES, "num_classes": 3, "input": {"size": size}}
    for name in ("densenet.yaml", "effnet.yaml"):
        (cwd / name).write_text(yaml.safe_dump(spec))
    # model.yaml: the README's own spec example
    (yaml_block,) = section(OWN, "yaml")
    (cwd / "model.yaml").write_text(yaml_block.text + "\n")
    net = importlib.import_module("mylab.nets").build().eval()
    x = torch.rand(2, 1, size, size)
    batch = ({0: torch.export.Dim.DYNAMIC},)  # any batch size, the image size fixed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export and tracing warnings of this torch
        torch.export.save(torch.export.export(net, (x,), dynamic_shapes=batch),
                          cwd / "model.pt2")
        torch.jit.trace(net, x).save(str(cwd / "model.ts"))
        torch.onnx.export(net, (x,), str(cwd / "model.onnx"), input_names=["x"],
                          dynamic_shapes=batch, dynamo=True)


@pytest.fixture(scope="module")
def own(classification_pack: Path, tmp_path_factory: pytest.TempPathFactory,
        cache_dir: Path) -> Iterator[OwnWorkspace]:
    """:data:`OWN_SUBSET` of the pack and its masks, ``mylab.nets`` importable, the model files
    and a hideseek training folder ``runs/resnet50`` (1 epoch at 64 px)."""
    cwd = tmp_path_factory.mktemp("readme-own")
    data = cwd / "data"
    assert copy_pack_subset(classification_pack, data, OWN_SUBSET) == sum(OWN_SUBSET.values())
    copy_pack_subset(classification_pack, cwd / "notebook-data", NOTEBOOK_SUBSET)
    _findings_copy(data, cwd / "findings-data")
    (cwd / "mylab").mkdir()
    (cwd / "mylab" / "__init__.py").write_text("")
    (cwd / "mylab" / "nets.py").write_text(NETS)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(cwd))
        mp.setenv("HIDESEEK_CACHE", str(cache_dir))
        mp.setenv("HIDESEEK_PROGRESS", "0")
        mp.chdir(cwd)
        assert main(["segment", "predict", str(data), "--out", "seg"]) == 0
        assert main(["train", str(data), "--arch", "resnet50", "--no-pretrained",
                     "--image-size", OWN_SIZE, "--epochs", "1", "--out", "runs/resnet50"]) == 0
        _write_models(cwd)
        yield OwnWorkspace(cwd, data, cwd / "seg", cwd / "notebook-data",
                           cwd / "findings-data")


@pytest.mark.slow
@pytest.mark.parametrize("argv", _own_commands(), ids=_own_id)
def test_audit_your_own_model(argv: list[str], own: OwnWorkspace,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(own.cwd))
    run_readme_command(own.substitute(argv), own.cwd, monkeypatch)


@pytest.mark.slow
def test_audit_your_own_model_from_python(own: OwnWorkspace,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = section(OWN, "python")
    code = block.text.replace('"DATA"', repr(str(own.notebook_data)))
    code = code.replace('"MASKS"', repr(str(own.masks)))
    assert code != block.text
    monkeypatch.chdir(own.cwd)
    scope: dict[str, Any] = {}
    exec(compile(code, f"{README}:{OWN}", "exec"), scope)
    assert scope["result"]["audit_verdict"]
