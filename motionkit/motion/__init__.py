"""Skeletons, kinematics and the HumanML3D / KIT-ML motion features (numpy only, no torch).

Formats: HumanML3D 263-d and KIT-ML 251-d features (Guo et al., CVPR 2022); quaternions are
``(w, x, y, z)``; positions in metres, y up.
"""

from motionkit.motion.features import (
    FEATURE_GROUPS,
    extract_features,
    extract_features_many,
    feature_slices,
    recover_from_ric,
    recover_from_rot,
    recover_root,
    validate_features,
)
from motionkit.motion.kinematics import (
    facing_forward,
    forward_kinematics,
    forward_kinematics_chains,
    inverse_kinematics,
    inverse_kinematics_chains,
)
from motionkit.motion.skeleton import KIT21, SMPL22, InvalidMotionError, Skeleton, validate_joints

__all__ = [
    "FEATURE_GROUPS",
    "KIT21",
    "SMPL22",
    "InvalidMotionError",
    "Skeleton",
    "extract_features",
    "extract_features_many",
    "facing_forward",
    "feature_slices",
    "forward_kinematics",
    "forward_kinematics_chains",
    "inverse_kinematics",
    "inverse_kinematics_chains",
    "recover_from_ric",
    "recover_from_rot",
    "recover_root",
    "validate_features",
    "validate_joints",
]
