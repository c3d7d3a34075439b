"""Wall-clock time of writing the synthetic corpus (generation, feature extraction, files).

Usage: python benchmarks/synthetic_corpus.py [--num 2000] [--workers N] [--repeats 1]
       [--out benchmarks/results/synthetic_corpus.json]

Each repeat writes ``num`` clips with ``generate_corpus`` into a fresh temporary folder; the
median and minimum seconds, the clips per second of the median, the frame count and the corpus
size on disk are recorded with the command line, the Python version and the machine. Target:
2,000 clips in under 60 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machine import usable_cpus

from motionkit.data.synthetic import GENERATOR_VERSION, generate_corpus
from motionkit.data.synthetic.corpus import default_workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="default: usable CPUs, <= 8")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/synthetic_corpus.json")
    )
    args = parser.parse_args()
    workers = default_workers() if args.workers is None else args.workers
    samples, frames, size = [], 0, 0
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            report = generate_corpus(Path(tmp) / "synth", args.num, args.seed, workers=workers)
            samples.append(time.perf_counter() - start)
            frames = report.frames
            size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        print(f"{samples[-1]:7.2f} s  {args.num} clips")
    median = statistics.median(samples)
    result = {
        "benchmark": "synthetic_corpus",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {usable_cpus()} cores",
        "generator_version": GENERATOR_VERSION,
        "num": args.num,
        "seed": args.seed,
        "workers": workers,
        "repeats": args.repeats,
        "seconds": round(median, 2),
        "min_seconds": round(min(samples), 2),
        "clips_per_second": round(args.num / median, 1),
        "frames": frames,
        "megabytes": round(size / 1e6, 1),
        "target": "2000 clips in < 60 s on 2 CPU cores",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"median {median:.2f} s, {result['clips_per_second']} clips/s; wrote {args.out}")


if __name__ == "__main__":
    main()
