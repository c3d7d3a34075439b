"""Where a run came from: ``RUN/environment.json``, one record per process that trained in it.

The file holds ``{"runs": [record, ...]}``, oldest first. The first record is the process that
started the run; ``--resume`` (and a stage restarted in place) appends its own record, so the
original is never overwritten. A record holds:

* ``time``: UTC timestamp, ISO 8601 (``2025-01-31T12:00:00Z``),
* ``command``: the command line (``sys.argv``), ``cwd``, ``host`` and ``pid``,
* ``versions``: motionkit, torch, x-transformers, vector-quantize-pytorch and numpy (``None``
  when not installed), ``python``, ``machine``, ``platform`` and ``cpus``,
* ``git_commit``: the commit of the motionkit source tree (``None`` outside a git checkout),
* ``cuda``: the names of the visible CUDA devices; ``[]`` without CUDA, ``None`` when torch was
  not imported by the process (nothing is imported just to ask).

Recording is cheap (package metadata and one ``git rev-parse``) and imports neither torch nor
anything else heavy.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from motionkit.errors import MotionkitWarning
from motionkit.io import atomic_write_text

ENVIRONMENT_FILENAME = "environment.json"


def _cuda_devices() -> list[str] | None:
    """Names of the visible CUDA devices, or ``None`` when torch is not loaded in this process."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if not torch.cuda.is_available():
            return []
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver must not stop a run from starting
        return None


def run_environment() -> dict[str, Any]:
    """The record of this process: time, command line, versions, machine, git commit, CUDA."""
    from motionkit.bench import environment

    record: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": list(sys.argv),
        "cwd": os.getcwd(),
        "host": platform.node(),
        "pid": os.getpid(),
    }
    record.update(environment())  # versions, python, machine, cpus, git_commit (None: no git)
    record["platform"] = platform.platform()
    record["cuda"] = _cuda_devices()
    return record


def read_environment(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``run_dir/environment.json``, oldest first (``[]`` when there is none or
    it cannot be read as ``{"runs": [...]}``)."""
    try:
        data = json.loads((Path(run_dir) / ENVIRONMENT_FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    runs = data.get("runs") if isinstance(data, dict) else None
    return [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []


def record_environment(run_dir: str | Path) -> Path:
    """Append this process's record to ``run_dir/environment.json`` (atomically) and return it.

    A file that cannot be read as ``{"runs": [...]}`` is kept as ``environment.json.unreadable``
    (with a warning) and a new list is started.
    """
    path = Path(run_dir) / ENVIRONMENT_FILENAME
    runs: list[Any] = []
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
                raise ValueError("not a list of runs")
            runs = data["runs"]
        except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            kept = path.with_name(ENVIRONMENT_FILENAME + ".unreadable")
            path.replace(kept)
            warnings.warn(
                f"{path} could not be read; kept it as {kept.name} and started a new record",
                MotionkitWarning,
                stacklevel=2,
            )
            runs = []
    runs.append(run_environment())
    return atomic_write_text(path, json.dumps({"runs": runs}, indent=2) + "\n")
