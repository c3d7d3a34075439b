"""Normalisation statistics of motion features (HumanML3D convention).

``Mean`` is the per-dimension mean over every frame of the training clips. ``Std`` is the
per-dimension standard deviation, then averaged within each feature group (root rotation
velocity, root linear velocity, root height, root-relative positions, rotations, local
velocities, foot contacts) so that one group shares one scale (HumanML3D, Guo et al. 2022).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from motionkit.errors import MotionkitError

#: Standard deviations below this are raised to it, so normalising never divides by ~0.
MIN_STD = 1e-6


def joints_for_dim(dim: int) -> int:
    """Joint count of a feature width: ``D = 12 J - 1`` (263 -> 22, 251 -> 21)."""
    if dim < 23 or (dim + 1) % 12:
        raise MotionkitError(
            f"feature width {dim} is not a HumanML3D-style width 12*J-1 (263 or 251)"
        )
    return (dim + 1) // 12


def feature_groups(dim: int) -> dict[str, slice]:
    """Slices of the feature groups for a feature width (263: the 22-joint layout)."""
    j = joints_for_dim(dim)
    bounds = [
        ("root_rot_vel", 1),
        ("root_lin_vel", 2),
        ("root_y", 1),
        ("ric", (j - 1) * 3),
        ("rot", (j - 1) * 6),
        ("local_vel", j * 3),
        ("foot_contact", 4),
    ]
    groups, start = {}, 0
    for name, size in bounds:
        groups[name] = slice(start, start + size)
        start += size
    return groups


def feature_stats(clips: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and group-averaged std over all frames of ``clips`` (each ``(T, D)``), float32."""
    frames = np.concatenate([np.asarray(c, dtype=np.float64) for c in clips], axis=0)
    if frames.ndim != 2 or not np.isfinite(frames).all():
        raise MotionkitError("statistics need finite (T, D) feature arrays")
    mean = frames.mean(axis=0)
    std = frames.std(axis=0)
    for group in feature_groups(frames.shape[1]).values():
        std[group] = std[group].mean()
    return mean.astype(np.float32), np.maximum(std, MIN_STD).astype(np.float32)
