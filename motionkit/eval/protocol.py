"""Replication protocol: repeat a randomised evaluation and report mean ± 95 % interval, numpy only.

The standard text-to-motion protocol runs the whole evaluation 20 times (a fresh random caption
per item, fresh batches, fresh diversity pairs) and reports, for every metric,
``mean ± 1.96 * std / sqrt(runs)`` with the population standard deviation (``ddof=0``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

#: Normal quantile of a two-sided 95 % interval.
CI95_Z = 1.96
#: Replications of the standard protocol.
DEFAULT_RUNS = 20


@dataclass(frozen=True)
class MeanCI:
    """Summary of one metric over ``n`` replications.

    ``std`` is the population standard deviation (``ddof=0``) and ``ci95`` the half-width
    ``1.96 * std / sqrt(n)``; all in the metric's own unit.
    """

    mean: float
    std: float
    ci95: float
    n: int

    def format(self, digits: int = 3) -> str:
        """``mean±ci95`` with ``digits`` decimals, e.g. ``0.511±0.003``."""
        return f"{self.mean:.{digits}f}±{self.ci95:.{digits}f}"

    def __str__(self) -> str:
        return self.format()

    def as_dict(self) -> dict[str, float | int]:
        """Plain ``{"mean", "std", "ci95", "n"}`` for JSON result files."""
        return {"mean": self.mean, "std": self.std, "ci95": self.ci95, "n": self.n}


def summarise(values: Iterable[float] | np.ndarray) -> MeanCI:
    """Mean, population std and 95 % half-width of ``values`` (1-D, at least one, finite)."""
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"values must be 1-D (one number per run), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("too few samples: values is empty")
    if not np.isfinite(arr).all():
        raise ValueError("values contains NaN or infinite values")
    std = float(arr.std(ddof=0))
    return MeanCI(
        mean=float(arr.mean()), std=std, ci95=CI95_Z * std / np.sqrt(arr.size), n=int(arr.size)
    )


def replicate(
    fn: Callable[[np.random.Generator], Mapping[str, float]],
    runs: int = DEFAULT_RUNS,
    seed: int | np.random.SeedSequence | None = 0,
) -> dict[str, MeanCI]:
    """Call ``fn(rng)`` ``runs`` times and summarise each metric it returns.

    Run ``i`` gets its own generator seeded from the ``i``-th child of
    ``np.random.SeedSequence(seed)``, so runs are independent and the whole replication is
    reproducible from ``seed`` (``None``: fresh entropy). ``fn`` returns ``{metric name: scalar}``
    with the same names every run; an array-valued metric such as R-precision is returned as
    separate scalars (``{"top1": r[0], "top3": r[2], ...}``). The result maps each name, in
    ``fn``'s order, to :func:`summarise` of its ``runs`` values.
    """
    if isinstance(runs, bool) or int(runs) != runs or runs < 1:
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    children = np.random.SeedSequence(seed).spawn(int(runs))
    collected: dict[str, list[float]] = {}
    names: list[str] | None = None
    for run, child in enumerate(children):
        result = fn(np.random.default_rng(child))
        if not isinstance(result, Mapping):
            raise ValueError(f"fn must return a mapping of metric name to value, got {result!r}")
        if names is None:
            names = list(result)
            if not names:
                raise ValueError("fn returned no metrics")
            collected = {name: [] for name in names}
        elif set(result) != set(names):
            raise ValueError(
                f"run {run} returned metrics {sorted(result)}, run 0 returned {sorted(names)}"
            )
        for name in names:
            value = np.asarray(result[name], dtype=float)
            if value.ndim != 0:
                raise ValueError(
                    f"metric {name!r} must be a scalar, got shape {value.shape}; "
                    "return its elements under separate names"
                )
            collected[name].append(float(value))
    return {name: summarise(vals) for name, vals in collected.items()}
