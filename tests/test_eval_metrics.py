"""Text-to-motion metrics and the replication protocol, checked against hand-computed values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import linalg

from motionkit.eval import metrics
from motionkit.eval.metrics import (
    diversity,
    euclidean_distance_matrix,
    fid,
    frechet_distance,
    gaussian_fit,
    kept_rows,
    matching_score,
    multimodality,
    r_precision,
)
from motionkit.eval.protocol import MeanCI, replicate, summarise

REPO = Path(__file__).resolve().parents[1]


def test_metric_modules_do_not_import_torch() -> None:
    code = (
        "import sys, motionkit.eval.metrics, motionkit.eval.protocol; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------------- distances


def test_euclidean_distance_matrix_matches_direct_norms() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 7)), rng.normal(size=(3, 7))
    expected = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    np.testing.assert_allclose(euclidean_distance_matrix(a, b), expected, rtol=1e-10)
    assert euclidean_distance_matrix(a, a).diagonal().min() >= 0.0  # no NaN from rounding
    np.testing.assert_allclose(euclidean_distance_matrix([[0, 0]], [[3, 4]]), [[5.0]])


# ---------------------------------------------------------------------- R-precision, MM-Dist


def test_r_precision_two_batch_toy_and_drop_last() -> None:
    # 1-D embeddings, batch_size 3. Motions of both batches lie at 0, 10, 20.
    motion = np.array([0, 10, 20, 0, 10, 20, 0], dtype=float)[:, None]
    # Batch 1: own-motion ranks 0, 1, 2.  Batch 2: ranks 2, 0, 0.  Row 7 is dropped.
    text = np.array([0, 19, 1, 11, 10, 21, 500], dtype=float)[:, None]
    np.testing.assert_allclose(
        r_precision(text, motion, top_k=3, batch_size=3), [3 / 6, 4 / 6, 6 / 6]
    )
    assert matching_score(text, motion, batch_size=3) == pytest.approx(
        (0 + 9 + 19 + 11 + 0 + 1) / 6
    )


def brute_force_ranks(text: np.ndarray, motion: np.ndarray, batch_size: int) -> np.ndarray:
    ranks = []
    for start in range(0, kept_rows(len(text), batch_size), batch_size):
        t, m = text[start : start + batch_size], motion[start : start + batch_size]
        for i in range(batch_size):
            d = [float(np.linalg.norm(t[i] - m[j])) for j in range(batch_size)]
            ranks.append(sorted(range(batch_size), key=lambda j, d=d: (d[j], j)).index(i))
    return np.array(ranks)


def test_r_precision_matches_brute_force_and_is_monotonic() -> None:
    rng = np.random.default_rng(1)
    motion = rng.normal(size=(100, 16))
    text = motion + rng.normal(scale=1.2, size=motion.shape)
    scores = r_precision(text, motion, top_k=5)
    ranks = brute_force_ranks(text, motion, 32)
    assert len(ranks) == 96
    np.testing.assert_allclose(scores, [np.mean(ranks < k) for k in range(1, 6)])
    assert np.all(np.diff(scores) >= 0) and 0 < scores[0] < scores[-1] <= 1
    matched = np.linalg.norm(text[:96] - motion[:96], axis=1).mean()
    assert matching_score(text, motion) == pytest.approx(matched)


def test_seventy_rows_use_sixty_four() -> None:
    rng = np.random.default_rng(2)
    motion = rng.normal(size=(70, 8))
    text = motion.copy()
    text[64:] += 100.0  # only the dropped rows are mismatched
    assert kept_rows(70) == 64
    np.testing.assert_array_equal(r_precision(text, motion), [1.0, 1.0, 1.0])
    assert matching_score(text, motion) == pytest.approx(0.0, abs=1e-6)


def test_perfect_embeddings_give_one() -> None:
    emb = np.random.default_rng(3).normal(size=(64, 32))
    np.testing.assert_array_equal(r_precision(emb, emb, top_k=3), [1.0, 1.0, 1.0])


def test_ties_rank_lower_rows_first() -> None:
    # All motions equal: every distance ties, so row i's own motion ranks i-th (stable sort).
    text = np.arange(8, dtype=float)[:, None]
    motion = np.zeros((8, 1))
    np.testing.assert_allclose(
        r_precision(text, motion, top_k=4, batch_size=4), [0.25, 0.5, 0.75, 1]
    )


def test_matching_validation() -> None:
    good = np.zeros((40, 4))
    with pytest.raises(ValueError, match="2-D"):
        r_precision(np.zeros(40), np.zeros(40))
    with pytest.raises(ValueError, match="matched rows"):
        r_precision(good, np.zeros((39, 4)))
    with pytest.raises(ValueError, match="matched rows"):
        matching_score(good, np.zeros((40, 5)))
    bad = good.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        r_precision(good, bad)
    with pytest.raises(ValueError, match="too few samples"):
        matching_score(good[:31], good[:31])
    with pytest.raises(ValueError, match="exceeds batch_size"):
        r_precision(good, good, top_k=5, batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        r_precision(good, good, batch_size=0)


# --------------------------------------------------------------------------------------- FID


def diagonal_fid(mu1, s1, mu2, s2) -> float:
    return float(np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2)))


def test_frechet_distance_diagonal_closed_form() -> None:
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 9.0])
    expected = diagonal_fid(mu1, s1, mu2, s2)
    got = frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(mu2, np.diag(s2), mu1, np.diag(s1)) == pytest.approx(expected)


def test_fid_of_samples_approaches_analytic_value() -> None:
    rng = np.random.default_rng(4)
    mu1, mu2 = np.array([0.0, 0.5, 1.0, -1.0]), np.array([0.3, 0.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([1.5, 1.0, 0.5, 3.0])
    a = mu1 + np.sqrt(s1) * rng.normal(size=(40_000, 4))
    b = mu2 + np.sqrt(s2) * rng.normal(size=(40_000, 4))
    assert fid(a, b) == pytest.approx(diagonal_fid(mu1, s1, mu2, s2), rel=0.03)


def test_fid_self_zero_and_symmetric() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 16)) @ rng.normal(size=(16, 16))
    y = rng.normal(loc=0.5, size=(150, 16))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)
    assert fid(x, y) > 1.0
    assert fid(x, y) == pytest.approx(fid(y, x), rel=1e-8)
    mu, sigma = gaussian_fit(x)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False))
    assert frechet_distance(mu, sigma, *gaussian_fit(y)) == pytest.approx(fid(x, y))


def test_fid_adds_offset_when_root_not_finite(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[np.ndarray] = []
    real_sqrtm = linalg.sqrtm

    def flaky(a: np.ndarray) -> np.ndarray:
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(metrics.linalg, "sqrtm", flaky)
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 1.0])
    got = frechet_distance(np.zeros(2), s1, np.zeros(2), s2)
    np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(2)) @ (s2 + 1e-6 * np.eye(2)))
    assert got == pytest.approx(diagonal_fid(0, np.array([1, 4]), 0, np.array([4, 1])), abs=1e-5)


def test_fid_imaginary_tolerance(monkeypatch: pytest.MonkeyPatch) -> None:
    eye = np.eye(2)
    monkeypatch.setattr(metrics.linalg, "sqrtm", lambda a: eye + 1e-4j * eye)
    assert frechet_distance(np.zeros(2), eye, np.zeros(2), eye) == pytest.approx(0.0)
    monkeypatch.setattr(metrics.linalg, "sqrtm", lambda a: eye + 1e-2j * eye)
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), eye, np.zeros(2), eye)


def test_fid_validation() -> None:
    eye = np.eye(3)
    with pytest.raises(ValueError, match="1-D"):
        frechet_distance(np.zeros((3, 1)), eye, np.zeros(3), eye)
    with pytest.raises(ValueError, match="differ in dimension"):
        frechet_distance(np.zeros(3), eye, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="sigma2"):
        frechet_distance(np.zeros(3), eye, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.zeros(3), eye * np.nan, np.zeros(3), eye)
    with pytest.raises(ValueError, match="too few samples"):
        fid(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="width"):
        fid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="2-D"):
        fid(np.zeros((5, 3, 1)), np.zeros((5, 3)))


# -------------------------------------------------------------------- diversity, multimodality


def two_clusters(n: int, gap: float) -> np.ndarray:
    """``n`` points in 3-D: even rows at the origin, odd rows ``gap`` away (cross pairs: gap)."""
    x = np.zeros((n, 3))
    x[1::2] = [0.0, gap, 0.0]
    return x


def assert_integral(x: np.ndarray) -> None:
    np.testing.assert_allclose(x, np.round(x), rtol=0, atol=1e-9)


def test_diversity_two_clusters() -> None:
    x = two_clusters(600, 10.0)
    # The two draws are independent and uniform per position: half the pairs cross clusters.
    values = [diversity(x, 300, rng=seed) for seed in range(200)]
    assert np.mean(values) == pytest.approx(5.0, abs=0.1)
    # Every value is 10 x (cross pairs) / 300.
    assert_integral(np.array(values) * 30)


def test_diversity_reproducible_and_scaled() -> None:
    x = np.random.default_rng(6).normal(size=(400, 12))
    assert diversity(x, rng=7) == diversity(x, rng=np.random.default_rng(7))
    assert diversity(3 * x + 1, rng=7) == pytest.approx(3 * diversity(x, rng=7))
    assert diversity(np.ones((300, 4)), rng=0) == 0.0
    assert diversity(x, num_pairs=400, rng=0) > 0  # N == num_pairs is allowed


def test_multimodality_two_clusters_shared_pairs() -> None:
    gaps = np.arange(1.0, 101.0)  # text t's generations alternate between 0 and gaps[t]
    emb = np.stack([two_clusters(30, gap) for gap in gaps])
    assert emb.shape == (100, 30, 3)
    values = np.array([multimodality(emb, 10, rng=seed) for seed in range(200)])
    # The same 10 repeat pairs serve all texts: each value is mean(gaps) x (cross pairs) / 10.
    assert_integral(values / gaps.mean() * 10)
    assert values.mean() == pytest.approx(0.5 * gaps.mean(), rel=0.03)
    assert multimodality(emb, rng=3) == multimodality(emb, rng=3)


def test_diversity_multimodality_validation() -> None:
    with pytest.raises(ValueError, match="too few samples"):
        diversity(np.zeros((299, 4)))
    with pytest.raises(ValueError, match="2-D"):
        diversity(np.zeros((400, 4, 1)))
    with pytest.raises(ValueError, match="NaN"):
        diversity(np.full((400, 4), np.nan))
    with pytest.raises(ValueError, match="num_pairs"):
        diversity(np.zeros((400, 4)), num_pairs=0)
    with pytest.raises(ValueError, match="3-D"):
        multimodality(np.zeros((100, 30)))
    with pytest.raises(ValueError, match="too few samples"):
        multimodality(np.zeros((100, 9, 4)))
    with pytest.raises(ValueError, match="NaN"):
        multimodality(np.full((5, 30, 4), np.inf))


# ------------------------------------------------------------------------------- replication


def test_summarise_population_std() -> None:
    s = summarise([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.n == 4
    assert s.std == pytest.approx(np.sqrt(1.25))  # ddof=0
    assert s.ci95 == pytest.approx(1.96 * np.sqrt(1.25) / 2)
    assert s.format() == "2.500±1.096" and str(s) == s.format()
    assert MeanCI(0.5112, 0.01, 0.0031, 20).format() == "0.511±0.003"
    assert summarise(np.array([7.0])).as_dict() == {"mean": 7.0, "std": 0.0, "ci95": 0.0, "n": 1}
    with pytest.raises(ValueError, match="too few samples"):
        summarise([])
    with pytest.raises(ValueError, match="NaN"):
        summarise([1.0, float("nan")])
    with pytest.raises(ValueError, match="1-D"):
        summarise(np.zeros((2, 2)))


def test_replicate_independent_reproducible_runs() -> None:
    seen: list[float] = []

    def run(rng: np.random.Generator) -> dict[str, float]:
        value = float(rng.random())
        seen.append(value)
        return {"noise": value, "constant": 1.0}

    first = replicate(run, runs=20, seed=11)
    assert list(first) == ["noise", "constant"]
    assert len(set(seen)) == 20  # every run has its own generator
    assert first["noise"] == summarise(seen)
    assert first["constant"] == MeanCI(1.0, 0.0, 0.0, 20)
    assert replicate(run, runs=20, seed=11) == first
    assert replicate(run, runs=20, seed=12)["noise"] != first["noise"]


def test_replicate_validation() -> None:
    with pytest.raises(ValueError, match="runs"):
        replicate(lambda rng: {"a": 1.0}, runs=0)
    with pytest.raises(ValueError, match="scalar"):
        replicate(lambda rng: {"r": np.array([0.5, 0.7])}, runs=2)
    keys = iter([{"a": 1.0}, {"b": 1.0}])
    with pytest.raises(ValueError, match="run 1 returned"):
        replicate(lambda rng: next(keys), runs=2)
