"""``motionkit eval RUN --data DIR --evaluator EVAL``: the standard text-to-motion evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from motionkit.cli import console
from motionkit.cli.sampling_options import sampling_options

if TYPE_CHECKING:
    from motionkit.generate import Sampling


@click.command("eval")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Dataset folder in the HumanML3D layout; its test split is evaluated.",
)
@click.option(
    "--evaluator",
    "evaluator_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="An evaluator run ('motionkit evaluator train'), or the official HumanML3D/KIT "
    "evaluator's files (converted, or text_mot_match/ + glove/).",
)
@click.option("--replications", default=20, show_default=True, help="Independent repetitions.")
@click.option(
    "--lengths",
    type=click.Choice(["gt", "model"]),
    default="gt",
    show_default=True,
    help="gt: generate exactly the test clip's length; model: until the model's END.",
)
@click.option("--batch-size", default=32, show_default=True, help="R-precision batch size.")
@click.option("--mm-texts", default=100, show_default=True, help="MultiModality captions.")
@click.option("--mm-repeats", default=30, show_default=True, help="Generations per caption.")
@click.option("--seed", default=0, show_default=True, help="Seed of the whole evaluation.")
@click.option(
    "--max-items",
    default=0,
    show_default=True,
    help="Evaluate a random subset of this many test items, fixed by --seed (0: all).",
)
@sampling_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Result JSON (a .md table is written beside it); default RUN/eval-test.json.",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
def eval_command(
    run: Path,
    data: Path,
    evaluator_dir: Path,
    replications: int,
    lengths: str,
    batch_size: int,
    mm_texts: int,
    mm_repeats: int,
    seed: int,
    max_items: int,
    sampling: Sampling,
    out: Path | None,
    device: str,
) -> None:
    """Generate for the test split of DATA and score it: R-precision, FID, MM-Dist, Diversity,
    MultiModality, as mean ± 95% interval over replications.

    \b
      motionkit eval runs/demo/run --data runs/demo/synthetic --evaluator runs/eval
    """
    from rich.console import Console

    from motionkit.io import check_output

    if out is not None:  # the default, RUN/eval-test.json, is the run's own result: refreshed
        check_output(out)  # refused before torch is imported
        check_output(out.with_suffix(".md"))
    from rich.table import Table

    from motionkit.eval.harness import (
        METRICS,
        EvalSettings,
        evaluate_run,
        open_evaluator,
        write_result,
    )
    from motionkit.generator.model import load_generator
    from motionkit.train.loop import pick_device

    settings = EvalSettings(
        replications=replications,
        batch_size=batch_size,
        mm_texts=mm_texts,
        mm_repeats=mm_repeats,
        lengths=lengths,
        seed=seed,
        max_items=max_items,
    )
    target = pick_device(device)
    loaded = load_generator(run, target)
    evaluator = open_evaluator(evaluator_dir, target)
    result = evaluate_run(loaded, evaluator, data, settings, sampling)
    path, md = write_result(result, out or loaded.run_dir / "eval-test.json")
    table = Table(title=f"{result.items} test items, {replications} replications, mean ± 95% CI")
    for column in ("motion", "top-1", "top-2", "top-3", "FID", "MM-Dist", "Diversity"):
        table.add_column(column, justify="left" if column == "motion" else "right", no_wrap=True)
    for row, values in result.rows.items():
        table.add_row(row, *(values[m].format() for m in METRICS))
    # a row of seven "mean±ci" cells needs about 110 columns; never wrap or cut the numbers
    Console(highlight=False, soft_wrap=True, width=max(console.out.width, 110)).print(table)
    if result.multimodality is not None:
        console.out.print(f"MultiModality (model): {result.multimodality:.3f}")
    console.err.print(f"wrote {path} and {md}")
