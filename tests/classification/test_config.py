"""Training recipes: presets, YAML, class weights by name, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hideseek.classification.config import load_train_config
from hideseek.errors import HideseekError
from hideseek.task import COVID_TASK, Task


def test_config_presets_yaml_and_errors(tmp_path: Path) -> None:
    cfg = load_train_config(preset="covidnet")
    assert (cfg.arch, cfg.image_size, cfg.batch_size, cfg.lr, cfg.epochs) == (
        "covidnet", 480, 8, 2e-4, 10)
    assert cfg.augment.hflip and cfg.sampler == "covid_fraction"
    default = load_train_config()
    assert (default.image_size, default.batch_size, default.lr, default.epochs) == (
        224, 32, 1e-4, 20)
    assert default.class_weights is None and not default.augment.hflip
    assert default.loss_weights(COVID_TASK) == [1.0, 1.0, 4.0]  # the paper's, by name
    binary = Task(("normal", "tuberculosis"))
    assert default.loss_weights(binary) == [1.0, 1.0]
    named = load_train_config(class_weights={"tuberculosis": 3})
    assert named.loss_weights(binary) == [1.0, 3.0]
    with pytest.raises(ValueError, match="class_weights has 3 values"):
        load_train_config(class_weights=[1, 1, 4]).loss_weights(binary)
    with pytest.raises(ValueError, match="names covid"):
        load_train_config(class_weights={"covid": 2}).loss_weights(binary)
    y = tmp_path / "c.yaml"
    y.write_text("arch: vgg11\nepochs: 3\naugment:\n  rotation: 5\n")
    cfg = load_train_config(y, epochs=2)
    assert (cfg.arch, cfg.epochs, cfg.augment.rotation) == ("vgg11", 2, 5)
    y.write_text("arch: vgg12\n")
    with pytest.raises(HideseekError, match="unknown architecture"):
        load_train_config(y)
    with pytest.raises(HideseekError, match="representation"):
        load_train_config(representation="lungs_gone")
