"""``motionkit scaling fit|predict``: fit scaling laws to compute-optimal points, predict a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from motionkit.cli import console
from motionkit.cli.types import FiniteFloat


@click.group("scaling")
def scaling() -> None:
    """Scaling laws: fit them to compute-optimal points and predict the optimal run."""


@scaling.command("fit")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Fit as JSON (a .png with the paper-style figures is written beside it).",
)
@click.option("--bootstrap", "n_boot", default=1000, show_default=True, help="Resamples.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option(
    "--min-flops",
    type=FiniteFloat(0, min_open=True),
    help="Runs only: start the envelope at this compute (paper FLOPs); the first steps of a run "
    "(warm-up, the first hundred tokens) are not compute-optimal.",
)
@click.option(
    "--max-flops",
    type=FiniteFloat(0, min_open=True),
    help="Runs only: end the envelope at this compute.",
)
@click.option(
    "--method",
    type=click.Choice(["envelope", "isoflop"]),
    default="envelope",
    show_default=True,
    help="Runs only: compute-optimal points as the lower envelope of the curves, or as IsoFLOP "
    "minima (a parabola in log N at 12 budgets every run reaches; sizes between the grid's).",
)
def fit(
    sources: tuple[Path, ...],
    out: Path,
    n_boot: int,
    seed: int,
    min_flops: float | None,
    max_flops: float | None,
    method: str,
) -> None:
    """Fit Lu = a log10 C + b and the power laws of Nnv, Nv, D in C (and Nv in Nnv).

    SOURCES are CSVs of compute-optimal points (columns as in ScaMo's reference table: model,
    vocab, log10_flops, non_vocab_params, vocab_params, data_tokens, normalized_loss) or generator
    runs, whose validation curves (Lu against compute) give the compute-optimal points as their
    lower envelope. Intervals are bootstrapped over runs.
    """
    from motionkit.errors import MotionkitError
    from motionkit.io import check_output
    from motionkit.scaling.fit import compute_optimal_envelope, isoflop_from_curves
    from motionkit.scaling.sweep import read_curve

    check_output(out)
    check_output(out.with_suffix(".png"))
    csvs = [p for p in sources if p.is_file()]
    runs = [p for p in sources if p.is_dir()]
    if csvs and runs:
        raise click.UsageError("give either CSVs of points or generator runs, not both")
    if runs:
        curves = [read_curve(run) for run in runs]
        try:
            if method == "isoflop":
                rows = isoflop_from_curves(curves, 12, min_flops=min_flops, max_flops=max_flops)
            else:
                rows = compute_optimal_envelope(
                    curves, n_grid=30, min_flops=min_flops, max_flops=max_flops
                )
        except ValueError as exc:
            raise MotionkitError(f"no envelope: {exc}; widen --min-flops/--max-flops") from None
        _fit_points(rows, out, n_boot, seed, curves)
        return
    rows = []
    for points in csvs:
        rows += _read_points(points)
    _fit_points(rows, out, n_boot, seed, None)


def _read_points(points: Path) -> list:
    from motionkit.errors import MotionkitError
    from motionkit.scaling.fit import load_points_csv

    try:
        rows = load_points_csv(points)
    except (KeyError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise MotionkitError(
            f"{points} is not a table of compute-optimal points ({type(exc).__name__}: {exc}); "
            "expected columns log10_flops, non_vocab_params, vocab_params, normalized_loss"
        ) from None
    for number, row in enumerate(rows, 2):  # line 1 is the header
        values = (row.flops, row.loss, row.non_vocab, row.vocab, row.tokens)
        if not all(math.isfinite(v) for v in values):
            raise MotionkitError(
                f"{points} line {number}: every number must be finite, got NaN or inf; "
                "fix or remove that row"
            )
    return rows


def _fit_points(rows: list, out: Path, n_boot: int, seed: int, curves: list | None) -> None:
    from motionkit.errors import MotionkitError
    from motionkit.io import atomic_write_text
    from motionkit.scaling.fit import fit_all
    from motionkit.scaling.plots import plot_fit

    if len(rows) < 3:
        raise MotionkitError(f"{len(rows)} compute-optimal points; a fit needs at least 3")
    try:
        result = fit_all(rows, n_boot=n_boot, seed=seed)
    except ValueError as exc:
        raise MotionkitError(
            f"cannot fit the {len(rows)} compute-optimal points: {str(exc).splitlines()[0]}"
        ) from None
    atomic_write_text(out, result.to_json())
    plot_fit(result, rows, out.with_suffix(".png"), curves=curves)
    console.out.print(result.summary())
    console.err.print(f"wrote {out} and {out.with_suffix('.png')}")


@scaling.command("predict")
@click.option(
    "--flops",
    type=FiniteFloat(0, min_open=True),
    required=True,
    help="Compute budget C in FLOPs (6 N D).",
)
@click.option(
    "--fit",
    "fit_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A fit written by 'motionkit scaling fit' (default: ScaMo's published constants).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="For the suggested command.",
)
@click.option(
    "--sweep",
    "sweep_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Choose among a sweep's shapes and vocabularies (its folder, with sweep.json) instead "
    "of ScaMo's presets; the command then trains on the sweep's data and tokenizer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the prediction as JSON.")
def predict(
    flops: float, fit_file: Path | None, batch_size: int, sweep_dir: Path | None, as_json: bool
) -> None:
    """The compute-optimal run for a budget: parameters, vocabulary, tokens, predicted Lu."""
    from motionkit.errors import MotionkitError
    from motionkit.scaling.fit import ScalingFit, paper_fit
    from motionkit.scaling.predict import predict as run_predict
    from motionkit.scaling.predict import predict_for_sweep

    if fit_file is None:
        result = paper_fit()
    else:
        try:
            result = ScalingFit.from_json(fit_file.read_text(encoding="utf-8"))
        except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise MotionkitError(
                f"{fit_file} is not a fit written by 'motionkit scaling fit' ({exc})"
            ) from None
    if sweep_dir is not None:
        try:
            plan = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MotionkitError(
                f"{sweep_dir} has no readable sweep.json ({type(exc).__name__}); give the --out "
                "folder of 'motionkit scaling sweep' (run or resume the sweep to write it)"
            ) from None
        try:
            prediction = predict_for_sweep(result, flops, plan)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MotionkitError(
                f"{sweep_dir / 'sweep.json'} is not a plan written by 'motionkit scaling sweep' "
                f"({type(exc).__name__}: {exc}); run or resume the sweep to rewrite it"
            ) from None
    else:
        prediction = run_predict(result, flops, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps(prediction, indent=2, default=float))
        return
    for key, value in prediction.items():
        console.out.print(f"{key}: {value}")


@scaling.command("sweep")
@click.option(
    "--grid",
    "grid_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="TOML grid: data, budgets, [[models]], [[vocabs]] (see docs/cli.md).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Sweep folder: tokenizers/, runs/, results.csv and results.jsonl (resumable).",
)
@click.option(
    "--launcher",
    type=click.Choice(["local", "slurm", "submitit-local"]),
    default="local",
    show_default=True,
    help="Where runs train: here, one after another; one SLURM job per run (submitit, "
    "pip install 'motionkit[slurm]'); or submitit's local executor (subprocesses here).",
)
@click.option("--partition", help="SLURM partition (--launcher slurm).")
@click.option("--time-min", default=240, show_default=True, help="Time limit per run (minutes).")
@click.option("--gpus-per-run", default=0, show_default=True, help="GPUs per SLURM job.")
@click.option("--cpus-per-run", default=4, show_default=True, help="CPUs per SLURM job.")
@click.option("--mem-gb", default=32, show_default=True, help="Memory per SLURM job (GB).")
@click.option("--max-parallel", default=64, show_default=True, help="SLURM jobs at once.")
def sweep(
    grid_file: Path,
    out: Path,
    launcher: str,
    partition: str | None,
    time_min: int,
    gpus_per_run: int,
    cpus_per_run: int,
    mem_gb: int,
    max_parallel: int,
) -> None:
    """Train an IsoFLOP grid of generators (finished runs are skipped, a killed run resumes);
    then 'motionkit scaling fit OUT/runs/*' fits the laws.

    Runs train here by default; --launcher slurm submits one job per run to a SLURM cluster
    (the tokenizers first, then every generator at once) and waits for them. OUT must be on a
    filesystem the cluster's nodes share.
    """
    from motionkit.errors import MotionkitError
    from motionkit.io import check_output
    from motionkit.scaling.sweep import Grid, Launcher, run_sweep

    check_output(out, folder=True)

    for name, value in (("--time-min", time_min), ("--cpus-per-run", cpus_per_run),
                        ("--mem-gb", mem_gb), ("--max-parallel", max_parallel)):  # fmt: skip
        if value < 1:
            raise MotionkitError(f"{name} must be at least 1, got {value}")
    if gpus_per_run < 0:
        raise MotionkitError(f"--gpus-per-run must be 0 or more, got {gpus_per_run}")
    chosen = Launcher(
        launcher, partition=partition, time_min=time_min, gpus_per_run=gpus_per_run,
        cpus_per_run=cpus_per_run, mem_gb=mem_gb, max_parallel=max_parallel,
    )  # fmt: skip
    rows = run_sweep(Grid.load(grid_file), out, chosen)
    for row in rows:
        console.out.print(
            f"{row['run']}: {row['steps']} steps, {row['paper_flops']:.3g} paper FLOPs, "
            f"Lu {row['lu']:.3f}"
        )
    console.err.print(f"wrote {out / 'results.csv'} and {out / 'results.jsonl'}")
