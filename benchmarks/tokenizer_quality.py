"""Reconstruction quality of FSQ vs VQ vs RVQ tokenizers after the same short CPU training run.

Usage: python benchmarks/tokenizer_quality.py [--steps N] [--datasets synthetic,bandai]
       [--quantizers fsq-8.8.8,vq-512,rvq-512x2,fsq-8.5.5.5,vq-1000] [--work /tmp/motionkit-bench]
       [--out benchmarks/results/tokenizer_quality.json]

Every run goes through the real code path: ``resolve_run_config`` (the options below, as
``motionkit train`` takes them) -> ``prepare_run_dir`` -> ``train_tokenizer``, then the
``motionkit eval-tokenizer`` computation on the test split (``load_tokenizer`` + ``read_folder`` +
``evaluate``). Every quantizer gets the same model, data, seed and number of steps.

Model (a mid-size MotionVAE that learns something on 2 CPU cores): width 128, dim 128, down_t 2
(4 frames per token), depth 2 (residual blocks per resolution); batch 64 random 64-frame
windows; AdamW lr 1e-3 with 50 warm-up steps; validation only at step 0 and at the end.

Quantizers, in matched pairs (codes per token step, bits = Q x log2 K):

* 512 codes: ``fsq-8.8.8`` (FSQ levels 8,8,8; 9 bits) vs ``vq-512`` (EMA VQ, 512 codes; 9 bits)
  vs ``rvq-512x2`` (residual VQ, 2 codebooks of 512; 18 bits: RVQ has twice the bits);
* 1000 codes: ``fsq-8.5.5.5`` (FSQ levels 8,5,5,5; 9.97 bits) vs ``vq-1000`` (9.97 bits).

By default the synthetic corpus runs all five and Bandai the 512-code trio (to stay within
~15 minutes); ``--quantizers`` sets the list for every dataset.

Datasets (prepared once into ``--work``, outside the repository, and reused):

* ``synthetic``: ``generate_corpus(work/synthetic-n1000-s0, 1000, seed 0)``, read as the
  ``synthetic`` dataset (80/10/10 train/val/test split);
* ``bandai``: ``prepare_bvh_folder(/work/shared/data/bandai_dataset1, work/bandai-dataset1,
  "bandai")`` (retargeted to SMPL22, 20 fps), read as ``humanml3d``; skipped with a note when the
  source folder is absent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from machine import torch_environment

from motionkit.config.run import prepare_run_dir, resolve_run_config
from motionkit.data.humanml3d import read_folder
from motionkit.tokenizer.evaluate import evaluate, normalised_clips
from motionkit.tokenizer.run import METRICS_FILE, load_tokenizer
from motionkit.tokenizer.task import train_tokenizer

BANDAI_SRC = Path("/work/shared/data/bandai_dataset1")
SYNTH_NUM, SYNTH_SEED = 1000, 0

#: case name -> (quantizer, its options, codes per codebook, codebooks, description)
QUANTIZERS: dict[str, tuple[str, list[str], int, int, str]] = {
    "fsq-8.8.8": ("fsq", ["--levels", "8,8,8"], 512, 1, "FSQ levels 8,8,8"),
    "vq-512": ("vq", ["--codebook-size", "512"], 512, 1, "EMA VQ, 512 codes"),
    "rvq-512x2": (
        "rvq",
        ["--codebook-size", "512", "--num-quantizers", "2"],
        512,
        2,
        "residual VQ, 2 x 512 codes (twice the bits)",
    ),
    "fsq-8.5.5.5": ("fsq", ["--levels", "8,5,5,5"], 1000, 1, "FSQ levels 8,5,5,5"),
    "vq-1000": ("vq", ["--codebook-size", "1000"], 1000, 1, "EMA VQ, 1000 codes"),
}
DEFAULT_CASES = {
    "synthetic": ["fsq-8.8.8", "vq-512", "rvq-512x2", "fsq-8.5.5.5", "vq-1000"],
    "bandai": ["fsq-8.8.8", "vq-512", "rvq-512x2"],
}


def model_args(steps: int) -> list[str]:
    """Model and training options shared by every run (``motionkit train`` spelling)."""
    return [
        "--width", "128", "--model.dim", "128", "--down-t", "2", "--depth", "2",
        "--batch-size", "64", "--window", "64", "--lr", "1e-3", "--warmup-steps", "50",
        "--max-steps", str(steps), "--eval-every", str(steps),
        "--log-every", str(max(1, steps // 10)), "--train.seed", "0", "--device", "cpu",
    ]  # fmt: skip


def prepare_synthetic(work: Path) -> tuple[Path, dict]:
    """The synthetic corpus folder, generated unless already there."""
    from motionkit.data.synthetic import generate_corpus

    root = work / f"synthetic-n{SYNTH_NUM}-s{SYNTH_SEED}"
    info: dict = {"root": str(root), "num": SYNTH_NUM, "seed": SYNTH_SEED}
    manifest = root / "synthetic.json"
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        info |= {"prepared": "reused", "frames": saved.get("frames"), "splits": saved.get("splits")}
        return root, info
    if root.exists():
        shutil.rmtree(root)
    start = time.perf_counter()
    report = generate_corpus(root, SYNTH_NUM, SYNTH_SEED)
    info |= {"prepared_s": round(time.perf_counter() - start, 1), "frames": report.frames}
    info["splits"] = dict(report.splits)
    return root, info


def prepare_bandai(work: Path) -> tuple[Path | None, dict]:
    """The Bandai sample in HumanML3D layout, prepared unless already there; None if absent."""
    from motionkit.data.prepare import prepare_bvh_folder

    root = work / "bandai-dataset1"
    info: dict = {"root": str(root), "source": str(BANDAI_SRC)}
    if not BANDAI_SRC.is_dir() or not any(BANDAI_SRC.rglob("*.bvh")):
        info["skipped"] = f"{BANDAI_SRC} is absent or holds no BVH file"
        return None, info
    marker = root / "prepared.json"
    if marker.is_file():
        return root, json.loads(marker.read_text()) | {"prepared": "reused"}
    if root.exists():
        shutil.rmtree(root)
    report = prepare_bvh_folder(BANDAI_SRC, root, "bandai")
    info |= {
        "converted": len(report.converted),
        "skipped_files": [f"{name}: {reason}" for name, reason in report.skipped],
        "frames": report.frames,
        "splits": dict(report.splits),
        "prepared_s": round(report.elapsed, 1),
    }
    marker.write_text(json.dumps(info, indent=2) + "\n")
    return root, info


def dataset_choice(name: str, root: Path) -> tuple[str, list[str]]:
    if name == "synthetic":
        return "synthetic", [
            "--root", str(root), "--num", str(SYNTH_NUM), "--dataset.seed", str(SYNTH_SEED),
        ]  # fmt: skip
    return "humanml3d", ["--root", str(root)]


def read_metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / METRICS_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def run_case(dataset: str, root: Path, case: str, steps: int, work: Path) -> dict:
    quantizer, q_args, size, books, description = QUANTIZERS[case]
    data_name, data_args = dataset_choice(dataset, root)
    args = [*data_args, *model_args(steps), *q_args]
    config = resolve_run_config(
        "tokenizer", choices={"quantizer": quantizer, "dataset": data_name}, args=args
    )
    run_dir = work / "runs" / f"{dataset}-{case}-{steps}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    prepare_run_dir(run_dir, config)
    cli = (
        f"motionkit train --stage tokenizer --dataset {data_name} --quantizer {quantizer} "
        + " ".join(args)
        + f" --out {run_dir}"
    )
    print(f"== {dataset} {case}: {cli}", flush=True)

    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    val = train_tokenizer(config, run_dir)
    train_s = time.perf_counter() - start
    load_end = os.getloadavg()[0]

    start = time.perf_counter()
    model, mean, std, _ = load_tokenizer(run_dir)
    test_set = read_folder(root, "test")
    test_clips = normalised_clips(test_set, mean, std)
    test = evaluate(model, test_clips, mean, std, torch.device("cpu"))
    test_tokens = sum(len(c) // model.frames_per_token for c in test_clips)
    eval_s = time.perf_counter() - start

    records = read_metrics(run_dir)
    baseline = next(r for r in records if r["split"] == "val" and r["step"] == 0)
    last_train = [r for r in records if r["split"] == "train"][-1]
    row = {
        "dataset": dataset,
        "case": case,
        "quantizer": quantizer,
        "description": description,
        "codebook_size": size,
        "num_codebooks": books,
        "bits_per_token": round(books * math.log2(size), 2),
        "steps": steps,
        "train_wall_s": round(train_s, 1),
        "test_eval_wall_s": round(eval_s, 1),
        "train_frames_per_s": round(last_train["frames_per_s"]),
        "load_average_1min_start_end": [round(load_start, 2), round(load_end, 2)],
        "final_train_loss": round(last_train["loss"], 4),
        "val_untrained": _rounded(baseline),
        "val": _rounded(val),
        "test": _rounded(test),
        "test_clips": len(test_set),
        "test_tokens": test_tokens,
        "run_dir": str(run_dir),
        "command": cli,
        "eval_command": f"motionkit eval-tokenizer {run_dir} --data {root} --split test",
        "config": config.to_dict(),
    }
    print(
        f"   train {train_s:.1f} s; val L1 {val['l1']:.4f} MPJPE {val['mpjpe_mm']:.1f} mm; "
        f"test L1 {test['l1']:.4f} MPJPE {test['mpjpe_mm']:.1f} mm usage {test['usage']:.3f} "
        f"perplexity {test['perplexity']:.1f}",
        flush=True,
    )
    return row


def _rounded(metrics: dict) -> dict:
    keys = ("l1", "mpjpe_mm", "usage", "perplexity")
    return {k: round(float(metrics[k]), 4) for k in keys if k in metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=750, help="training steps of every run")
    parser.add_argument("--datasets", default="synthetic,bandai")
    parser.add_argument(
        "--quantizers",
        default=None,
        help=f"comma list for every dataset (default: per dataset); known: {', '.join(QUANTIZERS)}",
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/motionkit-bench"))
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/tokenizer_quality.json")
    )
    args = parser.parse_args()
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for d in datasets:
        if d not in DEFAULT_CASES:
            parser.error(f"unknown dataset {d!r} (known: {', '.join(DEFAULT_CASES)})")
    chosen = None
    if args.quantizers:
        chosen = [q.strip() for q in args.quantizers.split(",") if q.strip()]
        for q in chosen:
            if q not in QUANTIZERS:
                parser.error(f"unknown quantizer case {q!r} (known: {', '.join(QUANTIZERS)})")

    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_before = os.getloadavg()
    data_info: dict[str, dict] = {}
    rows: list[dict] = []
    for dataset in datasets:
        if dataset == "synthetic":
            root, info = prepare_synthetic(args.work)
        else:
            root, info = prepare_bandai(args.work)
        if root is not None:
            info["train_clips"] = len(read_folder(root, "train"))
            info["test_clips"] = len(read_folder(root, "test"))
        data_info[dataset] = info
        print(f"== dataset {dataset}: {info}", flush=True)
        if root is None:
            continue
        for case in chosen or DEFAULT_CASES[dataset]:
            rows.append(run_case(dataset, root, case, args.steps, args.work))
    wall = time.perf_counter() - started

    result = {
        "benchmark": "tokenizer_quality",
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        **torch_environment(),
        "load_average_1_5_15_before": [round(v, 2) for v in load_before],
        "load_average_1_5_15_after": [round(v, 2) for v in os.getloadavg()],
        "wall_s": round(wall, 1),
        "steps": args.steps,
        "model_args": model_args(args.steps),
        "datasets": data_info,
        "caveats": caveats(args.steps, data_info, rows),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    md = args.out.with_suffix(".md")
    md.write_text(markdown(result))
    print(f"wrote {args.out} and {md} ({wall:.0f} s)")


def caveats(steps: int, data_info: dict, rows: list[dict]) -> list[str]:
    notes = [
        f"tiny CPU budget: {steps} steps of batch 64 x 64 frames with a 128-wide model, far from "
        "converged (the reference recipe trains a 512-wide model for 100k+ steps at batch 256); "
        "rankings can change with longer training",
        "one seed per run, no repeats: differences of a few percent are within run-to-run noise",
        "RVQ 2 x 512 carries 18 bits per token against 9 for FSQ 8,8,8 and VQ 512: not a "
        "like-for-like comparison",
        "metrics are L1 on normalised features and MPJPE in mm on root-relative joints recovered "
        "from the features; validation is on at most 256 clips of the val split",
        "VQ and RVQ codebooks are k-means-initialised on one training batch (64 windows) "
        "before the step-0 baseline validation; dead-code replacement (threshold 2) re-seeds "
        "unused codes from later training batches",
        "shared machine: wall times (not the metrics, which depend on steps only) include "
        "interference from other work; train frames/s and the 1-min load average at the start "
        "and end of each run are recorded per run (load ~2 is this benchmark's own 2 threads)",
    ]
    for dataset in data_info:
        tokens = [r["test_tokens"] for r in rows if r["dataset"] == dataset]
        if tokens:
            notes.append(
                f"{dataset}: the test split has {max(tokens)} tokens per codebook, which bounds "
                "test usage and perplexity (usage <= tokens / codes)"
            )
    bandai = data_info.get("bandai", {})
    if "converted" in bandai:
        notes.append(
            f"Bandai: {bandai['converted']} BVH files convert "
            f"({len(bandai.get('skipped_files', []))} are too short at 20 fps); the default "
            "reader keeps clips with 40 <= frames < 200, so it uses "
            f"{bandai.get('train_clips')} of {bandai['splits']['train']} train and "
            f"{bandai.get('test_clips')} of {bandai['splits']['test']} test clips"
        )
    return notes


def _f(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(result: dict) -> str:
    lines = [
        "# Tokenizer quality: FSQ vs VQ vs RVQ after a fixed CPU budget",
        "",
        f"Command: `{result['command']}` ({result['wall_s']:.0f} s wall in all)  ",
        f"Machine: {result['machine']}, {result['cpu']}, {result['device']}, torch "
        f"{result['torch']} ({result['torch_threads']} threads), vector-quantize-pytorch "
        f"{result['vector_quantize_pytorch']}  ",
        f"Load average (1/5/15 min) before {result['load_average_1_5_15_before']}, after "
        f"{result['load_average_1_5_15_after']} (shared machine).",
        "",
        f"Every run: `{' '.join(result['model_args'])}` plus the dataset and quantizer options "
        "below. Val = the run's final validation (val split); test = `motionkit eval-tokenizer "
        "RUN --data ROOT --split test` computed in-process. L1 on normalised features, MPJPE in "
        "mm (root-relative), usage = fraction of codes used (mean over codebooks), perplexity = "
        "exp(entropy) of the code histogram (mean over codebooks).",
        "",
    ]
    for dataset, info in result["datasets"].items():
        lines += [f"## {dataset}", ""]
        if "skipped" in info:
            lines += [f"Skipped: {info['skipped']}.", ""]
            continue
        lines.append(
            f"Data: `{info['root']}`, {info.get('train_clips')} train / "
            f"{info.get('test_clips')} test clips."
        )
        lines += [
            "",
            "| quantizer | codes | bits/token | val L1 | val MPJPE mm | test L1 | test MPJPE mm "
            "| test usage | test perplexity | untrained val L1 / MPJPE | train s "
            "| train frames/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in (r for r in result["results"] if r["dataset"] == dataset):
            codes = f"{row['codebook_size']}" + (
                f" x {row['num_codebooks']}" if row["num_codebooks"] > 1 else ""
            )
            v, t, u = row["val"], row["test"], row["val_untrained"]
            lines.append(
                f"| {row['case']} | {codes} | {row['bits_per_token']:g} | {_f(v.get('l1'), 4)} "
                f"| {_f(v.get('mpjpe_mm'), 1)} | {_f(t.get('l1'), 4)} "
                f"| {_f(t.get('mpjpe_mm'), 1)} | {_f(t.get('usage'), 3)} "
                f"| {_f(t.get('perplexity'), 1)} "
                f"| {_f(u.get('l1'), 3)} / {_f(u.get('mpjpe_mm'), 0)} "
                f"| {row['train_wall_s']:.0f} | {row['train_frames_per_s']:,} |"
            )
        lines.append("")
    lines += ["## Commands", ""]
    for row in result["results"]:
        lines += [f"- `{row['command']}`", f"  then `{row['eval_command']}`"]
    lines += ["", "## Caveats", ""]
    lines += [f"- {c}" for c in result["caveats"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
