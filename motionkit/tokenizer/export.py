"""Token export: the token ids of every clip of a dataset split and their unigram table.

Files written into a folder (by default ``TOKENIZER_RUN/tokens``):

* ``tokens-SPLIT.npz``: one int64 array per clip id, ``(T')`` or ``(T', Q)``, ``T' = T // 4``
* ``unigram-SPLIT.json``: code counts per codebook plus one END per sequence, the frequencies
  the normalised loss Lu compares against (REFERENCE.md §3), and the data folder they came from

Used by ``motionkit tokenize`` and by the generator stage, which exports what it needs when the
export is missing or was made from another data folder.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from motionkit.errors import MotionkitError
from motionkit.eval.tokenizer_metrics import code_histogram
from motionkit.io import atomic_write_bytes, atomic_write_text


def unigram_table(
    tokens: dict[str, np.ndarray], codebook_size: int, num_codebooks: int
) -> dict[str, Any]:
    """Counts and frequencies of codes plus one END per sequence, per codebook."""
    flat = (
        np.concatenate([t.reshape(-1, num_codebooks) for t in tokens.values()])
        if tokens
        else np.zeros((0, num_codebooks), np.int64)
    )
    counts = code_histogram(flat, codebook_size, num_codebooks)
    total = counts.sum(axis=1, keepdims=True) + len(tokens)
    return {
        "sequences": len(tokens),
        "tokens": int(flat.shape[0]),
        "codebook_size": codebook_size,
        "num_codebooks": num_codebooks,
        "end_index": codebook_size,
        "counts": counts.tolist(),
        "end_count": len(tokens),
        "frequencies": (counts / np.maximum(total, 1)).tolist(),
        "end_frequency": (len(tokens) / np.maximum(total[:, 0], 1)).tolist(),
    }


def log_unigram(table: dict[str, Any]) -> np.ndarray:
    """``(Q, V + 1)`` natural-log unigram probabilities (codes, then END); unseen codes get
    half a count so that the log stays finite."""
    counts = np.asarray(table["counts"], dtype=np.float64)
    end = np.full((counts.shape[0], 1), float(table["end_count"]))
    full = np.concatenate([counts, end], axis=1)
    full = np.where(full > 0, full, 0.5)
    return np.log(full / full.sum(axis=1, keepdims=True))


def encode_dataset(
    model: Any, mean: np.ndarray, std: np.ndarray, dataset: Any, batch_size: int = 64
) -> dict:
    """Token ids of every clip of ``dataset`` (whole clips, no gradients).

    Clips of the same length are encoded together, up to ``batch_size`` at a time: no clip is
    padded or cut, so the tokens are those of encoding each clip alone (the convolutions see the
    same frames), about 1.7x faster at the reference width on 2 CPU cores
    (``benchmarks/tokenizer_batching.py``)."""
    import torch

    from motionkit.batching import equal_length_batches
    from motionkit.progress import progress_bar

    clips = dataset.clips
    tokens: dict[str, np.ndarray] = {}
    was_training = model.training
    model.eval()
    with progress_bar("tokenizing", len(dataset)) as advance, torch.no_grad():
        lengths = [len(c.features) for c in clips]
        for _, rows in equal_length_batches(lengths, batch_size):
            x = np.stack([(clips[i].features - mean) / std for i in rows]).astype(np.float32)
            codes = model.encode(torch.from_numpy(x)).cpu().numpy().astype(np.int64)
            for i, row in zip(rows, codes, strict=True):
                tokens[clips[i].id] = row
            advance(len(rows))
    model.train(was_training)
    return {clip.id: tokens[clip.id] for clip in dataset.clips}  # the dataset's order


def write_export(
    folder: Path, split: str, tokens: dict[str, np.ndarray], table: dict[str, Any]
) -> None:
    """Write ``tokens-SPLIT.npz`` and ``unigram-SPLIT.json`` atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **tokens)
    atomic_write_bytes(folder / f"tokens-{split}.npz", buffer.getvalue())
    atomic_write_text(folder / f"unigram-{split}.json", json.dumps(table) + "\n")


def read_export(folder: Path, split: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read an export written by ``write_export`` (no pickle); one-line errors when broken."""
    npz, meta = folder / f"tokens-{split}.npz", folder / f"unigram-{split}.json"
    try:
        table = json.loads(meta.read_text(encoding="utf-8"))
        with np.load(npz, allow_pickle=False) as data:
            tokens = {key: data[key].astype(np.int64) for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise MotionkitError(
            f"token export {npz} is unreadable ({str(exc).splitlines()[0]}); delete it and "
            "run 'motionkit tokenize' again"
        ) from None
    return tokens, table


def export_tokens(
    tokenizer_run: Path, data: Path, split: str, *, mirrors: bool, out: Path | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any], Path]:
    """Tokenize every clip of ``split`` of ``data`` with the tokenizer of ``tokenizer_run``.

    Clips of every length are kept (no 40..200 frame filter) and caption spans become sub-clips,
    with the ids the dataset reader gives them. Returns ``(tokens, unigram table, folder)``.
    """
    from motionkit.tokenizer.run import load_with_data, tokenizer_dir

    tokenizer_run = tokenizer_dir(tokenizer_run)  # a pipeline run: its tokenizer/ folder
    model, mean, std, dataset = load_with_data(
        tokenizer_run, data, split, needs="to tokenize", min_len=1, max_len=10**9,
        include_mirrors=mirrors,
    )  # fmt: skip
    tokens = encode_dataset(model, mean, std, dataset)
    q = model.quantizer
    table = {
        "split": split,
        "data": str(Path(data).resolve()),
        "mirrors": mirrors,
        "weights_sha256": weights_digest(Path(tokenizer_run)),
        **unigram_table(tokens, q.codebook_size, q.num_codebooks),
    }
    folder = out or Path(tokenizer_run) / "tokens"
    write_export(folder, split, tokens, table)
    return tokens, table, folder


def weights_digest(tokenizer_run: Path) -> str:
    """SHA-256 of the tokenizer's weights file: an export is stale when it changes."""
    import hashlib

    from motionkit.train.checkpoint import MODEL_FILE

    digest = hashlib.sha256()
    with open(tokenizer_run / MODEL_FILE, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tokens_for(
    tokenizer_run: Path, data: Path, *, mirrors: bool = True
) -> tuple[dict[str, np.ndarray], Path]:
    """Tokens of every clip of ``data`` (split ``all``), from the tokenizer run's export when it
    was made from the same folder and weights (with mirrors when asked), else exported now and
    kept for the next run."""
    folder = Path(tokenizer_run) / "tokens"
    if (folder / "tokens-all.npz").is_file() and (folder / "unigram-all.json").is_file():
        tokens, table = read_export(folder, "all")
        fresh = (
            table.get("data") == str(Path(data).resolve())
            and table.get("weights_sha256") == weights_digest(Path(tokenizer_run))
            and (table.get("mirrors", False) or not mirrors)
        )
        if fresh:
            return tokens, folder
    tokens, _, folder = export_tokens(tokenizer_run, data, "all", mirrors=mirrors)
    return tokens, folder
