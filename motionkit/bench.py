"""``motionkit bench``: benchmark suites that run end to end and append their results.

Suites:

* ``default``: the whole text-to-motion pipeline on the synthetic corpus: the corpus, the
  ``bench`` config's tokenizer (``TOKENIZER_STEPS`` steps) and generator (its own steps), the
  ``demo-evaluator`` retrieval model, and the
  standard evaluation protocol (``motionkit.eval.harness``); one table of real, tokenizer, model
  and shuffled-text rows.
* ``tokenizer``: the ``bench`` config's tokenizer alone, its reconstruction on the test split
  (L1, MPJPE, codebook usage, perplexity).
* ``scaling``: a small IsoFLOP sweep (``SCALING_GRID``) on the synthetic corpus, the lower
  envelope of its Lu-vs-compute curves and the laws fitted to it (``motionkit.scaling``).
* ``speed``: sampling tokens/s of the demo generator's shape, batched with the KV cache against
  batch 1 with full recomputation, on the same weights in one process.

Every run appends one JSON line to ``RESULTS/bench.jsonl`` (the suite, its result, the seed, the
git commit, library versions and the machine) and writes ``RESULTS/bench-SUITE.md``. Work files go
to ``WORK/SUITE``; a finished stage found there is reused, so an interrupted suite resumes.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from motionkit.errors import MotionkitError


def environment() -> dict[str, Any]:
    """Versions, machine and git commit, recorded with every result."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("motionkit", "torch", "x-transformers", "vector-quantize-pytorch", "numpy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    import os

    return {
        "versions": versions,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()} {platform.release()}",
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "git_commit": commit,
    }


def _stage(
    stage: str, config_name: str, data: Path, out: Path, seed: int, extra: tuple[str, ...] = ()
) -> None:
    """Train ``config_name`` on ``data`` into ``out`` unless a finished run is there."""
    from motionkit.config.run import (
        get_stage,
        load_config_file,
        prepare_run_dir,
        resolve_run_config,
    )
    from motionkit.train.checkpoint import checkpoint_step

    sections = {s.name for s in get_stage(stage).sections}
    data_file = load_config_file(config_name)  # only the sections this stage has
    kept = {k: v for k, v in data_file.items() if k in sections or k == "preset"}
    config = resolve_run_config(
        stage,
        file_data=kept,
        file_label=config_name,
        choices={"dataset": "humanml3d"},
        args=["--dataset.root", str(data), "--train.seed", str(seed), *extra],
    )
    if stage == "generator":  # a relative tokenizer path means the one beside the runs
        config = _absolute_tokenizer(config, out)
    final = out / ("generator" if stage == "pipeline" else ".")
    step = checkpoint_step(final) if final.is_dir() else None
    if step is not None and step >= config["train"].max_steps:
        return
    resume = (out / "config.json").is_file()
    if not resume:
        prepare_run_dir(out, config)
    get_stage(stage).trainer()(config, out, resume=resume)


def _absolute_tokenizer(config: Any, out: Path) -> Any:
    import dataclasses
    from types import MappingProxyType

    from motionkit.config.run import RunConfig

    sections = dict(config.sections)
    path = str(Path(config["generator"].tokenizer).resolve())
    sections["generator"] = dataclasses.replace(config["generator"], tokenizer=path)
    return RunConfig(config.stage, MappingProxyType(sections), config.names)


#: The default suite trains the tokenizer longer than the generator (which overfits the
#: 800-clip corpus after about 600 steps): two stages, one config.
TOKENIZER_STEPS = 1500


def _corpus(work: Path, seed: int) -> Path:
    from motionkit.data.humanml3d import ensure_synthetic_corpus

    data = work / f"synthetic-n1000-s{seed}"
    ensure_synthetic_corpus(data, 1000, seed)
    return data


def suite_default(work: Path, seed: int) -> dict[str, Any]:
    from motionkit.eval.harness import EvalSettings, evaluate_run
    from motionkit.eval.train import load_evaluator
    from motionkit.generate import Sampling
    from motionkit.generator.model import load_generator

    started = time.perf_counter()
    data = _corpus(work, seed)
    _stage(
        "tokenizer", "bench", data, work / "tokenizer", seed, ("--max-steps", str(TOKENIZER_STEPS))
    )
    _stage(
        "generator",
        "bench",
        data,
        work / "generator",
        seed,
        ("--tokenizer", str(work / "tokenizer")),
    )
    _stage("evaluator", "demo-evaluator", data, work / "evaluator", seed)
    trained = time.perf_counter()
    result = evaluate_run(
        load_generator(work / "generator"),
        load_evaluator(work / "evaluator"),
        data,
        EvalSettings(seed=seed),
        Sampling(),
    )
    out = result.to_dict()
    out["markdown"] = result.markdown()
    out["seconds"] = {
        "train": trained - started,
        "evaluate": time.perf_counter() - trained,
    }
    return out


def suite_tokenizer(work: Path, seed: int) -> dict[str, Any]:
    """The bench pipeline's tokenizer on the synthetic corpus: reconstruction on the test split."""
    from motionkit.data.humanml3d import read_folder
    from motionkit.tokenizer.evaluate import evaluate, normalised_clips
    from motionkit.tokenizer.run import load_tokenizer

    data = _corpus(work, seed)
    tokenizer = ("--max-steps", str(TOKENIZER_STEPS))
    _stage("tokenizer", "bench", data, work / "tokenizer", seed, tokenizer)
    model, mean, std, _ = load_tokenizer(work / "tokenizer")
    test = read_folder(data, "test")
    import torch

    scores = evaluate(model, normalised_clips(test, mean, std), mean, std, torch.device("cpu"))
    table = "| clips | L1 | MPJPE (mm) | usage | perplexity |\n|---|---|---|---|---|\n"
    table += (
        f"| {len(test)} | {scores['l1']:.4f} | {scores['mpjpe_mm']:.1f} | "
        f"{scores['usage']:.3f} | {scores['perplexity']:.1f} |\n"
    )
    return {**scores, "clips": len(test), "markdown": table}


def suite_speed(work: Path, seed: int) -> dict[str, Any]:
    import torch

    from motionkit.backbones.base import Vocabulary
    from motionkit.generate import Sampling, sample_tokens
    from motionkit.generator.model import TextToMotion
    from motionkit.registry import create

    torch.manual_seed(seed)
    text = create("text_encoders", "learned:tiny", {"captions": ["a person walks forward"]})
    backbone = create(
        "backbones",
        "prefix-lm",
        {"vocab": Vocabulary(240), "text_dim": text.dim, "max_motion_tokens": 50},
        dim=128,
        layers=4,
        heads=4,
    )
    model = TextToMotion(text, backbone).eval()
    captions = [f"a person walks forward {i}" for i in range(32)]
    lengths = [49] * 32
    sample_tokens(model, captions[:2], Sampling(), seeds=0, lengths=[49, 49])
    start = time.perf_counter()
    sample_tokens(model, captions, Sampling(), seeds=seed, lengths=lengths)
    cached = 32 * 49 / (time.perf_counter() - start)
    start = time.perf_counter()
    with torch.no_grad():
        for caption in captions[:2]:
            features = model.encode_text([caption])
            seq = torch.zeros(1, 0, dtype=torch.long)
            for _ in range(49):
                logits = model(seq, features)[0, -1, : model.vocab.end]
                seq = torch.cat([seq, logits.argmax().view(1, 1)], dim=1)
    recompute = 2 * 49 / (time.perf_counter() - start)
    table = (
        "| sampler | tokens/s |\n|---|---|\n"
        f"| 32 prompts, KV cache | {cached:,.0f} |\n| batch 1, full recomputation | "
        f"{recompute:,.0f} |\n| ratio | {cached / recompute:.1f}x |\n"
    )
    return {
        "cached_tokens_per_s": cached,
        "recompute_tokens_per_s": recompute,
        "ratio": cached / recompute,
        "markdown": table,
    }


#: The grid of the ``scaling`` suite: 3 shapes x 1 vocabulary x 3 budgets (minutes on 2 cores).
SCALING_GRID: dict[str, Any] = {
    "models": (
        {"name": "d32", "dim": 32, "layers": 2, "heads": 2},
        {"name": "d64", "dim": 64, "layers": 2, "heads": 4},
        {"name": "d128", "dim": 128, "layers": 4, "heads": 4},
    ),
    "vocabs": ((8, 6, 5),),
    "budgets": (3e10, 1e11, 3e11),
    "batch_size": 32,
    "tokenizer_steps": 600,
    "evals": 8,
}


def suite_scaling(work: Path, seed: int) -> dict[str, Any]:
    """A small IsoFLOP sweep on the synthetic corpus, its envelope and the fitted laws."""
    from motionkit.scaling.fit import compute_optimal_envelope, fit_all
    from motionkit.scaling.sweep import Grid, read_curve, run_sweep

    data = _corpus(work, seed)
    grid = Grid(data=data, seed=seed, **SCALING_GRID)
    rows = run_sweep(grid, work / "sweep")
    curves = [read_curve(work / "sweep" / "runs" / row["run"]) for row in rows]
    points = compute_optimal_envelope(curves, n_grid=30)
    fit = fit_all(points, n_boot=200, seed=seed)
    table = "| run | steps | paper FLOPs | Lu |\n|---|---|---|---|\n"
    table += "".join(
        f"| {r['run']} | {r['steps']} | {r['paper_flops']:.3g} | {r['lu']:.3f} |\n" for r in rows
    )
    return {
        "runs": rows,
        "fit": fit.to_dict(),
        "markdown": table
        + "\nFitted on the envelope of the runs' curves:\n\n```\n"
        + fit.summary()
        + "\n```\n",
    }


SUITES: dict[str, Callable[[Path, int], dict[str, Any]]] = {
    "default": suite_default,
    "tokenizer": suite_tokenizer,
    "speed": suite_speed,
    "scaling": suite_scaling,
}


def run_suite(name: str, work: Path, results: Path, seed: int = 0) -> dict[str, Any]:
    """Run suite ``name``; append its record to ``results/bench.jsonl``; return the record."""
    from motionkit.config.fields import suggest
    from motionkit.io import atomic_write_text

    if name not in SUITES:
        raise MotionkitError(
            f"unknown suite {name!r}{suggest(name, list(SUITES))} (suites: {', '.join(SUITES)})"
        )
    result = SUITES[name](work / name, seed)
    record = {
        "suite": name,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": seed,
        "environment": environment(),
        "result": result,
    }
    results.mkdir(parents=True, exist_ok=True)
    with open(results / "bench.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    header = f"# motionkit bench --suite {name}\n\n{record['time']}, seed {seed}, commit "
    header += f"{record['environment']['git_commit']}\n\n"
    atomic_write_text(results / f"bench-{name}.md", header + result["markdown"])
    return record
