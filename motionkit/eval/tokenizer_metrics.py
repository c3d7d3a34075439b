"""Tokenizer metrics (ScaMo / T2M-GPT conventions), numpy only.

* L1: mean absolute error between normalised features.
* MPJPE: mean per-joint position error in millimetres on root-relative joints (joints recovered
  from features, the root joint subtracted in every frame).
* Codebook usage: fraction of the codebook's codes that occur at least once.
* Perplexity: exponential entropy of the code histogram (``usage * K`` at best is uniform use).
"""

from __future__ import annotations

import numpy as np


def l1(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute difference of two arrays of one shape."""
    prediction, target = np.asarray(prediction), np.asarray(target)
    if prediction.shape != target.shape:
        raise ValueError(f"shapes differ: {prediction.shape} vs {target.shape}")
    return float(np.mean(np.abs(prediction.astype(np.float64) - target)))


def mpjpe_mm(prediction: np.ndarray, target: np.ndarray, root: int = 0) -> float:
    """Mean per-joint position error (mm) of root-relative joints ``(..., T, J, 3)`` in metres."""
    prediction = np.asarray(prediction, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if prediction.shape != target.shape or prediction.shape[-1] != 3:
        raise ValueError(f"expected two (..., J, 3) arrays of one shape, got {prediction.shape}")
    pred_rel = prediction - prediction[..., root : root + 1, :]
    target_rel = target - target[..., root : root + 1, :]
    return float(np.linalg.norm(pred_rel - target_rel, axis=-1).mean() * 1000.0)


def code_histogram(indices: np.ndarray, codebook_size: int, num_codebooks: int = 1) -> np.ndarray:
    """Counts ``(Q, K)`` of each code per codebook.

    ``indices`` is any integer array for one codebook, or ``(..., Q)`` for ``Q`` codebooks.
    """
    indices = np.asarray(indices)
    if num_codebooks > 1 and (indices.ndim == 0 or indices.shape[-1] != num_codebooks):
        raise ValueError(f"expected indices (..., {num_codebooks}), got {indices.shape}")
    flat = indices.reshape(-1, num_codebooks)
    if flat.size and (flat.min() < 0 or flat.max() >= codebook_size):
        raise ValueError(f"indices outside [0, {codebook_size})")
    return np.stack([np.bincount(col, minlength=codebook_size) for col in flat.T])


def codebook_usage(indices: np.ndarray, codebook_size: int, num_codebooks: int = 1) -> float:
    """Fraction of codes used at least once (averaged over codebooks)."""
    counts = code_histogram(indices, codebook_size, num_codebooks)
    return float((counts > 0).mean())


def perplexity(indices: np.ndarray, codebook_size: int, num_codebooks: int = 1) -> float:
    """Exponential entropy of the code distribution (averaged over codebooks)."""
    counts = code_histogram(indices, codebook_size, num_codebooks).astype(np.float64)
    probs = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(probs > 0, probs * np.log(probs), 0.0).sum(axis=1)
    return float(np.exp(entropy).mean())
