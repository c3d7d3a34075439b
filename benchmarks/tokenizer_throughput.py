"""Throughput of the motion tokenizer (MotionVAE + FSQ): training, encode, decode, in frames/s.

Usage: python benchmarks/tokenizer_throughput.py [--models reference,tiny] [--batch-sizes 32,256]
       [--warmup 2] [--steps 5] [--repeats 5] [--min-time-s 3] [--budget-s 240]
       [--out benchmarks/results/tokenizer_throughput.json]

Models, built with ``resolve_run_config`` + ``build_vae`` exactly as a training run builds them:

* ``reference``: REFERENCE.md §1, width 512, dim 512, down_t 2, depth 3, FSQ 8,8,8,6,5 (15,360
  codes), the config class defaults;
* ``tiny``: the ``tiny`` preset (width 32, dim 32, depth 1, FSQ 5,5,5).

Both on 263-d HumanML3D features. Measured per model:

* training: forward + loss (as ``train_tokenizer``: L1 reconstruction + 0.5 x smooth-L1 on the
  root-relative joints + the quantizer's auxiliary loss) + backward + gradient clipping + AdamW
  step, on batches of B random 64-frame windows drawn by ``WindowSampler`` (the training
  sampler); ``--warmup`` untimed steps, then at least ``--steps`` timed ones (more for small
  models, until ``--min-time-s`` seconds are timed). A batch size whose estimated
  time (from the smallest batch's step time, scaled by frames) exceeds ``--budget-s`` is skipped
  and recorded as skipped;
* encode: ``MotionVAE.encode`` (motion -> token ids) of 64 clips x 196 frames, eval mode, no grad;
* decode: ``MotionVAE.decode`` (token ids -> motion) of the same tokens;
* parameter counts of the encoder, quantizer and decoder.

The motion is standard-normal noise shaped like normalised features (what the convolutions cost
does not depend on the values). Median and best of the timed samples are recorded with the
command line, library versions, torch's thread count, the machine and its load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from machine import torch_environment

from motionkit.config.run import resolve_run_config
from motionkit.motion.features import feature_slices
from motionkit.motion.skeleton import skeleton_for_feature_dim
from motionkit.tokenizer.run import build_vae
from motionkit.tokenizer.task import WindowSampler
from motionkit.tokenizer.vae import reconstruction_loss

FEATURE_DIM = 263
WINDOW = 64
CLIPS, CLIP_FRAMES = 64, 196

#: model name -> (resolve_run_config keyword arguments, description)
MODELS: dict[str, tuple[dict, str]] = {
    "reference": (
        {
            "args": [
                "--width", "512", "--model.dim", "512", "--down-t", "2", "--depth", "3",
                "--levels", "8,8,8,6,5",
            ],
        },
        "REFERENCE.md §1: width 512, dim 512, down_t 2, depth 3, FSQ 8,8,8,6,5",
    ),
    "tiny": ({"preset": "tiny"}, "preset tiny: width 32, dim 32, down_t 2, depth 1, FSQ 5,5,5"),
}  # fmt: skip


def build_model(name: str):
    kwargs, _ = MODELS[name]
    config = resolve_run_config("tokenizer", choices={"quantizer": "fsq"}, **kwargs)
    torch.manual_seed(0)
    return config, build_vae(config, FEATURE_DIM)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def summary(samples: list[float], frames: int) -> dict:
    median, best = statistics.median(samples), min(samples)
    return {
        "samples": len(samples),
        "median_s": round(median, 4),
        "best_s": round(best, 4),
        "frames_per_s_median": round(frames / median),
        "frames_per_s_best": round(frames / best),
        "samples_s": [round(v, 4) for v in samples],
    }


def train_steps(
    model, config, sampler: WindowSampler, batch: int, warmup: int, steps: int, min_time: float
):
    """Per-step seconds of timed training steps after ``warmup`` untimed ones: at least
    ``steps``, and more (up to 50x ``steps``) until ``min_time`` seconds are timed."""
    train_cfg, model_cfg = config["train"], config["model"]
    ric = feature_slices(skeleton_for_feature_dim(FEATURE_DIM))["ric"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.99))
    model.train()
    samples: list[float] = []
    i = 0
    while i < warmup + steps or (sum(samples) < min_time and len(samples) < 50 * steps):
        start = time.perf_counter()
        x = sampler.sample(batch)
        out = model(x)
        recon = reconstruction_loss(out.reconstruction, x, model_cfg.recon_loss)
        joints = F.smooth_l1_loss(out.reconstruction[..., ric], x[..., ric])
        loss = recon + model_cfg.joint_weight * joints + out.quantizer.aux_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if train_cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
        optimizer.step()
        elapsed = time.perf_counter() - start
        if i >= warmup:
            samples.append(elapsed)
        i += 1
    return samples


def timed(fn, repeats: int, min_time: float) -> list[float]:
    """Seconds per call: at least ``repeats`` calls, more (up to 50x) until ``min_time`` s."""
    fn()  # warm-up
    samples: list[float] = []
    while len(samples) < repeats or (sum(samples) < min_time and len(samples) < 50 * repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def bench_model(name: str, args: argparse.Namespace) -> dict:
    config, model = build_model(name)
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal((CLIP_FRAMES, FEATURE_DIM)).astype(np.float32) for _ in range(64)]
    sampler = WindowSampler(clips, WINDOW, seed=0)
    params = {
        "encoder": count(model.encoder),
        "quantizer": count(model.quantizer),
        "decoder": count(model.decoder),
        "total": count(model),
    }
    cfg = config["model"]
    row: dict = {
        "model": name,
        "description": MODELS[name][1],
        "architecture": {
            "width": cfg.width,
            "dim": cfg.dim,
            "down_t": cfg.down_t,
            "depth": cfg.depth,
            "levels": list(config["quantizer"].levels),
            "codebook_size": config["quantizer"].codebook_size,
            "feature_dim": FEATURE_DIM,
        },
        "parameters": params,
        "train": [],
    }
    print(f"== {name}: {MODELS[name][1]}; parameters {params}")

    per_frame_s = None
    for batch in sorted(args.batch_sizes):
        frames = batch * WINDOW
        if per_frame_s is not None:
            estimate = per_frame_s * frames * (args.warmup + args.steps)
            if estimate > args.budget_s:
                row["train"].append(
                    {
                        "batch": batch,
                        "skipped": f"estimated {estimate:.0f} s > --budget-s {args.budget_s:g}",
                    }
                )
                print(f"train B={batch}: skipped (estimated {estimate:.0f} s)")
                continue
        load = os.getloadavg()[0]
        samples = train_steps(
            model, config, sampler, batch, args.warmup, args.steps, args.min_time_s
        )
        stats = summary(samples, frames)
        per_frame_s = statistics.median(samples) / frames
        row["train"].append(
            {
                "batch": batch,
                "window": WINDOW,
                "frames_per_step": frames,
                "warmup": args.warmup,
                "load_average_1min_at_start": round(load, 2),
            }
            | stats
        )
        print(
            f"train B={batch:<4d} {stats['frames_per_s_median']:>9,} frames/s "
            f"({stats['median_s']:.3f} s/step, median of {stats['samples']})"
        )

    model.eval()
    motion = torch.from_numpy(rng.standard_normal((CLIPS, CLIP_FRAMES, FEATURE_DIM))).float()
    frames = CLIPS * CLIP_FRAMES
    tokens = model.encode(motion)
    with torch.no_grad():
        enc = summary(timed(lambda: model.encode(motion), args.repeats, args.min_time_s), frames)
        dec = summary(timed(lambda: model.decode(tokens), args.repeats, args.min_time_s), frames)
    for op, stats in (("encode", enc), ("decode", dec)):
        row[op] = {"batch": CLIPS, "frames_per_clip": CLIP_FRAMES, "frames": frames} | stats
        print(
            f"{op} {CLIPS}x{CLIP_FRAMES} {stats['frames_per_s_median']:>11,} frames/s "
            f"({stats['median_s']:.3f} s, median of {stats['samples']})"
        )
    row["tokens_shape"] = list(tokens.shape)
    return row


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="reference,tiny", help="comma list of: reference,tiny")
    parser.add_argument("--batch-sizes", type=_ints, default=[32, 256])
    parser.add_argument("--warmup", type=int, default=2, help="untimed training steps")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    parser.add_argument("--repeats", type=int, default=5, help="timed encode/decode calls")
    parser.add_argument(
        "--min-time-s",
        type=float,
        default=3.0,
        help="keep timing (up to 50x --steps / --repeats) until this many seconds are sampled",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=240.0,
        help="skip a training batch size whose estimated time exceeds this",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/tokenizer_throughput.json")
    )
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in MODELS:
            parser.error(f"unknown model {m!r} (known: {', '.join(MODELS)})")

    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = [bench_model(m, args) for m in models]
    wall = time.perf_counter() - started
    load_after = os.getloadavg()

    result = {
        "benchmark": "tokenizer_throughput",
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        **torch_environment(),
        "load_average_1_5_15_before": [round(v, 2) for v in load_before],
        "load_average_1_5_15_after": [round(v, 2) for v in load_after],
        "note": "shared machine: other work may have run concurrently, so the numbers are a "
        "lower bound on what the CPU can do; compare only runs on the same machine",
        "data": "standard-normal noise shaped like normalised 263-d features",
        "wall_s": round(wall, 1),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    md = args.out.with_suffix(".md")
    md.write_text(markdown(result))
    print(f"wrote {args.out} and {md}")


def markdown(result: dict) -> str:
    lines = [
        "# Tokenizer throughput",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}, {result['cpu']}, {result['device']}, torch "
        f"{result['torch']} with {result['torch_threads']} threads  ",
        f"Load average (1/5/15 min) before {result['load_average_1_5_15_before']}, after "
        f"{result['load_average_1_5_15_after']}; {result['note']}.  ",
        f"Data: {result['data']}. Training: forward + loss + backward + grad clip + AdamW on "
        f"B x {WINDOW}-frame windows. Encode/decode: {CLIPS} clips x {CLIP_FRAMES} frames, "
        "eval mode, no grad. Frames/s are medians.",
        "",
        "| model | params enc / quant / dec (total) | train B | train frames/s | s/step "
        "| encode frames/s | decode frames/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["results"]:
        p = row["parameters"]
        params = f"{p['encoder']:,} / {p['quantizer']:,} / {p['decoder']:,} ({p['total']:,})"
        for i, train in enumerate(row["train"]):
            first = i == 0
            if "skipped" in train:
                speed, step = f"skipped: {train['skipped']}", "-"
            else:
                speed, step = f"{train['frames_per_s_median']:,}", f"{train['median_s']:.3f}"
            lines.append(
                f"| {row['model'] if first else ''} | {params if first else ''} "
                f"| {train['batch']} | {speed} | {step} "
                f"| {format(row['encode']['frames_per_s_median'], ',') if first else ''} "
                f"| {format(row['decode']['frames_per_s_median'], ',') if first else ''} |"
            )
    lines += ["", "Models:", ""]
    lines += [f"- `{row['model']}`: {row['description']}" for row in result["results"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
