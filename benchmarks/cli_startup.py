"""Wall-clock start-up time of light CLI commands (lazy imports keep them fast).

Usage: python benchmarks/cli_startup.py [--repeats N] [--out benchmarks/results/cli_startup.json]

Each command runs in a fresh interpreter N times; the median and minimum are recorded with the
command line, the Python version and the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [
    ["--help"],
    ["list"],
    ["list", "quantizers", "--options", "fsq"],
    ["train", "--quantizer", "fsq", "--levels", "8,8,8,6,5", "--dry-run"],
    ["check", "quantizers"],
]


def time_command(args: list[str], repeats: int) -> dict[str, object]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "motionkit", *args], check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return {
        "command": "motionkit " + " ".join(args),
        "median_s": round(statistics.median(samples), 3),
        "min_s": round(min(samples), 3),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cli_startup.json"))
    args = parser.parse_args()
    rows = [time_command(command, args.repeats) for command in COMMANDS]
    baseline = time_command(["--version"], args.repeats)
    result = {
        "benchmark": "cli_startup",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{__import__('os').cpu_count()} cores",
        "baseline_version": baseline,
        "commands": rows,
    }
    for row in [baseline, *rows]:
        print(f"{row['median_s']:7.3f} s  {row['command']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
