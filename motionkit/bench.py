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
* ``combinations``: FSQ / VQ / RVQ tokenizers (512 codes per level) x prefix-LM / decoder-only /
  encoder-decoder generators (matched parameter counts) on the synthetic corpus or ``--data``:
  one table of reconstruction, generation (R-precision, FID, MM-Dist, Diversity with CIs), Lu and
  training and sampling speed; finished cells are kept, so it resumes.
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
from dataclasses import asdict
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
    stage: str,
    config_name: str,
    data: Path,
    out: Path,
    seed: int,
    extra: tuple[str, ...] = (),
    choices: dict[str, str] | None = None,
) -> None:
    """Train ``config_name`` on ``data`` into ``out`` unless a finished run is there.

    ``choices`` picks components (``{"quantizer": "vq"}``); the config file's section of a
    chosen component is then left out (its options belong to the file's component)."""
    from motionkit.config.run import get_stage, load_config_file, resolve_run_config
    from motionkit.train.checkpoint import start_run

    sections = {s.name for s in get_stage(stage).sections}
    data_file = load_config_file(config_name)  # only the sections this stage has
    chosen = {k: v for k, v in (choices or {}).items() if k in sections}
    kept = {
        k: v for k, v in data_file.items() if (k in sections or k == "preset") and k not in chosen
    }
    config = resolve_run_config(
        stage,
        file_data=kept,
        file_label=config_name,
        choices={"dataset": "humanml3d", **chosen},
        args=["--dataset.root", str(data), "--train.seed", str(seed), *extra],
    )
    if stage == "generator":  # a relative tokenizer path means the one beside the runs
        config = _absolute_tokenizer(config, out)
    resume = start_run(out, config)
    if resume is not None:  # None: finished
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
    cached = _sampling_speed(model, seed)
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


#: The combination table: tokenizers at one codebook size (512 codes per level; RVQ stacks 2
#: levels) and backbones at matched parameter counts (the prefix-LM's, within a layer).
COMBO_TOKENIZERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fsq": ("fsq", ("--levels", "8,8,8")),
    "vq": ("vq", ("--codebook-size", "512")),
    "rvq": ("rvq", ("--codebook-size", "512", "--num-quantizers", "2")),
}
COMBO_BACKBONES = ("prefix-lm", "decoder-only", "encoder-decoder")
COMBO_WIDTH, COMBO_LAYERS, COMBO_HEADS = 128, 4, 4
#: Steps of every tokenizer and generator of the table (nine generators: CPU time matters).
COMBO_TOKENIZER_STEPS, COMBO_GENERATOR_STEPS = 800, 400
#: Options added to every training of the suite, and the protocol's settings (tests shrink both).
COMBO_EXTRA: tuple[str, ...] = ()
#: At most this many test items per cell (a random subset fixed by the seed; 0: all): the
#: protocol generates one motion per item and replication, 9 cells x 20 replications.
COMBO_MAX_ITEMS = 512
COMBO_EVAL: dict[str, Any] = {"mm_texts": 20, "mm_repeats": 10}


def _matched_layers(name: str, codes: int, levels: int) -> int:
    """Layers of backbone ``name`` (width ``COMBO_WIDTH``) whose parameter count is nearest the
    ``COMBO_LAYERS``-layer prefix-LM's."""
    from motionkit.backbones.base import Vocabulary
    from motionkit.registry import create_config

    vocab = Vocabulary(codes, levels)

    def params(backbone: str, layers: int) -> int:
        cfg = create_config(
            "backbones", backbone, dim=COMBO_WIDTH, layers=layers, heads=COMBO_HEADS
        )
        return int(cfg.estimate_params(vocab, text_dim=64)["total"])

    target = params("prefix-lm", COMBO_LAYERS)
    return min(range(1, 3 * COMBO_LAYERS), key=lambda n: abs(params(name, n) - target))


def _sampling_speed(model: Any, seed: int) -> float:
    """Motion tokens/s of ``model`` sampling 32 prompts of 49 tokens (KV cache, batched)."""
    from motionkit.generate import Sampling, sample_tokens

    captions = [f"a person walks forward {i}" for i in range(32)]
    sample_tokens(model, captions[:2], Sampling(), seeds=seed, lengths=[49, 49])  # warm-up
    start = time.perf_counter()
    sample_tokens(model, captions, Sampling(), seeds=seed, lengths=[49] * 32)
    return 32 * 49 / (time.perf_counter() - start)


def _last(run: Path, split: str) -> dict[str, Any]:
    from motionkit.plots import read_metrics

    records, _ = read_metrics(run / "metrics.jsonl")
    return [r for r in records if r.get("split") == split][-1]


def suite_combinations(
    work: Path,
    seed: int,
    data: Path | None = None,
    max_items: int | None = None,
    evaluator_dir: Path | None = None,
) -> dict[str, Any]:
    """Every tokenizer (FSQ, VQ, RVQ) x every backbone (prefix-LM, decoder-only, encoder-decoder)
    on one dataset, evaluated with one evaluator: reconstruction, generation, Lu, speed."""
    import torch

    from motionkit.data.humanml3d import read_folder
    from motionkit.eval.harness import EvalSettings, evaluate_run, open_evaluator, test_items
    from motionkit.generate import Sampling
    from motionkit.generator.model import load_generator
    from motionkit.io import atomic_write_text
    from motionkit.progress import progress_bar
    from motionkit.tokenizer.evaluate import evaluate, normalised_clips
    from motionkit.tokenizer.run import load_tokenizer

    data = Path(data) if data is not None else _corpus(work, seed)
    cells_dir = work / "cells"
    test = read_folder(data, "test")
    options = dict(COMBO_EVAL)
    options.setdefault("max_items", COMBO_MAX_ITEMS if max_items is None else max_items)
    if "batch_size" not in options:  # a small test split (the Bandai sample has 17) is one batch
        options["batch_size"] = max(3, min(32, len(test_items(data, test.feature_dim))))
    settings = EvalSettings(seed=seed, **options)
    total = len(COMBO_TOKENIZERS) * (1 + len(COMBO_BACKBONES)) + 1
    cells: list[dict[str, Any]] = []
    with progress_bar("combination table (runs)", total) as advance:
        # which evaluator scores the cells: None = one trained on the data by the suite
        scorer = None if evaluator_dir is None else str(Path(evaluator_dir).resolve())
        # a kept cell is reused only when it was made the same way
        made = {"evaluator": scorer, "settings": asdict(settings), "extra": list(COMBO_EXTRA),
                "steps": [COMBO_TOKENIZER_STEPS, COMBO_GENERATOR_STEPS]}  # fmt: skip
        if evaluator_dir is None:
            _stage("evaluator", "demo-evaluator", data, work / "evaluator", seed, COMBO_EXTRA)
            evaluator_dir = work / "evaluator"
        evaluator = open_evaluator(evaluator_dir)
        advance(1)
        for tok_name, (quantizer, tok_options) in COMBO_TOKENIZERS.items():
            files = {b: cells_dir / f"{tok_name}-{b}.json" for b in COMBO_BACKBONES}
            kept = {b: json.loads(f.read_text("utf-8")) for b, f in files.items() if f.is_file()}
            kept = {b: cell for b, cell in kept.items() if cell.get("made") == made}
            if len(kept) == len(COMBO_BACKBONES):  # every cell of this tokenizer is finished
                cells += [kept[b] for b in COMBO_BACKBONES]
                advance(1 + len(COMBO_BACKBONES))
                continue
            tok_dir = work / "tokenizers" / tok_name
            extra = ("--max-steps", str(COMBO_TOKENIZER_STEPS), *tok_options, *COMBO_EXTRA)
            _stage("tokenizer", "bench", data, tok_dir, seed, extra, {"quantizer": quantizer})
            model, mean, std, _ = load_tokenizer(tok_dir)
            recon = evaluate(model, normalised_clips(test, mean, std), mean, std,
                             torch.device("cpu"))  # fmt: skip
            q = model.quantizer
            advance(1)
            for backbone in COMBO_BACKBONES:
                if backbone in kept:
                    cells.append(kept[backbone])
                    advance(1)
                    continue
                layers = _matched_layers(backbone, q.codebook_size, q.num_codebooks)
                gen_dir = work / "generators" / f"{tok_name}-{backbone}"
                extra = ("--tokenizer", str(tok_dir.resolve()), "--backbone.dim",
                         str(COMBO_WIDTH), "--backbone.layers", str(layers),
                         "--backbone.heads", str(COMBO_HEADS),
                         "--max-steps", str(COMBO_GENERATOR_STEPS), *COMBO_EXTRA)  # fmt: skip
                _stage("generator", "bench", data, gen_dir, seed, extra, {"backbone": backbone})
                loaded = load_generator(gen_dir)
                result = evaluate_run(loaded, evaluator, data, settings, Sampling())
                rows = result.to_dict()["rows"]
                val, train = _last(gen_dir, "val"), _last(gen_dir, "train")
                cell = {
                    "tokenizer": tok_name, "backbone": backbone, "layers": layers,
                    "codes": q.codebook_size, "levels": q.num_codebooks,
                    "params": int(loaded.model.backbone.param_counts()["total"]),
                    "mpjpe_mm": recon["mpjpe_mm"], "usage": recon["usage"],
                    "lu": val["lu"], "ce": val["ce"],
                    "train_tokens_per_s": train["tokens_per_s"],
                    "sample_tokens_per_s": _sampling_speed(loaded.model, seed),
                    "model": rows["model"], "real": rows["real"],
                    "multimodality": result.multimodality,
                    "test_items": result.record["test_items"],
                    "evaluator": scorer, "made": made,
                }  # fmt: skip
                atomic_write_text(files[backbone], json.dumps(cell, indent=2))
                cells.append(cell)
                advance(1)
    table = _combination_table(cells)
    table += f"\nR-precision over batches of {settings.batch_size} (32 is the standard). "
    table += (
        "Scored by the suite's own evaluator, trained on the data (`demo-evaluator`).\n"
        if scorer is None
        else f"Scored by {evaluator.description}.\n"
    )
    counts = {"used": 0, "available": 0}
    if cells and "test_items" in cells[0]:
        counts = cells[0]["test_items"]
    if counts["available"] > counts["used"]:
        table += (
            f"Generation metrics on {counts['used']} of the {counts['available']} test items "
            "(a random subset fixed by the seed; `--max-test-items 0` uses them all).\n"
        )
    return {"data": str(data), "cells": cells, "markdown": table}


def _combination_table(cells: list[dict[str, Any]]) -> str:
    def ci(row: dict[str, Any], key: str, digits: int = 3) -> str:
        return f"{row[key]['mean']:.{digits}f} ± {row[key]['ci95']:.{digits}f}"

    lines = [
        "| tokenizer | backbone | params | MPJPE (mm) | usage | top-1 | top-3 | FID | MM-Dist "
        "| Diversity | Lu | train tok/s | sample tok/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        m = c["model"]
        lines.append(
            f"| {c['tokenizer']} ({c['codes']}x{c['levels']}) | {c['backbone']} ({c['layers']}L) "
            f"| {c['params'] / 1e6:.2f}M | {c['mpjpe_mm']:.1f} | {c['usage']:.2f} | "
            f"{ci(m, 'top1')} | {ci(m, 'top3')} | {ci(m, 'fid')} | {ci(m, 'matching')} | "
            f"{ci(m, 'diversity')} | {c['lu']:.3f} | {c['train_tokens_per_s']:,.0f} | "
            f"{c['sample_tokens_per_s']:,.0f} |"
        )
    if cells:
        real = cells[0]["real"]
        lines.append("")
        lines.append(
            f"Real motion: top-1 {ci(real, 'top1')}, top-3 {ci(real, 'top3')}, "
            f"MM-Dist {ci(real, 'matching')}, Diversity {ci(real, 'diversity')}."
        )
    return "\n".join(lines) + "\n"


SUITES: dict[str, Callable[[Path, int], dict[str, Any]]] = {
    "default": suite_default,
    "tokenizer": suite_tokenizer,
    "speed": suite_speed,
    "scaling": suite_scaling,
    "combinations": suite_combinations,
}


def run_suite(
    name: str,
    work: Path,
    results: Path,
    seed: int = 0,
    data: Path | None = None,
    max_items: int | None = None,
    evaluator: Path | None = None,
) -> dict[str, Any]:
    """Run suite ``name``; append its record to ``results/bench.jsonl``; return the record.

    ``data`` (a prepared HumanML3D-layout folder) replaces the synthetic corpus in the suites
    that take one (``combinations``); ``max_items`` caps its evaluated test items
    (default ``COMBO_MAX_ITEMS``, 0: all); ``evaluator`` (an evaluator run or the official
    evaluator's files) scores it instead of one trained on the data."""
    from motionkit.config.fields import suggest
    from motionkit.io import atomic_write_text

    if name not in SUITES:
        raise MotionkitError(
            f"unknown suite {name!r}{suggest(name, list(SUITES))} (suites: {', '.join(SUITES)})"
        )
    if data is not None and name != "combinations":
        raise MotionkitError(f"--data is taken by the combinations suite, not by {name!r}")
    for option, value in (("--max-test-items", max_items), ("--evaluator", evaluator)):
        if value is not None and name != "combinations":
            raise MotionkitError(f"{option} is taken by the combinations suite, not by {name!r}")
    if name == "combinations":
        folder = name if data is None else f"{name}-{Path(data).name}"
        result = suite_combinations(work / folder, seed, data, max_items, evaluator)
    else:
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
    command = f"motionkit bench --suite {name}"
    if data is not None:
        command += f" --data {data}"
    if max_items is not None:
        command += f" --max-test-items {max_items}"
    if evaluator is not None:
        command += f" --evaluator {evaluator}"
    env = record["environment"]
    header = (
        f"# motionkit bench --suite {name}\n\n`{command} --seed {seed}` on {env['machine']} "
        f"({env['cpus']} CPUs), {record['time']}, commit {env['git_commit']}"
    )
    if name == "combinations":
        header += " (finished cells are reused from earlier runs of the same work folder)"
    header += "\n\n"
    label = name if data is None else f"{name}-{Path(data).name}"
    markdown = result["markdown"]
    if name == "combinations" and result["cells"]:
        from motionkit.plots import combination_figure, write_figure

        source = "synthetic corpus" if data is None else Path(data).name
        figure = combination_figure(result["cells"], title=f"combination table ({source})")
        write_figure(figure, results / f"bench-{label}.png")
        markdown += f"\n![combination table](bench-{label}.png)\n"
    atomic_write_text(results / f"bench-{label}.md", header + markdown)
    return record
