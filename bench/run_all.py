"""Run every benchmark in this folder, one after the other."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent

if __name__ == "__main__":
    for script in sorted(HERE.glob("[a-z]*.py")):
        if script.name != "run_all.py":
            print(f"\n## {script.name}", flush=True)
            sys.argv = [str(script)]
            runpy.run_path(str(script), run_name="__main__")
