"""One training engine for every model: epochs, seeding, checkpoints, resume, early stopping."""

from hideseek.engine.checkpoint import (
    CHECKPOINT_VERSION,
    FINISHED_NAME,
    STATE_NAME,
    atomic_save,
    check_version,
    claim_run_dir,
    load_checkpoint_file,
    load_training_state,
    training_finished,
)
from hideseek.engine.convergence import Convergence, convergence
from hideseek.engine.distributed import DistContext, init_distributed
from hideseek.engine.loop import EngineConfig, TrainResult, TrainTask, epoch_seed, run_training
from hideseek.engine.metrics import MetricsLog
from hideseek.engine.schedule import SCHEDULES, epoch_lr, lr_schedule
from hideseek.engine.stopping import EarlyStopping

__all__ = [
    "CHECKPOINT_VERSION",
    "FINISHED_NAME",
    "SCHEDULES",
    "STATE_NAME",
    "Convergence",
    "DistContext",
    "EarlyStopping",
    "EngineConfig",
    "MetricsLog",
    "TrainResult",
    "TrainTask",
    "atomic_save",
    "check_version",
    "claim_run_dir",
    "convergence",
    "epoch_lr",
    "epoch_seed",
    "init_distributed",
    "load_checkpoint_file",
    "load_training_state",
    "lr_schedule",
    "run_training",
    "training_finished",
]
