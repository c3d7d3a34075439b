"""What the benchmark scripts record about the machine they ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def time_call(fn, repeats: int) -> tuple[float, float]:
    """Best and median seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    import statistics
    import time

    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return min(samples), statistics.median(samples)


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def torch_environment() -> dict[str, object]:
    """Library versions, machine, CPU and thread count, as the torch benchmarks record them."""
    import platform
    from importlib.metadata import version

    import numpy as np
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "vector_quantize_pytorch": version("vector-quantize-pytorch"),
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {usable_cpus()} usable cores, "
        f"{platform.system()} {platform.release()}",
        "cpu": cpu_name(),
        "device": "cuda" if torch.cuda.is_available() else "cpu (no GPU)",
        "torch_threads": torch.get_num_threads(),
    }
