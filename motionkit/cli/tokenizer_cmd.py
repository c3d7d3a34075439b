"""``motionkit eval-tokenizer`` and ``motionkit tokenize``: measure a tokenizer, export tokens."""

from __future__ import annotations

import json
from pathlib import Path

import click

from motionkit.cli import console

RUN = click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
DATA = click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Dataset folder in the HumanML3D layout.",
)


@click.command("eval-tokenizer")
@RUN
@DATA
@click.option("--split", default="test", show_default=True, help="Split to evaluate.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="JSON file.")
def eval_tokenizer(run: Path, data: Path, split: str, out: Path | None) -> None:
    """Reconstruction L1, MPJPE (mm), codebook usage and perplexity of RUN on a split."""
    from motionkit.io import atomic_write_text, check_output

    if out is not None:  # the default, RUN/eval-SPLIT.json, is the run's own result: refreshed
        check_output(out)  # refused before torch is imported
    import torch

    from motionkit.tokenizer.evaluate import evaluate, normalised_clips
    from motionkit.tokenizer.run import load_with_data

    model, mean, std, dataset = load_with_data(
        run, data, split, needs="of 40 to 199 frames to evaluate"
    )
    metrics = evaluate(model, normalised_clips(dataset, mean, std), mean, std, torch.device("cpu"))
    q = model.quantizer
    result = {
        "run": str(run),
        "data": str(data),
        "split": split,
        "clips": len(dataset),
        "codebook_size": q.codebook_size,
        "num_codebooks": q.num_codebooks,
        **metrics,
    }
    path = out or run / f"eval-{split}.json"
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")
    console.out.print_json(data=result)
    console.err.print(f"wrote {path}")


@click.command("tokenize")
@RUN
@DATA
@click.option("--split", default="all", show_default=True, help="Split to tokenize.")
@click.option(
    "--mirrors/--no-mirrors",
    default=True,
    show_default=True,
    help="Also tokenize the M-prefixed mirrored copy of every clip that has one.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: RUN/tokens).",
)
def tokenize(run: Path, data: Path, split: str, mirrors: bool, out: Path | None) -> None:
    """Write the token ids of every clip and the unigram frequency table of the split.

    Output: tokens-SPLIT.npz (one int64 array per clip id, (T') or (T', Q)) and
    unigram-SPLIT.json (code counts plus one END per sequence, for the normalised loss).
    """
    from motionkit.io import check_output
    from motionkit.tokenizer.export import export_tokens

    if out is not None:  # the default, RUN/tokens, is the run's own cache: refreshed
        check_output(out, folder=True)
        for name in (f"tokens-{split}.npz", f"unigram-{split}.json"):
            check_output(out / name)
    tokens, table, folder = export_tokens(run, data, split, mirrors=mirrors, out=out)
    console.out.print(f"{len(tokens)} sequences, {table['tokens']} tokens -> {folder}")
