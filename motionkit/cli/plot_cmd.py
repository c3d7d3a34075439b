"""``motionkit plot RUN``: draw a run's training curves (losses and validation metrics) as a PNG."""

from __future__ import annotations

from pathlib import Path

import click

from motionkit.cli import console


@click.command("plot")
@click.argument("run", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    help="Output image: .png, .svg or .pdf (default: RUN/curves.png).",
)
def plot(run: Path, out: Path | None) -> None:
    """Draw the training curves of RUN from its metrics.jsonl.

    RUN is a tokenizer, generator or evaluator run, or a pipeline run (both stages are drawn).
    Each stage gets a panel of its training losses and one panel per validation metric.

    \b
    motionkit plot runs/t2m
    motionkit plot runs/tok --out tok-curves.png
    """
    from motionkit.plots import plot_curves

    path, panels, stages = plot_curves(run, out)
    for stage in stages:
        if stage.skipped:
            console.err.print(
                f"skipped {stage.skipped} unreadable line(s) of {stage.folder / 'metrics.jsonl'} "
                "(a line cut short when training was killed)"
            )
    counts = ", ".join(
        f"{stage.stage} {sum(p.stage == stage.stage for p in panels)}" for stage in stages
    )
    console.out.print(f"wrote {path} ({len(panels)} panels: {counts})")
