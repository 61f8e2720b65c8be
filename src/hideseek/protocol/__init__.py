"""The whole protocol: configuration, resumable runner, executors, verdicts, report, demo."""

from hideseek.protocol.config import ProtocolConfig, load_protocol_config
from hideseek.protocol.demo import run_demo
from hideseek.protocol.report import write_report
from hideseek.protocol.results import RunResult
from hideseek.protocol.runner import run_protocol
from hideseek.protocol.verdicts import RULE, verdict

__all__ = ["RULE", "ProtocolConfig", "RunResult", "load_protocol_config", "run_demo",
           "run_protocol", "verdict", "write_report"]
