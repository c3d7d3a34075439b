"""Skeleton definitions of the HumanML3D (SMPL, 22 joints) and KIT-ML (21 joints) feature formats.

Facts from the HumanML3D extraction (Guo et al., "Generating Diverse and Natural 3D Human Motions
from Text", CVPR 2022): joint order, parents and kinematic chains, the unit "raw offset"
directions of its naive IK, the face joints ``(r_hip, l_hip, r_shoulder, l_shoulder)``, the foot
joints of the contact labels, frame rate and contact threshold.

Units: positions and offsets in metres (HumanML3D), y up. A joint's offset is the rest vector from
its parent to it: ``raw direction * bone length``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from motionkit.errors import MotionkitError

__all__ = ["KIT21", "SMPL22", "InvalidMotionError", "Skeleton", "validate_joints"]


class InvalidMotionError(MotionkitError, ValueError):
    """A motion array has the wrong shape, dtype or non-finite values."""


@dataclass(frozen=True)
class Skeleton:
    """A joint hierarchy with the constants of one motion-feature format.

    Attributes:
        name: short identifier, e.g. ``"smpl22"``.
        joint_names: one name per joint, ``J`` names.
        parents: parent index per joint, ``-1`` for the root (joint 0).
        chains: kinematic chains (root-to-leaf joint lists) walked by the published IK/FK; a chain
            starts at the root or at a joint of an earlier chain.
        raw_directions: unit rest direction (x, y, z) of each joint's bone, ``(0, 0, 0)`` for root.
        bone_lengths_m: rest length in metres of the bone from each joint's parent (0 for root).
        face_joints: ``(r_hip, l_hip, r_shoulder, l_shoulder)`` used for the facing direction.
        feet_left, feet_right: joints of the left / right foot-contact features (in this order).
        leg_joints: two joints whose bone lengths sum to the leg length of the uniform-skeleton
            scaling (``l_idx1, l_idx2`` of the published code).
        fps: frame rate of the format in frames per second.
        contact_threshold: a foot joint is in contact when its squared frame-to-frame
            displacement is below this (units of position squared per frame).
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    chains: tuple[tuple[int, ...], ...]
    raw_directions: tuple[tuple[float, float, float], ...]
    bone_lengths_m: tuple[float, ...]
    face_joints: tuple[int, int, int, int]
    feet_left: tuple[int, ...]
    feet_right: tuple[int, ...]
    leg_joints: tuple[int, int]
    fps: float
    contact_threshold: float

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        sizes = {len(self.parents), len(self.raw_directions), len(self.bone_lengths_m)}
        if sizes != {n}:
            raise ValueError(f"skeleton {self.name!r}: per-joint tuples must all have {n} entries")
        if self.parents[0] != -1 or any(not 0 <= p < n for p in self.parents[1:]):
            raise ValueError(f"skeleton {self.name!r}: joint 0 must be the only root (parent -1)")
        for chain in self.chains:
            for a, b in itertools.pairwise(chain):
                if self.parents[b] != a:
                    raise ValueError(f"skeleton {self.name!r}: chain {chain} breaks at joint {b}")

    @property
    def num_joints(self) -> int:
        """Number of joints ``J``."""
        return len(self.joint_names)

    @property
    def feature_dim(self) -> int:
        """Width of the feature vector: ``4 + (J-1)*3 + (J-1)*6 + J*3 + feet`` (263 for SMPL22)."""
        j = self.num_joints
        return 4 + (j - 1) * 9 + j * 3 + len(self.feet_left) + len(self.feet_right)

    @cached_property
    def raw_offsets(self) -> np.ndarray:
        """Unit rest directions ``(J, 3)`` float64 (read-only)."""
        return _readonly(np.array(self.raw_directions, dtype=np.float64))

    @cached_property
    def offsets(self) -> np.ndarray:
        """Reference rest offsets ``(J, 3)`` in metres: raw direction * bone length (read-only)."""
        lengths = np.array(self.bone_lengths_m, dtype=np.float64)
        return _readonly(self.raw_offsets * lengths[:, None])

    def bone_lengths(self, joints: np.ndarray | None = None) -> np.ndarray:
        """Bone lengths: the reference ``(J,)`` in metres, or measured on ``joints (..., J, 3)``.

        Entry ``j`` is the distance from joint ``j`` to its parent (0 for the root).
        """
        if joints is None:
            return np.array(self.bone_lengths_m, dtype=np.float64)
        joints = np.asarray(joints)
        parents = np.array(self.parents)
        parents[0] = 0
        return np.linalg.norm(joints - joints[..., parents, :], axis=-1)

    def validate_joints(self, joints: np.ndarray, min_frames: int = 1) -> np.ndarray:
        """See ``validate_joints``."""
        return validate_joints(joints, self, min_frames)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def validate_joints(joints: np.ndarray, skeleton: Skeleton, min_frames: int = 1) -> np.ndarray:
    """Check a joints array ``(..., T, J, 3)`` of finite positions; return it as a float array.

    float32 and float64 are kept, other numeric dtypes become float64. Raises
    ``InvalidMotionError`` (a ``ValueError``) naming the expected shape.
    """
    arr = np.asarray(joints)
    j = skeleton.num_joints
    expected = f"(T, {j}, 3) or (B, T, {j}, 3) for skeleton {skeleton.name!r}"
    if arr.ndim < 3 or arr.shape[-2:] != (j, 3):
        raise InvalidMotionError(f"joints must have shape {expected}, got {arr.shape}")
    if arr.shape[-3] < min_frames:
        raise InvalidMotionError(
            f"joints need at least {min_frames} frames on axis -3, got shape {arr.shape}"
        )
    return finite_float_array(arr, "joints", "fill or drop those frames first")


def finite_float_array(arr: np.ndarray, what: str, fix: str) -> np.ndarray:
    """``arr`` as float32/float64 (other real dtypes become float64); errors on NaN/inf."""
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidMotionError(f"{what} must be a real numeric array, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InvalidMotionError(
            f"{what} contain {np.size(arr) - np.isfinite(arr).sum()} NaN/inf values: {fix}"
        )
    return arr


# fmt: off
_O, _X, _NX = (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)
_Y, _NY, _Z = (0.0, 1.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0)

#: HumanML3D: the first 22 SMPL joints, 20 fps, 263-d features. Bone lengths are those of the
#: shipped HumanML3D reference skeleton (measured once on the official ``new_joints``; identical in
#: every processed clip to about 1e-6 m).
SMPL22 = Skeleton(
    name="smpl22",
    joint_names=(
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
        "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
        "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist",
    ),
    parents=(-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19),
    chains=((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21),
            (9, 13, 16, 18, 20)),
    raw_directions=(_O, _X, _NX, _Y, _NY, _NY, _Y, _NY, _NY, _Y, _Z, _Z, _Y, _X, _NX, _Z,
                    _NY, _NY, _NY, _NY, _NY, _NY),
    bone_lengths_m=(
        0.0, 0.103074, 0.1098834, 0.1315682, 0.3936232, 0.3901882, 0.1431902, 0.432433,
        0.4256434, 0.0573647, 0.1433818, 0.1494191, 0.2193601, 0.1374868, 0.1433828, 0.1030392,
        0.131614, 0.1229844, 0.2568399, 0.2630919, 0.2660118, 0.2698765,
    ),
    face_joints=(2, 1, 17, 16),
    feet_left=(7, 10),
    feet_right=(8, 11),
    leg_joints=(5, 8),
    fps=20.0,
    contact_threshold=0.002,
)

#: KIT-ML: 21 joints (KIT/MMM order: root, BP, BT, BLN, BUN, LS, LE, LW, RS, RE, RW, LH, LK, LA,
#: LMrot, LF, RH, RK, RA, RMrot, RF), 12.5 fps, 251-d features. Chains, raw directions, face joints,
#: contact joints, leg joints and threshold are the published KIT-ML ones; ``feet_left`` is the
#: published ``fid_l = [19, 20]`` (joints named R* in the MMM order). The bone lengths are NOT the
#: published KIT reference skeleton (not available here): they are plausible lengths in metres for
#: a 1.75 m adult. The published KIT-ML data are in millimetres, where the threshold 0.05 was
#: chosen; in metres it marks almost every frame as a contact.
KIT21 = Skeleton(
    name="kit21",
    joint_names=(
        "root", "back_pelvis", "back_torso", "lower_neck", "upper_neck", "left_shoulder",
        "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist", "left_hip",
        "left_knee", "left_ankle", "left_metatarsal", "left_toe", "right_hip", "right_knee",
        "right_ankle", "right_metatarsal", "right_toe",
    ),
    parents=(-1, 0, 1, 2, 3, 3, 5, 6, 3, 8, 9, 0, 11, 12, 13, 14, 0, 16, 17, 18, 19),
    chains=((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7),
            (3, 8, 9, 10)),
    raw_directions=(_O, _Y, _Y, _Y, _Y, _X, _NY, _NY, _NX, _NY, _NY, _X, _NY, _NY, _NY, _Z,
                    _NX, _NY, _NY, _NY, _Z),
    bone_lengths_m=(
        0.0, 0.10, 0.20, 0.22, 0.12, 0.20, 0.30, 0.26, 0.20, 0.30, 0.26, 0.09, 0.44, 0.42,
        0.06, 0.12, 0.09, 0.44, 0.42, 0.06, 0.12,
    ),
    face_joints=(11, 16, 5, 8),
    feet_left=(19, 20),
    feet_right=(14, 15),
    leg_joints=(17, 18),
    fps=12.5,
    contact_threshold=0.05,
)
# fmt: on


def skeleton_for_feature_dim(dim: int) -> Skeleton:
    """The built-in skeleton whose features are ``dim`` wide (263: SMPL22, 251: KIT21)."""
    for skeleton in (SMPL22, KIT21):
        if skeleton.feature_dim == dim:
            return skeleton
    raise InvalidMotionError(
        f"no built-in skeleton has {dim}-d features (SMPL22: {SMPL22.feature_dim}, "
        f"KIT21: {KIT21.feature_dim}); pass the skeleton explicitly"
    )
