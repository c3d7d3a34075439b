"""Paper-style figures of a ``ScalingFit`` (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motionkit.io import atomic_write_bytes
from motionkit.scaling.fit import LAWS, OptimalPoint, ScalingFit, TrainingCurve

_TITLES = {
    "loss": "Lu vs C (Eq 14)",
    "non_vocab": "Nnv vs C (Eq 12)",
    "vocab": "Nv vs C (Eq 11)",
    "tokens": "D vs C (Eq 13)",
    "vocab_vs_non_vocab": "Nv vs Nnv (Eq 10)",
}


def _vocab_key(name: str) -> float:
    try:
        base, exp = name.split("^")
        return float(base) ** float(exp)
    except ValueError:
        return float("inf")


def plot_fit(
    fit: ScalingFit,
    points: Sequence[OptimalPoint],
    out_png: str | os.PathLike[str],
    curves: Sequence[TrainingCurve] | None = None,
    z: float = 1.96,
) -> Path:
    """Write a 2x3 figure: loss vs FLOPs coloured by vocabulary (raw ``curves`` if given, the
    compute-optimal ``points`` and the fitted line), then each fitted law with its ``z``-sigma
    bootstrap band. Written atomically to ``out_png``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = list(points)
    vocabs = sorted(
        {p.vocab_name for p in points} | {c.vocab_name for c in curves or []}, key=_vocab_key
    )
    cmap = plt.get_cmap("viridis")
    colour = {v: cmap(i / max(1, len(vocabs) - 1)) for i, v in enumerate(vocabs)}
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    for ax, name in zip(axes.ravel(), LAWS, strict=False):
        xf, yf, kind = LAWS[name]
        x = np.asarray([getattr(p, xf) for p in points], dtype=float)
        y = np.asarray([getattr(p, yf) for p in points], dtype=float)
        if name == "loss" and curves:
            for c in curves:
                ax.plot(c.flops, c.loss, color=colour[c.vocab_name], alpha=0.35, lw=0.8)
        for v in vocabs:
            sel = [p.vocab_name == v for p in points]
            if any(sel):
                ax.scatter(x[sel], y[sel], color=colour[v], s=18, label=v or None, zorder=3)
        law = fit.laws.get(name)
        if law is not None and x.size:
            grid = np.logspace(np.log10(x.min()), np.log10(x.max()), 100)
            line = np.asarray(law.fit(grid), dtype=float)
            band = z * np.asarray(law.line_std(grid), dtype=float)
            if kind == "log":
                low, high = line - band, line + band
            else:
                low, high = line / 10.0**band, line * 10.0**band
            params = ", ".join(f"{k}={v:.3g}" for k, v in law.fit.params().items())
            ax.plot(grid, line, "k--", lw=1.2, label=f"{params}, R²={law.fit.r2:.2f}")
            ax.fill_between(grid, low, high, color="grey", alpha=0.25, lw=0)
        ax.set_xscale("log")
        if kind == "power":
            ax.set_yscale("log")
        ax.set_xlabel("Nnv" if xf == "non_vocab" else "FLOPs C")
        ax.set_ylabel(yf)
        ax.set_title(_TITLES[name])
        ax.legend(fontsize=7)
    axes.ravel()[-1].axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return atomic_write_bytes(out_png, buffer.getvalue())
