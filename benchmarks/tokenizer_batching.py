"""Encode + decode of 196-frame clips at the reference width: one clip at a time vs batched.

    python benchmarks/tokenizer_batching.py [--clips 64] [--repeats 3]

The peers' evaluation and export scripts run the tokenizer on one clip at a time; motionkit's
token export (``encode_dataset``) and evaluation batch clips of one length together. Both
strategies run here side by side, in one process, on the same weights (the reference MotionVAE
of REFERENCE.md §1: width 512, depth 3, FSQ 8,8,8,6,5), alternating, and the medians are
compared as a ratio. It also checks that the batched tokens equal the one-at-a-time ones.

To say how far batching can go on the machine, it counts the convolutions' FLOPs per frame
(forward hooks) and measures, in the same process, the best fp32 rate torch reaches on this
CPU: square matrix products (1024, 2048) and a large 512-wide kernel-3 convolution (oneDNN,
which beats the BLAS matrix multiply on some CPUs). Frames/s x FLOPs/frame against that peak is
the share of the machine each strategy uses.
Writes ``benchmarks/results/tokenizer_batching.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from machine import time_call

ROOT = Path(__file__).resolve().parent.parent


def conv_flops_per_frame(model: torch.nn.Module, frames: int) -> float:
    """Multiply-add FLOPs (2 per MAC) of every Conv1d in one encode + decode, per input frame."""
    total = 0

    def count(module: torch.nn.Conv1d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        macs = output.numel() * module.in_channels // module.groups * module.kernel_size[0]
        total += 2 * macs

    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
    hooks = [m.register_forward_hook(count) for m in convs]
    try:
        with torch.no_grad():
            model.decode(model.encode(torch.randn(1, frames, model.feature_dim)))
    finally:
        for hook in hooks:
            hook.remove()
    return total / frames


def fp32_peak(repeats: int = 5) -> float:
    """Best fp32 FLOP/s of square matmuls and of a large Conv1d (medians of ``repeats``)."""

    def rate(flops: float, fn) -> float:
        return flops / time_call(fn, repeats)[1]

    best = 0.0
    for n in (1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        best = max(best, rate(2 * n**3, lambda a=a, b=b: a @ b))
    x, w = torch.randn(32, 512, 196), torch.randn(512, 512, 3)
    conv = lambda: torch.nn.functional.conv1d(x, w, padding=1)  # noqa: E731
    return max(best, rate(2 * 32 * 196 * 512 * 512 * 3, conv))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--frames", type=int, default=196)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="8,32,64")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    from motionkit.config.run import resolve_run_config
    from motionkit.tokenizer.run import build_vae

    torch.manual_seed(0)
    config = resolve_run_config("tokenizer", args=["--levels", "8,8,8,6,5"])
    model = build_vae(config, 263).eval()
    x = torch.randn(args.clips, args.frames, 263)
    frames = args.clips * args.frames

    def one_at_a_time() -> torch.Tensor:
        codes = []
        with torch.no_grad():
            for i in range(args.clips):
                c = model.encode(x[i : i + 1])
                model.decode(c)
                codes.append(c)
        return torch.cat(codes)

    def batched(size: int):
        def run() -> torch.Tensor:
            codes = []
            with torch.no_grad():
                for start in range(0, args.clips, size):
                    c = model.encode(x[start : start + size])
                    model.decode(c)
                    codes.append(c)
            return torch.cat(codes)

        return run

    flops_per_frame = conv_flops_per_frame(model, args.frames)
    peak = fp32_peak()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    strategies = {"one clip at a time": one_at_a_time}
    strategies.update({f"batches of {s}": batched(s) for s in sizes})
    reference = one_at_a_time()  # warm-up and the tokens to compare against
    times: dict[str, list[float]] = {name: [] for name in strategies}
    same = {}
    for _ in range(args.repeats):
        for name, run in strategies.items():  # alternating: load changes hit every strategy
            start = time.perf_counter()
            codes = run()
            times[name].append(time.perf_counter() - start)
            same[name] = bool(torch.equal(codes, reference))
    rows = []
    base = statistics.median(times["one clip at a time"])
    for name, samples in times.items():
        median = statistics.median(samples)
        rows.append({
            "strategy": name, "median_s": median, "frames_per_s": frames / median,
            "speedup": base / median, "tokens_equal": same[name],
            "gflops": frames / median * flops_per_frame / 1e9,
            "share_of_peak": frames / median * flops_per_frame / peak,
        })  # fmt: skip
    one_clip_fps = rows[0]["frames_per_s"]
    record = {
        "benchmark": "tokenizer_batching",
        "command": "python benchmarks/tokenizer_batching.py " + " ".join(sys.argv[1:]),
        "clips": args.clips,
        "frames": args.frames,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "load_average": list(os.getloadavg()),
        "flops_per_frame": flops_per_frame,
        "fp32_peak_gflops": peak / 1e9,
        "gflops_needed_for_5x": 5 * one_clip_fps * flops_per_frame / 1e9,
        "results": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tokenizer_batching.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        "# Tokenizer encode + decode: one clip at a time vs batched",
        "",
        f"`{record['command']}` on {record['machine']}, torch {record['torch']} with "
        f"{record['threads']} threads, load average before {record['load_average']}. "
        f"{args.clips} clips x {args.frames} frames, reference MotionVAE (width 512, depth 3, FSQ "
        f"8,8,8,6,5), encode then decode, medians of {args.repeats} alternating runs.",
        "",
        "| strategy | median s | frames/s | speed-up | GFLOP/s | share of fp32 peak "
        "| tokens equal |",
        "|---|---|---|---|---|---|---|",
        *(f"| {r['strategy']} | {r['median_s']:.2f} | {r['frames_per_s']:,.0f} | "
          f"{r['speedup']:.1f}x | {r['gflops']:.0f} | {r['share_of_peak']:.0%} | "
          f"{'yes' if r['tokens_equal'] else 'NO'} |" for r in rows),
        "",
        f"Encode + decode costs {flops_per_frame / 1e6:.1f} MFLOP per frame (convolutions). "
        f"The best fp32 rate measured in the same run (matmul or a large convolution) is "
        f"{peak / 1e9:.0f} GFLOP/s; 5x the one-clip rate would need "
        f"{record['gflops_needed_for_5x']:.0f} GFLOP/s, "
        f"{record['gflops_needed_for_5x'] * 1e9 / peak:.1f}x that peak: on this machine "
        "batching is bounded by arithmetic, not by the one-clip overheads it removes.",
        "",
    ]  # fmt: skip
    (args.out / "tokenizer_batching.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
