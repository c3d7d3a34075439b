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
from motionkit.motion.features import feature_slices
from motionkit.motion.skeleton import skeleton_for_feature_dim

#: Standard deviations below this are raised to it, so normalising never divides by ~0.
MIN_STD = 1e-6


def feature_stats(clips: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and group-averaged std over all frames of ``clips`` (each ``(T, D)``), float32."""
    frames = np.concatenate([np.asarray(c, dtype=np.float64) for c in clips], axis=0)
    if frames.ndim != 2 or not np.isfinite(frames).all():
        raise MotionkitError("statistics need finite (T, D) feature arrays")
    mean = frames.mean(axis=0)
    std = frames.std(axis=0)
    for group in feature_slices(skeleton_for_feature_dim(frames.shape[1])).values():
        std[group] = std[group].mean()
    return mean.astype(np.float32), np.maximum(std, MIN_STD).astype(np.float32)
