"""Smooth scalar curves over frames: ramps, periodic bumps, windows and keyframe splines.

Every function is vectorised over frames (numpy arrays in, arrays out); times are in frames or
in gait-cycle phase, angles in whatever unit the caller uses (the actions use degrees).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def smoothstep(x: np.ndarray | float) -> np.ndarray:
    """``3x^2 - 2x^3`` of ``x`` clipped to [0, 1]: 0 -> 0, 1 -> 1, flat at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def envelope(n: int, ramp_in: float, ramp_out: float | None = None) -> np.ndarray:
    """``(n,)`` weights rising 0 -> 1 over ``ramp_in`` frames and falling back over ``ramp_out``."""
    ramp_out = ramp_in if ramp_out is None else ramp_out
    t = np.arange(n, dtype=np.float64)
    rise = smoothstep(t / max(ramp_in, 1.0))
    fall = smoothstep((n - 1 - t) / max(ramp_out, 1.0))
    return rise * fall


def wrap(phase: np.ndarray) -> np.ndarray:
    """Phase differences wrapped to [-0.5, 0.5) cycles."""
    return (phase + 0.5) % 1.0 - 0.5


def bump(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Periodic Gaussian bump of height 1 at ``centre`` (cycles); ``width`` is its sigma."""
    d = wrap(phase - centre)
    return np.exp(-0.5 * (d / width) ** 2)


def window(phase: np.ndarray, start: float, end: float, edge: float) -> np.ndarray:
    """Periodic window: 1 on [start, end) cycles, 0 elsewhere, with smooth edges of ``edge``."""
    half = ((end - start) % 1.0) / 2
    distance = np.abs(wrap(phase - start - half))  # from the window's centre, in cycles
    return smoothstep((half - distance) / edge + 0.5)


def keyframes(n: int, times: Sequence[float], values: np.ndarray) -> np.ndarray:
    """Monotone cubic (PCHIP) interpolation of keys ``values (K, C)`` at ``times`` (frames).

    Returns ``(n, C)``. The curve is flat at the first and last key and held constant outside
    them; between keys it never overshoots (Fritsch-Carlson tangents), so a flexion keyed from
    0 to 90 degrees stays within [0, 90].
    """
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64).reshape(len(t), -1)
    h = np.diff(t)
    if np.any(h <= 0):
        raise ValueError(f"key times must increase, got {list(times)}")
    delta = np.diff(v, axis=0) / h[:, None]
    slope = np.zeros_like(v)
    if len(t) > 2:
        d0, d1 = delta[:-1], delta[1:]
        h0, h1 = h[:-1, None], h[1:, None]
        w1, w2 = 2 * h1 + h0, h1 + 2 * h0
        same = d0 * d1 > 0
        safe0 = np.where(same, d0, 1.0)
        safe1 = np.where(same, d1, 1.0)
        slope[1:-1] = np.where(same, (w1 + w2) / (w1 / safe0 + w2 / safe1), 0.0)
    frames = np.clip(np.arange(n, dtype=np.float64), t[0], t[-1])
    k = np.clip(np.searchsorted(t, frames, side="right") - 1, 0, len(t) - 2)
    hk = h[k][:, None]
    s = ((frames - t[k]) / h[k])[:, None]
    s2, s3 = s * s, s * s * s
    return (
        (2 * s3 - 3 * s2 + 1) * v[k]
        + (s3 - 2 * s2 + s) * hk * slope[k]
        + (-2 * s3 + 3 * s2) * v[k + 1]
        + (s3 - s2) * hk * slope[k + 1]
    )


def smooth_noise(rng: np.random.Generator, n: int, channels: int, period: float) -> np.ndarray:
    """``(n, channels)`` smooth random wiggles of unit order, slower than ``period`` frames.

    A sum of three random sinusoids per channel with periods between ``period`` and
    ``3 * period`` frames and random phases; amplitudes are normalised to a peak near 1.
    """
    t = np.arange(n, dtype=np.float64)[:, None, None]
    periods = period * rng.uniform(1.0, 3.0, size=(1, channels, 3))
    phases = rng.uniform(0.0, 2 * np.pi, size=(1, channels, 3))
    weights = rng.uniform(0.3, 1.0, size=(1, channels, 3))
    waves = (weights * np.sin(2 * np.pi * t / periods + phases)).sum(-1)
    return waves / weights.sum(-1)
