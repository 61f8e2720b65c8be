"""``represent`` reuses an image's versions only when its image, mask, options and code match."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from hideseek.data.manifest import load_dataset
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.representations import RepresentOptions, write_representations


def test_represent_redoes_exactly_the_changed_images(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_phantom_dataset(root, PhantomConfig(scenario="lungs", n=9, size=32, seed=3))
    data = load_dataset(root)
    out = tmp_path / "out"
    opt = RepresentOptions(workers=1, representations=("data", "lungs_removed"))
    first = write_representations(data, root / "masks", out, opt)
    n = first["written"]
    assert n == 9 and first["hash"]
    again = write_representations(data, root / "masks", out, opt)
    assert again["skipped"] == n and again["redone"] == 0 and again["hash"] == first["hash"]
    target = out / "lungs_removed" / "images" / data.records[0].filename
    zero = np.array(Image.open(target))
    mean = write_representations(data, root / "masks", out,
                                 RepresentOptions(fill="mean", workers=1,
                                                  representations=opt.representations))
    assert mean["redone"] == n and mean["skipped"] == 0 and mean["hash"] != first["hash"]
    assert not np.array_equal(np.array(Image.open(target)), zero)
    mask_file = sorted((root / "masks").rglob("*.png"))[0]
    mask = np.array(Image.open(mask_file))
    mask[:4, :4] = 255 - mask[:4, :4]
    Image.fromarray(mask).save(mask_file)
    back = write_representations(data, root / "masks", out, opt)
    assert back["redone"] == n  # back to zero fill: all redone
    edited = write_representations(data, root / "masks", out, opt)
    assert edited["skipped"] == n
    mask[:4, :4] = 255 - mask[:4, :4]
    Image.fromarray(mask).save(mask_file)
    one = write_representations(data, root / "masks", out, opt)
    assert one["redone"] == 1 and one["skipped"] == n - 1
    assert json.loads((out / "represent.json").read_text())["redone"] == 1
