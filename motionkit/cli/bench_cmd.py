"""``motionkit bench [--suite NAME] [--json]``: run a benchmark suite end to end."""

from __future__ import annotations

import json
from pathlib import Path

import click

from motionkit.cli import console


@click.command("bench")
@click.option(
    "--suite",
    default="default",
    show_default=True,
    help="default, tokenizer, scaling, combinations or speed.",
)
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/bench"),
    show_default=True,
    help="Folder for corpora and runs (finished stages found there are reused).",
)
@click.option(
    "--results",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where results are appended (default: WORK/results; the recorded results of the "
    "repository are written with --results benchmarks/results).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of data, training, sampling.")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="combinations suite: a prepared HumanML3D-layout folder instead of the synthetic corpus.",
)
@click.option(
    "--max-test-items",
    type=click.IntRange(min=0),
    default=None,
    help="combinations suite: evaluate each cell on a random subset of this many test items "
    "(default 512; 0: all of them).",
)
@click.option(
    "--evaluator",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="combinations suite: score every cell with this evaluator (an evaluator run, or the "
    "official HumanML3D/KIT evaluator's files) instead of one trained on the data.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
def bench(
    suite: str,
    work: Path,
    results: Path | None,
    seed: int,
    data: Path | None,
    max_test_items: int | None,
    evaluator: Path | None,
    as_json: bool,
) -> None:
    """Run a benchmark suite and append its results with the environment.

    \b
      motionkit bench                  # corpus, tokenizer, generator, evaluator, evaluation
      motionkit bench --suite speed --json
      motionkit bench --suite combinations --data HumanML3D   # every tokenizer x backbone
    """
    from motionkit.bench import run_suite
    from motionkit.io import check_output

    if results is None:
        results = work / "results"
    check_output(work, "--work", folder=True)  # refused now, not after the whole suite ran
    check_output(results, "--results", folder=True)
    record = run_suite(suite, work, results, seed, data, max_test_items, evaluator)
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        console.out.print(record["result"]["markdown"])
        console.err.print(f"appended to {results / 'bench.jsonl'}")
