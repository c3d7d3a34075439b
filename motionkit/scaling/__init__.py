"""Scaling-law fitting (numpy/scipy only, torch-free): accounting in ScaMo's paper units,
log-space least-squares laws with bootstrap intervals, compute-optimal envelopes, predictions
of the compute-optimal run at a budget, and paper-style plots (``motionkit.scaling.plots``,
matplotlib imported lazily)."""

from __future__ import annotations

from motionkit.scaling.accounting import (
    PAPER_N_CTX,
    flops,
    paper_flops,
    paper_params,
    paper_tokens_from_flops,
    tokens_from_flops,
)
from motionkit.scaling.fit import (
    LAWS,
    Interval,
    LawResult,
    LogLawFit,
    OptimalPoint,
    PowerLawFit,
    ScalingFit,
    TrainingCurve,
    bootstrap,
    bootstrap_samples,
    compute_optimal_envelope,
    fit_all,
    fit_log_law,
    fit_power_law,
    isoflop_minima,
    load_points_csv,
    paper_fit,
)
from motionkit.scaling.predict import FSQ_PRESET_SIZES, nearest_model, nearest_vocab, predict

__all__ = [
    "FSQ_PRESET_SIZES",
    "LAWS",
    "PAPER_N_CTX",
    "Interval",
    "LawResult",
    "LogLawFit",
    "OptimalPoint",
    "PowerLawFit",
    "ScalingFit",
    "TrainingCurve",
    "bootstrap",
    "bootstrap_samples",
    "compute_optimal_envelope",
    "fit_all",
    "fit_log_law",
    "fit_power_law",
    "flops",
    "isoflop_minima",
    "load_points_csv",
    "nearest_model",
    "nearest_vocab",
    "paper_fit",
    "paper_flops",
    "paper_params",
    "paper_tokens_from_flops",
    "predict",
    "tokens_from_flops",
]
