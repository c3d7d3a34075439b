"""IsoFLOP sweeps on this machine: model shapes x FSQ vocabularies x compute budgets.

A grid file (TOML)::

    data = "data/synth"            # a HumanML3D-layout folder with captions
    budgets = [1e11, 3e11, 1e12]    # training compute per run, FLOPs (6 N D, actual parameters)
    batch_size = 32
    tokenizer_steps = 300           # one tokenizer per vocabulary, trained first
    evals = 6                       # log-spaced validations per run (Lu against compute)

    [train]                         # optional: more training options of the generator runs
    warmup_steps = 10
    lr = 1e-3

    [[models]]
    name = "xs"
    dim = 32
    layers = 2
    heads = 2

    [[vocabs]]
    levels = [5, 5, 5]

Every (model, vocabulary, budget) trains a prefix-LM generator (``tiny`` presets otherwise) for
``ceil(budget / (6 N tokens_per_step))`` steps, where ``tokens_per_step`` is the batch size times
the mean training sequence length (tokens + END). Runs go to ``OUT/runs/``; a finished run is
skipped, a killed one resumes from its last checkpoint. Each finished run appends its final
validation to ``OUT/results.jsonl`` and ``OUT/results.csv``; ``motionkit scaling fit OUT/runs/*``
fits the laws to the envelope of the runs' curves. Imports torch (it trains); the fitting code in
``motionkit.scaling`` does not.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motionkit.errors import MotionkitError

COLUMNS = (
    "run", "model", "levels", "codebook_size", "budget", "steps", "params", "paper_non_vocab",
    "paper_vocab", "tokens_seen", "flops", "paper_flops", "lu", "ce",
)  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """A parsed grid file (module docstring)."""

    data: Path
    budgets: tuple[float, ...]
    models: tuple[dict[str, Any], ...]
    vocabs: tuple[tuple[int, ...], ...]
    batch_size: int = 32
    tokenizer_steps: int = 300
    evals: int = 6
    seed: int = 0
    train: tuple[tuple[str, Any], ...] = ()  # extra [train] options of the generator runs

    def to_dict(self) -> dict[str, Any]:
        """The grid as JSON-ready data (``OUT/sweep.json`` holds it with the sweep's facts)."""
        return {
            "data": str(self.data.resolve()), "budgets": list(self.budgets),
            "models": [dict(m) for m in self.models], "vocabs": [list(v) for v in self.vocabs],
            "batch_size": self.batch_size, "tokenizer_steps": self.tokenizer_steps,
            "evals": self.evals, "seed": self.seed, "train": dict(self.train),
        }  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> Grid:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            grid = cls(
                data=(path.parent / raw["data"]) if not Path(raw["data"]).is_absolute()
                else Path(raw["data"]),
                budgets=tuple(float(b) for b in raw["budgets"]),
                models=tuple(dict(m) for m in raw["models"]),
                vocabs=tuple(tuple(int(x) for x in v["levels"]) for v in raw["vocabs"]),
                batch_size=int(raw.get("batch_size", 32)),
                tokenizer_steps=int(raw.get("tokenizer_steps", 300)),
                evals=int(raw.get("evals", 6)),
                seed=int(raw.get("seed", 0)),
                train=tuple(sorted(dict(raw.get("train", {})).items())),
            )  # fmt: skip
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise MotionkitError(
                f"{path} is not a sweep grid ({type(exc).__name__}: {exc}); it needs data, "
                "budgets, [[models]] with name/dim/layers/heads and [[vocabs]] with levels"
            ) from None
        if not grid.budgets or not grid.models or not grid.vocabs or min(grid.budgets) <= 0:
            raise MotionkitError(f"{path}: budgets, models and vocabs must be non-empty, > 0")
        return grid


def _levels_name(levels: tuple[int, ...]) -> str:
    return "x".join(str(x) for x in levels)


def _config(stage: str, data: Path, args: list[str]) -> Any:
    from motionkit.config.run import resolve_run_config

    return resolve_run_config(
        stage, preset="tiny", choices={"dataset": "humanml3d"},
        args=["--dataset.root", str(data), "--limit", "0", *args],
    )  # fmt: skip


def _finished(run_dir: Path, max_steps: int) -> bool:
    from motionkit.train.checkpoint import checkpoint_step

    step = checkpoint_step(run_dir) if run_dir.is_dir() else None
    return step is not None and step >= max_steps


def train_job(stage: str, data: str, args: list[str], run_dir: str) -> str:
    """Train one run of a sweep into ``run_dir``: skip it when finished, resume it when killed.

    The unit of work of every launcher (in this process, or one SLURM/submitit job per run);
    takes plain strings so that it travels to another machine unchanged."""
    from motionkit.config.run import get_stage
    from motionkit.train.checkpoint import start_run

    config = _config(stage, Path(data), list(args))
    resume = start_run(Path(run_dir), config)
    if resume is not None:  # None: finished
        get_stage(config.stage).trainer()(config, Path(run_dir), resume=resume)
    return run_dir


@dataclass(frozen=True)
class Job:
    """One training run of a sweep: ``train_job(stage, data, args, run_dir)``."""

    stage: str
    data: str
    args: tuple[str, ...]
    run_dir: str
    max_steps: int


@dataclass(frozen=True)
class Launcher:
    """Where the runs of a sweep train.

    ``local`` (default) trains them one after another in this process. ``slurm`` submits each run
    as a SLURM job through submitit (``pip install 'motionkit[slurm]'``), ``submitit-local`` the
    same through submitit's local executor (subprocesses on this machine; how the SLURM path is
    tested). Runs of one phase (the tokenizers, then the generators) are submitted together and
    awaited; finished runs are never resubmitted, and a job that dies resumes from its checkpoint
    when the sweep is started again.
    """

    kind: str = "local"
    folder: Path | None = None  # submitit's logs and job files (default OUT/jobs)
    partition: str | None = None
    time_min: int = 240
    gpus_per_run: int = 0
    cpus_per_run: int = 4
    mem_gb: int = 32
    max_parallel: int = 64

    KINDS = ("local", "slurm", "submitit-local")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise MotionkitError(
                f"unknown launcher {self.kind!r}; choose one of {', '.join(self.KINDS)}"
            )

    def run(self, jobs: list[Job], out: Path, advance: Any) -> None:
        """Run ``jobs`` (skipping finished ones) and return when all have finished."""
        todo = [job for job in jobs if not _finished(Path(job.run_dir), job.max_steps)]
        advance(len(jobs) - len(todo))
        if self.kind == "local":
            for job in todo:
                train_job(job.stage, job.data, list(job.args), job.run_dir)
                advance(1)
            return
        self._submit(todo, out, advance)

    def _executor(self, out: Path) -> Any:
        try:
            import submitit
        except ImportError:
            raise MotionkitError(
                f"--launcher {self.kind} needs submitit: pip install 'motionkit[slurm]'"
            ) from None
        folder = self.folder or out / "jobs"
        if self.kind == "submitit-local":
            executor = submitit.LocalExecutor(folder=str(folder))
            executor.update_parameters(timeout_min=self.time_min)
            return executor
        executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
        params: dict[str, Any] = {
            "timeout_min": self.time_min,
            "cpus_per_task": self.cpus_per_run,
            "mem_gb": self.mem_gb,
            "slurm_array_parallelism": self.max_parallel,
            "name": "motionkit-sweep",
        }
        if self.gpus_per_run:
            params["gpus_per_node"] = self.gpus_per_run
        if self.partition:
            params["slurm_partition"] = self.partition
        executor.update_parameters(**params)
        return executor

    def _submit(self, todo: list[Job], out: Path, advance: Any) -> None:
        if not todo:
            return
        executor = self._executor(out)
        with executor.batch():
            handles = [
                executor.submit(train_job, job.stage, job.data, list(job.args), job.run_dir)
                for job in todo
            ]
        failed = []
        for job, handle in zip(todo, handles, strict=True):
            try:
                handle.result()
            except Exception as exc:  # a job's failure is reported, the others still finish
                failed.append(
                    f"{Path(job.run_dir).name} (job {handle.job_id}): "
                    f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}"
                )
            advance(1)
        if failed:
            raise MotionkitError(
                f"{len(failed)} sweep run(s) failed: {'; '.join(failed)}; their logs are in "
                f"{self.folder or out / 'jobs'}; fix the cause and start the sweep again "
                "(finished runs are kept)"
            )


def _mean_sequence(tokenizer_dir: Path, data: Path) -> float:
    from motionkit.tokenizer.export import tokens_for

    tokens, _ = tokens_for(tokenizer_dir, data)
    lengths = [min(len(t), 49) + 1 for t in tokens.values()]
    return sum(lengths) / max(1, len(lengths))


def run_sweep(grid: Grid, out: Path, launcher: Launcher | None = None) -> list[dict[str, Any]]:
    """Train every run of ``grid`` into ``out`` (resumable) with ``launcher`` (default: in this
    process, one run after another); return the result rows."""
    from motionkit.backbones.base import Vocabulary
    from motionkit.progress import progress_bar
    from motionkit.registry import create_config

    launcher = launcher or Launcher()
    out.mkdir(parents=True, exist_ok=True)
    data = str(grid.data.resolve())
    total = len(grid.vocabs) * (1 + len(grid.models) * len(grid.budgets))
    with progress_bar("scaling sweep (runs)", total) as advance:
        tokenizers = []
        for levels in grid.vocabs:
            tok_dir = (out / "tokenizers" / _levels_name(levels)).resolve()
            args = ("--levels", ",".join(map(str, levels)), "--max-steps",
                    str(grid.tokenizer_steps), "--eval-every", str(grid.tokenizer_steps),
                    "--seed", str(grid.seed))  # fmt: skip
            tokenizers.append(Job("tokenizer", data, args, str(tok_dir), grid.tokenizer_steps))
        launcher.run(tokenizers, out, advance)
        jobs, meta = [], []
        plan = grid.to_dict()
        plan["tokenizers"], plan["tokens_per_step"] = {}, {}
        for levels, tok in zip(grid.vocabs, tokenizers, strict=True):
            tokens_per_step = grid.batch_size * _mean_sequence(Path(tok.run_dir), grid.data)
            plan["tokenizers"][_levels_name(levels)] = tok.run_dir
            plan["tokens_per_step"][_levels_name(levels)] = tokens_per_step
            size = math.prod(levels)
            for model in grid.models:
                shape = {k: int(model[k]) for k in ("dim", "layers", "heads")}
                backbone = create_config("backbones", "prefix-lm:tiny", **shape)
                params = backbone.estimate_params(Vocabulary(size), text_dim=32)["total"]
                for budget in grid.budgets:
                    steps = max(1, math.ceil(budget / (6 * params * tokens_per_step)))
                    name = f"{model['name']}-{_levels_name(levels)}-{budget:.0e}"
                    args = [f"--backbone.{k}={v}" for k, v in shape.items()]
                    args += ["--tokenizer", tok.run_dir, "--max-steps", str(steps)]
                    args += ["--eval-every", str(steps), "--log-evals", str(grid.evals)]
                    args += ["--batch-size", str(grid.batch_size), "--seed", str(grid.seed)]
                    args += [f"--{k.replace('_', '-')}={v}" for k, v in grid.train]
                    run_dir = (out / "runs" / name).resolve()
                    jobs.append(Job("generator", data, tuple(args), str(run_dir), steps))
                    meta.append((run_dir, name, model["name"], levels, size, budget, steps))
        from motionkit.io import atomic_write_text

        atomic_write_text(out / "sweep.json", json.dumps(plan, indent=2) + "\n")
        if launcher.kind == "local":  # results appear as each run finishes
            rows: list[dict[str, Any]] = []
            for job, info in zip(jobs, meta, strict=True):
                launcher.run([job], out, advance)
                rows.append(_row(*info))
                _write(out, rows)
            return rows
        launcher.run(jobs, out, advance)
    rows = [_row(*info) for info in meta]
    _write(out, rows)
    return rows


def _row(run_dir: Path, name: str, model: str, levels: tuple[int, ...], size: int,
         budget: float, steps: int) -> dict[str, Any]:  # fmt: skip
    val = [
        json.loads(line)
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if '"split": "val"' in line
    ][-1]
    return {
        "run": name, "model": model, "levels": _levels_name(levels), "codebook_size": size,
        "budget": budget, "steps": steps, "params": round(val["flops"] / max(1, 6 *
        val["tokens_seen"])) if val["tokens_seen"] else 0,
        **{k: val[k] for k in ("paper_non_vocab", "paper_vocab", "tokens_seen", "flops",
                               "paper_flops", "lu", "ce")},
    }  # fmt: skip


def _write(out: Path, rows: list[dict[str, Any]]) -> None:
    from motionkit.io import atomic_write_text

    atomic_write_text(out / "results.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "results.csv", buffer.getvalue())


def read_curve(run: Path) -> Any:
    """The validation curve (paper-unit FLOPs, Lu) of a generator run (or a pipeline run) as a
    ``motionkit.scaling.fit.TrainingCurve``."""
    from motionkit.scaling.fit import TrainingCurve

    folder = run / "generator" if (run / "generator" / "metrics.jsonl").is_file() else run
    path = folder / "metrics.jsonl"
    if not path.is_file():
        raise MotionkitError(f"{run} is not a generator run with metrics.jsonl")
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("split") == "val" and record.get("paper_flops") and "lu" in record:
            rows.append(record)
    if not rows:
        raise MotionkitError(
            f"{path} has no validation lines with compute (paper_flops); train the run with this "
            "motionkit version"
        )
    last = rows[-1]
    return TrainingCurve(
        flops=[r["paper_flops"] for r in rows],
        loss=[r["lu"] for r in rows],
        non_vocab=last["paper_non_vocab"],
        vocab=last["paper_vocab"],
        model=str(folder),
        vocab_name=str(round(last["paper_vocab"])),
    )
