"""``motionkit evaluator train``: train a text-motion retrieval evaluator on any dataset."""

from __future__ import annotations

import click


@click.group("evaluator")
def evaluator() -> None:
    """Evaluators that score generated motion (R-precision, FID, ...)."""


@evaluator.command(
    "train",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def train(ctx: click.Context) -> None:
    """Train a retrieval evaluator: 'motionkit train --stage evaluator' with the same options.

    \b
      motionkit evaluator train --data DIR --out EVAL
      motionkit evaluator train --data DIR --text-encoder minilm --max-steps 3000 --out EVAL

    It reports the R-precision of real motion on the test split (EVAL/retrieval-test.json).
    """
    from motionkit.cli.train_cmd import train as train_command

    args = list(ctx.args)
    if "--help" in args or "-h" in args:
        click.echo(ctx.get_help())
        click.echo("\nOptions: those of 'motionkit train' (see 'motionkit train --help').")
        return
    if "--stage" in args:
        raise click.UsageError("'motionkit evaluator train' always trains the evaluator stage")
    train_command.main(
        ["--stage", "evaluator", *args],
        prog_name="motionkit evaluator train",
        standalone_mode=False,
    )
