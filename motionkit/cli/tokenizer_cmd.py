"""``motionkit eval-tokenizer`` and ``motionkit tokenize``: measure a tokenizer, export tokens."""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
import numpy as np

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
    import torch

    from motionkit.data.humanml3d import read_folder
    from motionkit.io import atomic_write_text
    from motionkit.tokenizer.evaluate import evaluate, normalised_clips
    from motionkit.tokenizer.run import load_tokenizer

    model, mean, std, _ = load_tokenizer(run)
    dataset = read_folder(data, split)
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
    import torch

    from motionkit.data.humanml3d import read_folder
    from motionkit.io import atomic_write_bytes, atomic_write_text
    from motionkit.progress import progress_bar
    from motionkit.tokenizer.run import load_tokenizer

    model, mean, std, _ = load_tokenizer(run)
    dataset = read_folder(data, split, min_len=1, max_len=10**9, include_mirrors=mirrors)
    tokens: dict[str, np.ndarray] = {}
    with progress_bar("tokenizing", len(dataset)) as advance, torch.no_grad():
        for clip in dataset.clips:
            x = torch.from_numpy(((clip.features - mean) / std).astype(np.float32))[None]
            tokens[clip.id] = model.encode(x)[0].numpy().astype(np.int64)
            advance(1)
    q = model.quantizer
    flat = (
        np.concatenate([t.reshape(-1, q.num_codebooks) for t in tokens.values()])
        if tokens
        else np.zeros((0, q.num_codebooks), np.int64)
    )
    counts = np.stack(
        [np.bincount(flat[:, i], minlength=q.codebook_size) for i in range(q.num_codebooks)]
    )
    total = counts.sum(axis=1, keepdims=True) + len(tokens)
    table = {
        "split": split,
        "sequences": len(tokens),
        "codebook_size": q.codebook_size,
        "num_codebooks": q.num_codebooks,
        "end_index": q.codebook_size,
        "counts": counts.tolist(),
        "end_count": len(tokens),
        "frequencies": (counts / total).tolist(),
        "end_frequency": (len(tokens) / total[:, 0]).tolist(),
    }
    folder = out or run / "tokens"
    buffer = io.BytesIO()
    np.savez(buffer, **tokens)
    atomic_write_bytes(folder / f"tokens-{split}.npz", buffer.getvalue())
    atomic_write_text(folder / f"unigram-{split}.json", json.dumps(table) + "\n")
    frames = sum(c.num_frames for c in dataset.clips)
    console.out.print(
        f"{len(tokens)} sequences, {flat.shape[0]} tokens from {frames} frames -> {folder}"
    )
