"""Least-squares scaling laws, bootstrap intervals, and compute-optimal point extraction.

Everything is fitted in log10 space, as ScaMo does (REFERENCE.md §3):

* the logarithmic loss law ``Lu = slope * log10 C + intercept`` (Eq 14);
* power laws ``log10 y = coef_log10 + exponent * log10 x`` (Eqs 10-13).

numpy only; no torch.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motionkit.scaling.accounting import paper_tokens_from_flops

#: The five laws of ``fit_all``: name -> (x field, y field, kind).
LAWS: dict[str, tuple[str, str, str]] = {
    "loss": ("flops", "loss", "log"),  # Eq 14
    "non_vocab": ("flops", "non_vocab", "power"),  # Eq 12
    "vocab": ("flops", "vocab", "power"),  # Eq 11
    "tokens": ("flops", "tokens", "power"),  # Eq 13
    "vocab_vs_non_vocab": ("non_vocab", "vocab", "power"),  # Eq 10
}


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _none_to_nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Ordinary least squares ``y = a + b x``: ``(a, b, r2)``."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {x.size} vs {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError(f"a line needs at least 2 distinct finite x values, got {x.size} points")
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / total if total > 0 else 1.0
    return float(a), float(b), r2


def _log10_positive(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if np.any(arr <= 0):
        raise ValueError(f"{what} must be positive for a log10 fit")
    return np.log10(arr)


@dataclass(frozen=True)
class LogLawFit:
    """``Lu = slope * log10 C + intercept``."""

    slope: float
    intercept: float
    r2: float = float("nan")

    def __call__(self, compute: Any) -> Any:
        return self.slope * np.log10(compute) + self.intercept

    def params(self) -> dict[str, float]:
        return {"slope": self.slope, "intercept": self.intercept}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "log", **{k: _nan_to_none(v) for k, v in dataclasses.asdict(self).items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogLawFit:
        return cls(float(data["slope"]), float(data["intercept"]), _none_to_nan(data.get("r2")))


@dataclass(frozen=True)
class PowerLawFit:
    """``y = 10^coef_log10 * x^exponent``, i.e. ``log10 y = coef_log10 + exponent * log10 x``."""

    coef_log10: float
    exponent: float
    r2: float = float("nan")

    def __call__(self, x: Any) -> Any:
        return 10.0 ** (self.coef_log10 + self.exponent * np.log10(x))

    def params(self) -> dict[str, float]:
        return {"coef_log10": self.coef_log10, "exponent": self.exponent}

    def to_dict(self) -> dict[str, Any]:
        items = dataclasses.asdict(self).items()
        return {"kind": "power", **{k: _nan_to_none(v) for k, v in items}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PowerLawFit:
        return cls(float(data["coef_log10"]), float(data["exponent"]), _none_to_nan(data.get("r2")))


def law_from_dict(data: Mapping[str, Any]) -> LogLawFit | PowerLawFit:
    return LogLawFit.from_dict(data) if data["kind"] == "log" else PowerLawFit.from_dict(data)


def fit_log_law(compute: Any, loss: Any) -> LogLawFit:
    """Least squares of ``Lu`` on ``log10 C``."""
    intercept, slope, r2 = _line(_log10_positive(compute, "compute"), loss)
    return LogLawFit(slope, intercept, r2)


def fit_power_law(x: Any, y: Any) -> PowerLawFit:
    """Least squares of ``log10 y`` on ``log10 x``."""
    a, b, r2 = _line(_log10_positive(x, "x"), _log10_positive(y, "y"))
    return PowerLawFit(a, b, r2)


# --------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def bootstrap_samples(
    fit_fn: Callable[[list[Any]], Any], groups: Sequence[Any], n: int = 1000, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """Refit on ``n`` resamples of ``groups`` drawn with replacement.

    ``groups`` is a sequence of groups (a run's points) or of single points; a group that is a
    list or tuple is spliced into the resample, anything else is one item. ``fit_fn`` takes the
    list of items and returns an object with ``params() -> dict`` (a law fit) or a dict of
    floats. Resamples the fit rejects (``ValueError``, e.g. all x equal) are skipped.

    Returns the parameter names and a ``(kept, n_params)`` array.
    """
    if len(groups) < 2:
        raise ValueError(f"bootstrap needs at least 2 groups, got {len(groups)}")
    rng = np.random.default_rng(seed)
    names: list[str] | None = None
    rows: list[list[float]] = []
    for _ in range(n):
        picks = rng.integers(0, len(groups), size=len(groups))
        items: list[Any] = []
        for i in picks:
            group = groups[i]
            items.extend(group if isinstance(group, (list, tuple)) else [group])
        try:
            result = fit_fn(items)
        except (ValueError, np.linalg.LinAlgError):
            continue
        params = result.params() if hasattr(result, "params") else dict(result)
        names = names or list(params)
        rows.append([float(params[k]) for k in names])
    if not rows or names is None:
        raise ValueError("every bootstrap resample failed to fit")
    return names, np.asarray(rows)


def bootstrap(
    fit_fn: Callable[[list[Any]], Any],
    groups: Sequence[Any],
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals (95% by default) of each fitted parameter."""
    names, samples = bootstrap_samples(fit_fn, groups, n=n, seed=seed)
    tail = 100.0 * (1.0 - level) / 2.0
    low = np.percentile(samples, tail, axis=0)
    high = np.percentile(samples, 100.0 - tail, axis=0)
    return {k: Interval(float(lo), float(hi)) for k, lo, hi in zip(names, low, high, strict=True)}


# --------------------------------------------------------------------------- points and curves


@dataclass(frozen=True)
class OptimalPoint:
    """A compute-optimal point: compute, loss, the run's parameters (paper units) and tokens."""

    flops: float
    loss: float
    non_vocab: float
    vocab: float
    tokens: float
    model: str = ""
    vocab_name: str = ""

    @property
    def run(self) -> tuple[str, str]:
        return self.model, self.vocab_name


@dataclass
class TrainingCurve:
    """One run's curve: cumulative compute and normalised loss, with the run's metadata."""

    flops: Any
    loss: Any
    non_vocab: float
    vocab: float
    model: str = ""
    vocab_name: str = ""

    def __post_init__(self) -> None:
        c = np.asarray(self.flops, dtype=float).ravel()
        lu = np.asarray(self.loss, dtype=float).ravel()
        if c.shape != lu.shape:
            raise ValueError(f"flops and loss differ in length: {c.size} vs {lu.size}")
        ok = np.isfinite(c) & np.isfinite(lu) & (c > 0)
        order = np.argsort(c[ok], kind="stable")
        self.flops, self.loss = c[ok][order], lu[ok][order]


def load_points_csv(path: str | Path) -> list[OptimalPoint]:
    """Read compute-optimal points in the layout of ``scamo_compute_optimal_points.csv``.

    Columns: ``model, vocab, log10_flops, non_vocab_params, vocab_params, data_tokens,
    normalized_loss`` (``data_tokens`` may be absent: it is then ``C / (3 (Nnv + Nv))``).
    """
    points = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            compute = 10.0 ** float(row["log10_flops"])
            nnv, nv = float(row["non_vocab_params"]), float(row["vocab_params"])
            tokens = row.get("data_tokens")
            points.append(
                OptimalPoint(
                    flops=compute,
                    loss=float(row["normalized_loss"]),
                    non_vocab=nnv,
                    vocab=nv,
                    tokens=float(tokens) if tokens else paper_tokens_from_flops(compute, nnv, nv),
                    model=row.get("model", ""),
                    vocab_name=row.get("vocab", ""),
                )
            )
    return points


def _as_curve(curve: TrainingCurve | Mapping[str, Any]) -> TrainingCurve:
    return curve if isinstance(curve, TrainingCurve) else TrainingCurve(**curve)


def compute_optimal_envelope(
    curves: Iterable[TrainingCurve | Mapping[str, Any]],
    n_grid: int = 100,
    collapse: bool = False,
    min_flops: float | None = None,
    max_flops: float | None = None,
) -> list[OptimalPoint]:
    """The lower envelope of training curves on a log-spaced compute grid.

    For each of ``n_grid`` points log-spaced over the observed compute range, the run with the
    lowest loss (linear interpolation in ``log10 C``) among the runs whose curve covers that
    compute wins; its metadata and ``D = C / (3 (Nnv + Nv))`` (= ``C / 6N``) go with the point.
    With ``collapse``, each contiguous stretch won by one run becomes one point, the grid point in
    its middle (one compute-optimal point per run segment, as ScaMo's figures show).
    ``min_flops`` / ``max_flops`` narrow the grid: at the ends of the observed range only the
    early steps of the smallest runs (or the late steps of the largest) compete, and those are
    not compute-optimal.
    """
    runs = [_as_curve(c) for c in curves]
    runs = [r for r in runs if r.flops.size >= 2]
    if not runs:
        raise ValueError("the envelope needs at least one curve with 2 or more points")
    low = min(float(r.flops[0]) for r in runs)
    high = max(float(r.flops[-1]) for r in runs)
    low = max(low, min_flops) if min_flops else low
    high = min(high, max_flops) if max_flops else high
    if high <= low:
        raise ValueError("the curves span no compute range")
    grid = np.linspace(math.log10(low), math.log10(high), n_grid)
    table = np.full((len(runs), n_grid), np.inf)
    for i, run in enumerate(runs):
        log_c = np.log10(run.flops)
        covered = (grid >= log_c[0] - 1e-12) & (grid <= log_c[-1] + 1e-12)
        table[i, covered] = np.interp(grid[covered], log_c, run.loss)
    winner = np.argmin(table, axis=0)
    keep = np.isfinite(table[winner, np.arange(n_grid)])
    indices = np.flatnonzero(keep)
    if collapse:
        chosen = []
        start = 0
        for j in range(1, len(indices) + 1):
            if j == len(indices) or winner[indices[j]] != winner[indices[start]]:
                chosen.append(indices[(start + j - 1) // 2])
                start = j
        indices = np.asarray(chosen, dtype=int)
    points = []
    for g in indices:
        run = runs[winner[g]]
        compute = 10.0 ** grid[g]
        points.append(
            OptimalPoint(
                flops=float(compute),
                loss=float(table[winner[g], g]),
                non_vocab=float(run.non_vocab),
                vocab=float(run.vocab),
                tokens=paper_tokens_from_flops(compute, run.non_vocab, run.vocab),
                model=run.model,
                vocab_name=run.vocab_name,
            )
        )
    return points


def _get(run: Any, key: str, default: Any = None) -> Any:
    if isinstance(run, Mapping):
        return run.get(key, default)
    return getattr(run, key, default)


def isoflop_minima(
    runs_at_budgets: Mapping[float, Sequence[Any]], parabola: bool = False
) -> list[OptimalPoint]:
    """Per compute budget, the run with the lowest final loss.

    ``runs_at_budgets`` maps a budget ``C`` to its runs, each a mapping or object with ``loss``,
    ``non_vocab`` and ``vocab`` (and optionally ``model``, ``vocab_name``). With ``parabola`` and
    at least 3 distinct sizes at a budget, ``Lu`` is fitted as a parabola in ``log10 N``
    (``N = Nnv + Nv``) over the best size and up to two neighbours on each side; when it opens
    upwards its minimum gives the point's loss and size (the
    best run's ``Nnv``/``Nv`` split scaled to that size), else the best run is kept.
    """
    points = []
    for budget in sorted(runs_at_budgets):
        runs = list(runs_at_budgets[budget])
        if not runs:
            continue
        losses = np.asarray([float(_get(r, "loss")) for r in runs])
        best = runs[int(np.argmin(losses))]
        nnv, nv = float(_get(best, "non_vocab")), float(_get(best, "vocab"))
        loss = float(losses.min())
        if parabola:
            log_n = np.log10([float(_get(r, "non_vocab")) + float(_get(r, "vocab")) for r in runs])
            if np.unique(log_n).size >= 3:
                # a local parabola: the best size and its two neighbours on each side (a profile
                # over decades of sizes is not a parabola far from its minimum)
                order = np.argsort(log_n, kind="stable")
                at = int(np.flatnonzero(order == int(np.argmin(losses)))[0])
                near = order[max(0, at - 2) : at + 3]
                if np.unique(log_n[near]).size >= 3:
                    log_n, losses = log_n[near], losses[near]
                a, b, c = np.polyfit(log_n, losses, 2)
                if a > 0:
                    x_opt = float(np.clip(-b / (2 * a), log_n.min(), log_n.max()))
                    scale = 10.0**x_opt / (nnv + nv)
                    nnv, nv = nnv * scale, nv * scale
                    loss = float(a * x_opt**2 + b * x_opt + c)
        points.append(
            OptimalPoint(
                flops=float(budget),
                loss=loss,
                non_vocab=nnv,
                vocab=nv,
                tokens=paper_tokens_from_flops(float(budget), nnv, nv),
                model=str(_get(best, "model", "") or ""),
                vocab_name=str(_get(best, "vocab_name", "") or ""),
            )
        )
    return points


def isoflop_from_curves(
    curves: Iterable[TrainingCurve | Mapping[str, Any]],
    n_budgets: int = 12,
    min_flops: float | None = None,
    max_flops: float | None = None,
) -> list[OptimalPoint]:
    """IsoFLOP minima read off training curves: at ``n_budgets`` log-spaced budgets inside the
    range every curve covers, each run's Lu (interpolated in ``log10 C``) gives one IsoFLOP
    profile, and ``isoflop_minima(parabola=True)`` its minimum in ``log10 N``.

    Unlike the envelope, which can only name a run of the grid, the parabola places the optimal
    size between the grid's shapes, so the size laws can be fitted even where one shape wins the
    whole range. Each point is its own bootstrap group (named by its budget).
    """
    runs = [_as_curve(c) for c in curves]
    runs = [r for r in runs if r.flops.size >= 2]
    if len(runs) < 3:
        raise ValueError("IsoFLOP profiles need at least 3 runs of different sizes")
    low = max(float(r.flops[0]) for r in runs)
    high = min(float(r.flops[-1]) for r in runs)
    low = max(low, min_flops) if min_flops else low
    high = min(high, max_flops) if max_flops else high
    if high <= low:
        raise ValueError("the runs share no compute range (each must reach every budget)")
    points = []
    for log_c in np.linspace(math.log10(low), math.log10(high), n_budgets):
        profile = [
            {
                "loss": float(np.interp(log_c, np.log10(r.flops), r.loss)),
                "non_vocab": r.non_vocab,
                "vocab": r.vocab,
                "vocab_name": r.vocab_name,
            }
            for r in runs
        ]
        (point,) = isoflop_minima({10.0**log_c: profile}, parabola=True)
        points.append(dataclasses.replace(point, model=f"C={10.0**log_c:.3g}"))
    return points


# --------------------------------------------------------------------------- all laws


def _fit_law(kind: str, x: np.ndarray, y: np.ndarray) -> LogLawFit | PowerLawFit:
    return fit_log_law(x, y) if kind == "log" else fit_power_law(x, y)


@dataclass
class LawResult:
    """One fitted law with its bootstrap intervals and parameter covariance.

    ``cov`` is the bootstrap covariance of (intercept-like, slope-like) parameters, i.e. of
    ``(intercept, slope)`` for the log law and ``(coef_log10, exponent)`` for a power law; it
    gives the band of the fitted line in ``plots`` and the loss interval in ``predict``.
    """

    fit: LogLawFit | PowerLawFit
    intervals: dict[str, Interval] = field(default_factory=dict)
    cov: list[list[float]] | None = None
    resid_std: float = float("nan")

    def line_std(self, x: Any) -> Any:
        """Bootstrap std of the fitted line (in its fitted space) at ``x``."""
        if self.cov is None:
            return np.zeros_like(np.asarray(x, dtype=float))
        u = np.log10(x)
        (caa, cab), (_, cbb) = self.cov
        return np.sqrt(np.maximum(caa + 2 * cab * u + cbb * u * u, 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "fit": self.fit.to_dict(),
            "intervals": {k: [v.low, v.high] for k, v in self.intervals.items()},
            "cov": self.cov,
            "resid_std": _nan_to_none(self.resid_std),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LawResult:
        return cls(
            fit=law_from_dict(data["fit"]),
            intervals={k: Interval(*v) for k, v in data.get("intervals", {}).items()},
            cov=data.get("cov"),
            resid_std=_none_to_nan(data.get("resid_std")),
        )


@dataclass
class ScalingFit:
    """The five laws of ``fit_all``: ``loss`` (Lu~C), ``non_vocab`` (Nnv~C), ``vocab`` (Nv~C),
    ``tokens`` (D~C) and ``vocab_vs_non_vocab`` (Nv~Nnv)."""

    laws: dict[str, LawResult]
    n_points: int = 0
    n_boot: int = 0

    def __getitem__(self, name: str) -> LawResult:
        return self.laws[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "laws": {k: v.to_dict() for k, v in self.laws.items()},
            "n_points": self.n_points,
            "n_boot": self.n_boot,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalingFit:
        laws = {k: LawResult.from_dict(v) for k, v in data["laws"].items()}
        return cls(
            laws=laws, n_points=int(data.get("n_points", 0)), n_boot=int(data.get("n_boot", 0))
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ScalingFit:
        return cls.from_dict(json.loads(text))

    def summary(self) -> str:
        lines = []
        for name, law in self.laws.items():
            params = ", ".join(
                f"{k}={v:.4g} [{law.intervals[k].low:.4g}, {law.intervals[k].high:.4g}]"
                if k in law.intervals
                else f"{k}={v:.4g}"
                for k, v in law.fit.params().items()
            )
            lines.append(f"{name}: {params}, r2={law.fit.r2:.3f}")
        return "\n".join(lines)


def _field(points: Sequence[OptimalPoint], name: str) -> np.ndarray:
    return np.asarray([getattr(p, name) for p in points], dtype=float)


def fit_all(
    points: Sequence[OptimalPoint], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> ScalingFit:
    """Fit the five laws on compute-optimal ``points``, with bootstrap intervals over runs.

    Points of the same run (same ``model`` and ``vocab_name``, e.g. several envelope points of
    one run) are resampled together; ``n_boot=0`` skips the bootstrap.
    """
    points = list(points)
    if len(points) < 2:
        raise ValueError(f"fit_all needs at least 2 points, got {len(points)}")
    by_run: dict[tuple[str, str], list[OptimalPoint]] = {}
    for i, p in enumerate(points):
        key = p.run if p.run != ("", "") else (f"#{i}", "")
        by_run.setdefault(key, []).append(p)
    groups = list(by_run.values())
    laws = {}
    for name, (xf, yf, kind) in LAWS.items():
        x, y = _field(points, xf), _field(points, yf)
        law = _fit_law(kind, x, y)
        pred = law(x)
        resid = y - pred if kind == "log" else np.log10(y) - np.log10(pred)
        result = LawResult(law, resid_std=float(np.std(resid, ddof=min(2, len(x) - 1))))
        if n_boot and len(groups) >= 2:

            def refit(items: list[OptimalPoint], xf=xf, yf=yf, kind=kind) -> Any:
                return _fit_law(kind, _field(items, xf), _field(items, yf))

            names, samples = bootstrap_samples(refit, groups, n=n_boot, seed=seed)
            tail = 100.0 * (1.0 - level) / 2.0
            lo = np.percentile(samples, tail, axis=0)
            hi = np.percentile(samples, 100.0 - tail, axis=0)
            result.intervals = {
                k: Interval(float(a), float(b)) for k, a, b in zip(names, lo, hi, strict=True)
            }
            order = [1, 0] if kind == "log" else [0, 1]  # (intercept-like, slope-like)
            cov = np.atleast_2d(np.cov(samples[:, order], rowvar=False))
            result.cov = cov.tolist()
        laws[name] = result
    return ScalingFit(laws=laws, n_points=len(points), n_boot=n_boot)


def paper_fit() -> ScalingFit:
    """ScaMo's published constants (Eqs 10-14) as a ``ScalingFit`` (no intervals)."""
    return ScalingFit(
        laws={
            "loss": LawResult(LogLawFit(-1.062, 13.839)),
            "non_vocab": LawResult(PowerLawFit(-0.52, 0.57)),
            "vocab": LawResult(PowerLawFit(-5.29, 0.75)),
            "tokens": LawResult(PowerLawFit(-0.05, 0.43)),
            "vocab_vs_non_vocab": LawResult(PowerLawFit(-5.604, 1.467, 0.95)),
        }
    )
