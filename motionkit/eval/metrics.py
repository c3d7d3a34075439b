"""Text-to-motion metrics on evaluator embeddings (HumanML3D / KIT-ML conventions), numpy only.

Every function takes embeddings that an evaluator has already produced (text and motion
encoders co-embedded in one ``D``-dimensional space; ``D = 512`` for the standard evaluator).
Distances are Euclidean, in the units of the embedding space.

* FID: Frechet distance between Gaussian fits of real and generated motion embeddings.
* R-precision (top-1 .. top-k): in consecutive batches of 32 matched (text, motion) rows, the
  fraction of texts whose own motion is among the ``k`` nearest of the batch's motions.
* Matching score (MM-Dist): mean distance of matched (text, motion) pairs.
* Diversity: mean distance between randomly paired motions.
* MultiModality: mean distance between randomly paired generations of one text.

Randomised metrics take ``rng``: a :class:`numpy.random.Generator`, an integer seed, or ``None``
for fresh operating-system entropy (not reproducible). Inputs are validated: a wrong number of
dimensions, mismatched rows or widths, NaN or infinite values, or too few rows raise
``ValueError`` naming the argument.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

#: Offset added to both covariance diagonals when ``sqrtm`` of their product is not finite.
FID_EPS = 1e-6
#: Largest imaginary part tolerated on the diagonal of ``sqrtm(sigma1 @ sigma2)``.
FID_IMAG_ATOL = 1e-3

RngLike = np.random.Generator | int | None


def _matrix(x: np.ndarray, name: str, min_rows: int = 1) -> np.ndarray:
    """``x`` as a finite float64 ``(N, D)`` array with ``N >= min_rows`` and ``D >= 1``."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {arr.shape})")
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"too few samples in {name}: {arr.shape[0]} rows, at least {min_rows} needed"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _pair(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two finite ``(N, D)`` arrays with the same number of rows and columns."""
    a, b = _matrix(a, names[0]), _matrix(b, names[1])
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must be matched rows of one width, "
            f"got {a.shape} and {b.shape}"
        )
    return a, b


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances ``(..., N, M)`` between rows of ``a (..., N, D)`` and ``b (..., M, D)``."""
    sq = (
        np.sum(a * a, axis=-1)[..., :, None]
        + np.sum(b * b, axis=-1)[..., None, :]
        - 2.0 * (a @ np.swapaxes(b, -1, -2))
    )
    # The expansion can dip below zero by rounding for (nearly) equal rows.
    return np.sqrt(np.maximum(sq, 0.0))


# --------------------------------------------------------------------------------------------
# FID


def gaussian_fit(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and sample covariance ``(D, D)`` (``np.cov(rowvar=False)``, ddof 1).

    ``embeddings`` is ``(N, D)`` with ``N >= 2``.
    """
    x = _matrix(embeddings, "embeddings", min_rows=2)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    eps: float = FID_EPS,
    imag_atol: float = FID_IMAG_ATOL,
) -> float:
    """Frechet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm(sigma1 @ sigma2))`` for means ``(D,)``
    and covariances ``(D, D)``; the unit is squared embedding units.

    ``scipy.linalg.sqrtm`` gives the square root. If it is not finite (singular product),
    ``eps * I`` is added to both covariances and the root taken again. Rounding can leave small
    imaginary parts in the root: they are dropped (real part kept) when every diagonal entry's
    imaginary part is within ``imag_atol`` (1e-3) of zero; larger ones raise ``ValueError``, since
    they mean the inputs are not valid covariances. The result is not clipped at zero, so
    identical inputs can give a tiny negative value from rounding.
    """
    mu1 = np.asarray(mu1, dtype=np.float64)
    mu2 = np.asarray(mu2, dtype=np.float64)
    sigma1 = np.asarray(sigma1, dtype=np.float64)
    sigma2 = np.asarray(sigma2, dtype=np.float64)
    for name, mu in (("mu1", mu1), ("mu2", mu2)):
        if mu.ndim != 1 or mu.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D mean (D,), got shape {mu.shape}")
    if mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 differ in dimension: {mu1.shape} vs {mu2.shape}")
    dim = mu1.shape[0]
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (dim, dim):
            raise ValueError(f"{name} must be ({dim}, {dim}) to match the means, got {sigma.shape}")
    for name, arr in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")

    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(dim) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag)
        if not np.all(imag <= imag_atol):
            raise ValueError(
                f"sqrtm(sigma1 @ sigma2) has imaginary diagonal parts up to {imag.max():.3g} "
                f"(tolerance {imag_atol}); are sigma1 and sigma2 covariance matrices?"
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid(real_embeddings: np.ndarray, generated_embeddings: np.ndarray) -> float:
    """FID between real ``(N1, D)`` and generated ``(N2, D)`` motion embeddings (N1, N2 >= 2).

    Each set is fitted with a Gaussian (:func:`gaussian_fit`) and the two compared with
    :func:`frechet_distance`.
    """
    real = _matrix(real_embeddings, "real_embeddings", min_rows=2)
    generated = _matrix(generated_embeddings, "generated_embeddings", min_rows=2)
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"real_embeddings and generated_embeddings differ in width: "
            f"{real.shape[1]} vs {generated.shape[1]}"
        )
    return frechet_distance(*gaussian_fit(real), *gaussian_fit(generated))


# --------------------------------------------------------------------------------------------
# Distances, R-precision, matching score


def euclidean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(N, M)`` between the rows of ``a (N, D)`` and ``b (M, D)``.

    Computed as ``sqrt(|a|^2 + |b|^2 - 2 a.b)`` in float64, negatives from rounding clipped to 0.
    """
    a, b = _matrix(a, "a"), _matrix(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b differ in width: {a.shape[1]} vs {b.shape[1]}")
    return _pairwise(a, b)


def kept_rows(num_rows: int, batch_size: int = 32) -> int:
    """Rows used by the batched metrics: whole batches only (the last partial one is dropped)."""
    return (num_rows // batch_size) * batch_size


def _batched_distances(text_emb: np.ndarray, motion_emb: np.ndarray, batch_size: int) -> np.ndarray:
    """Distances ``(B, batch_size, batch_size)`` within each kept batch of matched rows."""
    batch_size = _positive_int(batch_size, "batch_size")
    text, motion = _pair(text_emb, motion_emb, ("text_emb", "motion_emb"))
    num_batches = text.shape[0] // batch_size
    if num_batches == 0:
        raise ValueError(
            f"too few samples: {text.shape[0]} rows, at least one batch of {batch_size} needed"
        )
    used = num_batches * batch_size
    shape = (num_batches, batch_size, text.shape[1])
    return _pairwise(text[:used].reshape(shape), motion[:used].reshape(shape))


def r_precision(
    text_emb: np.ndarray, motion_emb: np.ndarray, top_k: int = 3, batch_size: int = 32
) -> np.ndarray:
    """R-precision top-1 .. top-``top_k``: array ``(top_k,)`` of fractions in [0, 1].

    ``text_emb`` and ``motion_emb`` are ``(N, D)``; row ``i`` of each is a matched pair. Rows are
    split into consecutive batches of ``batch_size`` and the last incomplete batch is dropped
    (:func:`kept_rows`); shuffle the rows beforehand to draw random batches. Within a batch
    every text ranks the batch's motions by Euclidean distance; entry ``k - 1`` of the result is
    the fraction of kept rows whose own motion is among the ``k`` nearest.

    Ties: motions are ranked with a stable argsort, so among equal distances the motion with the
    lower row index in the batch ranks first (the own motion wins a tie with later rows and
    loses it to earlier ones).
    """
    top_k = _positive_int(top_k, "top_k")
    batch_size = _positive_int(batch_size, "batch_size")
    if top_k > batch_size:
        raise ValueError(f"top_k ({top_k}) exceeds batch_size ({batch_size})")
    dist = _batched_distances(text_emb, motion_emb, batch_size)
    order = np.argsort(dist, axis=-1, kind="stable")
    # Position (0 = nearest) of each text's own motion in its ranking.
    rank = np.argmax(order == np.arange(batch_size)[:, None], axis=-1).reshape(-1)
    return np.array([np.mean(rank < k) for k in range(1, top_k + 1)])


def matching_score(text_emb: np.ndarray, motion_emb: np.ndarray, batch_size: int = 32) -> float:
    """Matching score (MM-Dist): mean distance of matched rows of ``text_emb``/``motion_emb``.

    Both are ``(N, D)``; only the rows :func:`r_precision` keeps (whole batches of
    ``batch_size``) are averaged, as the reference protocol does.
    """
    dist = _batched_distances(text_emb, motion_emb, batch_size)
    return float(np.mean(np.diagonal(dist, axis1=-2, axis2=-1)))


# --------------------------------------------------------------------------------------------
# Diversity and MultiModality


def diversity(embeddings: np.ndarray, num_pairs: int = 300, rng: RngLike = None) -> float:
    """Mean Euclidean distance over ``num_pairs`` random pairs of rows of ``embeddings (N, D)``.

    Two index sets of ``num_pairs`` rows are drawn independently, each without replacement, and
    paired position by position (a row can be paired with itself). Needs ``N >= num_pairs``.
    """
    num_pairs = _positive_int(num_pairs, "num_pairs")
    x = _matrix(embeddings, "embeddings")
    if x.shape[0] < num_pairs:
        raise ValueError(
            f"too few samples for diversity: {x.shape[0]} rows, num_pairs={num_pairs} needs "
            f"at least {num_pairs}"
        )
    gen = np.random.default_rng(rng)
    first = gen.choice(x.shape[0], num_pairs, replace=False)
    second = gen.choice(x.shape[0], num_pairs, replace=False)
    return float(np.linalg.norm(x[first] - x[second], axis=-1).mean())


def multimodality(embeddings: np.ndarray, num_pairs: int = 10, rng: RngLike = None) -> float:
    """Mean distance between paired generations of the same text.

    ``embeddings`` is ``(num_texts, num_repeats, D)``: ``num_repeats`` generations for each text
    (protocol: 100 texts x 30 repeats). Two sets of ``num_pairs`` repeat indices are drawn, each
    without replacement, and paired position by position; as in the reference, the same index
    pairs serve every text. The distances are averaged over pairs and texts. Needs
    ``num_repeats >= num_pairs``.
    """
    num_pairs = _positive_int(num_pairs, "num_pairs")
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"embeddings must be 3-D (num_texts, num_repeats, D), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[2] == 0:
        raise ValueError(f"embeddings has no texts or no columns (shape {x.shape})")
    if x.shape[1] < num_pairs:
        raise ValueError(
            f"too few samples for multimodality: {x.shape[1]} repeats per text, "
            f"num_pairs={num_pairs} needs at least {num_pairs}"
        )
    if not np.isfinite(x).all():
        raise ValueError("embeddings contains NaN or infinite values")
    gen = np.random.default_rng(rng)
    first = gen.choice(x.shape[1], num_pairs, replace=False)
    second = gen.choice(x.shape[1], num_pairs, replace=False)
    return float(np.linalg.norm(x[:, first] - x[:, second], axis=-1).mean())
