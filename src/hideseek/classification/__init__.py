"""Classification: the paper's recipes, honest evaluation, audit, probe (the architectures are
:mod:`hideseek.models`, re-exported here)."""

from hideseek.classification.audit import audit
from hideseek.classification.checkpoint import load_classifier, save_classifier
from hideseek.classification.config import PRESETS, AugmentConfig, TrainConfig, load_train_config
from hideseek.classification.evaluate import Predictions, evaluate, format_table
from hideseek.classification.probe import probe_source
from hideseek.classification.stats import classification_metrics, paired_comparison, wilson
from hideseek.classification.train import predict_proba, train_classifier
from hideseek.models import ARCHITECTURES, Classifier, build_model, target_layer

__all__ = [
    "ARCHITECTURES",
    "PRESETS",
    "AugmentConfig",
    "Classifier",
    "Predictions",
    "TrainConfig",
    "audit",
    "build_model",
    "classification_metrics",
    "evaluate",
    "format_table",
    "load_classifier",
    "load_train_config",
    "paired_comparison",
    "predict_proba",
    "probe_source",
    "save_classifier",
    "target_layer",
    "train_classifier",
    "wilson",
]
