"""HumanML3D / KIT-ML motion features: extraction from joint positions and recovery.

Implements the redundant pose representation of HumanML3D (Guo et al., "Generating Diverse and
Natural 3D Human Motions from Text", CVPR 2022), step by step as its published
``motion_representation`` code computes it. For ``J`` joints a clip of ``T`` poses gives ``T-1``
feature frames of ``4 + (J-1)*3 + (J-1)*6 + J*3 + feet`` values (263 for SMPL22, 251 for KIT21),
in the order of ``feature_slices``:

=============== ========= =====================================================================
group           width     content (frame t of T-1)
=============== ========= =====================================================================
root_rot_vel    1         arcsin(y) of ``r_rot[t+1] * inverse(r_rot[t])``: half the yaw step, rad
root_lin_vel    2         x, z of ``r_rot[t+1]`` applied to ``root[t+1] - root[t]``, m/frame
root_y          1         root height, m
ric             (J-1)*3   joints 1.. minus the root's XZ, rotated by ``r_rot[t]``, m
rot             (J-1)*6   continuous 6D of the IK rotations of joints 1.. (chain convention)
local_vel       J*3       ``r_rot[t]`` applied to ``p[t+1] - p[t]`` for all joints, m/frame
foot_contact    feet      1.0 where the squared displacement of a foot joint < threshold
=============== ========= =====================================================================

``r_rot`` is the root (facing) rotation from the IK: it maps the smoothed facing direction to +Z.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from motionkit.io import usable_cpus
from motionkit.motion import quaternion as quat
from motionkit.motion.kinematics import (
    facing_forward,
    forward_kinematics_chains,
    inverse_kinematics_chains,
    relay_bone_lengths,
)
from motionkit.motion.skeleton import (
    KIT21,
    SMPL22,
    InvalidMotionError,
    Skeleton,
    finite_float_array,
    validate_joints,
)

__all__ = [
    "FEATURE_GROUPS",
    "FORWARD_SMOOTHING_SIGMA",
    "extract_features",
    "feature_slices",
    "recover_from_ric",
    "recover_from_rot",
    "recover_root",
    "validate_features",
]

#: Names of the feature groups, in their order along the last axis.
FEATURE_GROUPS = (
    "root_rot_vel",
    "root_lin_vel",
    "root_y",
    "ric",
    "rot",
    "local_vel",
    "foot_contact",
)
#: Gaussian sigma (frames) smoothing the IK's facing direction, as published.
FORWARD_SMOOTHING_SIGMA = 20.0

_KNOWN = (SMPL22, KIT21)


def feature_slices(skeleton: Skeleton = SMPL22) -> dict[str, slice]:
    """Slice of each feature group (``FEATURE_GROUPS`` order) along the feature axis."""
    j = skeleton.num_joints
    widths = (
        1,
        2,
        1,
        (j - 1) * 3,
        (j - 1) * 6,
        j * 3,
        len(skeleton.feet_left + skeleton.feet_right),
    )
    slices, start = {}, 0
    for name, width in zip(FEATURE_GROUPS, widths, strict=True):
        slices[name] = slice(start, start + width)
        start += width
    return slices


def validate_features(features: np.ndarray, skeleton: Skeleton = SMPL22) -> np.ndarray:
    """Check features ``(..., T, D)`` for ``skeleton``; return them as float32/float64."""
    arr = np.asarray(features)
    d = skeleton.feature_dim
    if arr.ndim < 2 or arr.shape[-1] != d or arr.shape[-2] < 1:
        hint = next(
            (
                f" (that is the width of {s.name!r}: pass skeleton={s.name.upper()})"
                for s in _KNOWN
                if arr.ndim >= 2 and s is not skeleton and arr.shape[-1] == s.feature_dim
            ),
            "",
        )
        raise InvalidMotionError(
            f"features must have shape (T, {d}) or (B, T, {d}) for skeleton {skeleton.name!r}, "
            f"got {arr.shape}{hint}"
        )
    return finite_float_array(
        arr,
        "features",
        "check the normalisation statistics (a zero std?) or the generator's output",
    )


def _uniform_skeleton(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Rescale to the reference skeleton: root * leg ratio, bones re-laid by IK then FK."""
    raw = skeleton.raw_offsets.astype(positions.dtype)
    src = raw * skeleton.bone_lengths(positions[..., 0, :, :])[..., None]  # (..., J, 3)
    a, b = skeleton.leg_joints
    tgt = skeleton.offsets
    tgt_leg = np.abs(tgt[a]).max() + np.abs(tgt[b]).max()
    src_leg = np.abs(src[..., a, :]).max(-1) + np.abs(src[..., b, :]).max(-1)
    if np.any(src_leg <= 0):
        raise InvalidMotionError(
            f"joints {a} and {b} coincide with their parents in frame 0, so the leg length used "
            "for scaling is 0: pass real poses"
        )
    scale = (tgt_leg / src_leg).astype(positions.dtype)
    root = positions[..., 0, :] * scale[..., None, None]
    return relay_bone_lengths(positions, skeleton, skeleton.bone_lengths(), root)


def extract_features(
    joints: np.ndarray,
    skeleton: Skeleton = SMPL22,
    published_float32: bool = True,
    fix_yaw_wrap: bool = False,
) -> np.ndarray:
    """HumanML3D features ``(..., T-1, D)`` of joint positions ``(..., T, J, 3)``.

    ``joints`` are positions in metres, y up, at ``skeleton.fps``, in any placement and scale
    (they are rescaled to the reference skeleton). Steps, as published: uniform skeleton
    (leg-length ratio); floor at min y; frame 0's root XZ at the origin; rotate so that frame 0
    faces +Z; foot contacts; IK with the Gaussian-smoothed facing (sigma 20 frames); root and
    joint features. ``published_float32=True`` computes in float32 like the published code (its
    quaternion helpers cast to float32, so the shipped float64 features carry float32 rounding);
    ``False`` computes in the input dtype. The output has the input's dtype (float32 or float64;
    other numeric input gives float64). Each clip of a batch is processed independently.

    As published, ``root_rot_vel`` has the wrong sign on a frame where the facing crosses 180
    degrees from frame 0's (the yaw step's quaternion then has ``w < 0``; HumanML3D clip 000612
    has one); ``fix_yaw_wrap=True`` takes the step's shortest arc instead.
    """
    joints = validate_joints(joints, skeleton, min_frames=2)
    out_dtype = joints.dtype
    pos = joints.astype(np.float32 if published_float32 else out_dtype)
    dtype = pos.dtype

    pos = _uniform_skeleton(pos, skeleton)
    pos[..., 1] -= pos[..., 1].min(axis=(-2, -1), keepdims=True)
    pos = pos - pos[..., :1, :1, :] * np.array([1, 0, 1], dtype=dtype)
    forward0 = facing_forward(pos[..., 0, :, :], skeleton, hip_sign=1.0)
    face = quat.rotation_between(forward0, np.array([0, 0, 1], dtype=dtype))
    pos = quat.rotate(face[..., None, None, :], pos)  # global positions

    step = quat._sum_last(np.square(pos[..., 1:, :, :] - pos[..., :-1, :, :]))  # (..., T-1, J)
    feet = list(skeleton.feet_left + skeleton.feet_right)
    contacts = (step[..., feet] < skeleton.contact_threshold).astype(dtype)

    quats = inverse_kinematics_chains(pos, skeleton, smooth_sigma=FORWARD_SMOOTHING_SIGMA)
    r_rot = quats[..., 0, :]  # (..., T, 4)
    root = pos[..., 0, :]
    root_vel = quat.rotate(r_rot[..., 1:, :], root[..., 1:, :] - root[..., :-1, :])
    yaw_step = quat.multiply(r_rot[..., 1:, :], quat.inverse(r_rot[..., :-1, :]))
    if fix_yaw_wrap:
        yaw_step = np.where(yaw_step[..., :1] < 0, -yaw_step, yaw_step)
    rot_vel = np.arcsin(np.clip(yaw_step[..., 2:3], -1, 1))

    ric = pos - root[..., None, :] * np.array([1, 0, 1], dtype=dtype)
    ric = quat.rotate(r_rot[..., None, :], ric)
    local_vel = quat.rotate(r_rot[..., :-1, None, :], pos[..., 1:, :, :] - pos[..., :-1, :, :])
    cont6d = quat.quat_to_cont6d(quats[..., :-1, 1:, :])

    lead = (*pos.shape[:-3], pos.shape[-3] - 1)
    parts = [
        rot_vel,
        root_vel[..., [0, 2]],
        ric[..., :-1, 0, 1:2],
        ric[..., :-1, 1:, :].reshape(*lead, -1),
        cont6d.reshape(*lead, -1),
        local_vel.reshape(*lead, -1),
        contacts,
    ]
    return np.concatenate([p.astype(out_dtype, copy=False) for p in parts], axis=-1)


def extract_features_many(
    clips: Sequence[np.ndarray],
    skeleton: Skeleton = SMPL22,
    published_float32: bool = True,
    fix_yaw_wrap: bool = False,
    max_batch: int = 32,
    max_padding: float = 0.25,
    workers: int | None = None,
) -> list[np.ndarray]:
    """``[extract_features(clip) for clip in clips]`` for clips of any lengths, in batches.

    Clips are sorted by length and grouped (at most ``max_batch`` per group, the shortest at
    least ``1 - max_padding`` of the longest); each is padded to its group's length by repeating
    its last pose, and the group runs as one batch of ``extract_features``. Repeated last poses
    change no feature of the clip's own frames: the floor is a minimum, the facing smoothing
    extends the last pose at the edge anyway (mode ``'nearest'``) and every other step is per
    frame, so each result equals the clip's own ``extract_features`` (tested to the bit). Clips
    are validated one by one first, so a bad clip is reported with its index. Groups run on
    ``workers`` threads (default: the CPUs this process may use, at most 8); numpy releases the
    interpreter lock inside its array operations, so they run in parallel.
    """
    if max_batch < 1 or not 0 <= max_padding < 1:
        raise ValueError("max_batch must be >= 1 and max_padding in [0, 1)")
    checked = []
    for i, clip in enumerate(clips):
        try:
            checked.append(validate_joints(clip, skeleton, min_frames=2))
        except InvalidMotionError as exc:
            raise InvalidMotionError(f"clip {i}: {exc}") from None
    if any(c.ndim != 3 for c in checked):
        raise InvalidMotionError("extract_features_many takes single clips (T, J, 3), not batches")
    order = sorted(range(len(checked)), key=lambda i: (checked[i].dtype.str, -len(checked[i])))
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        if (
            group is None
            or len(group) >= max_batch
            or checked[i].dtype != checked[group[0]].dtype
            or len(checked[i]) < (1 - max_padding) * len(checked[group[0]])
        ):
            groups.append([i])
        else:
            group.append(i)

    def run(group: list[int]) -> np.ndarray:
        longest = len(checked[group[0]])
        padded = np.stack(
            [np.pad(checked[i], ((0, longest - len(checked[i])), (0, 0), (0, 0)), mode="edge")
             for i in group]
        )  # fmt: skip
        return extract_features(padded, skeleton, published_float32, fix_yaw_wrap)

    workers = min(len(groups), usable_cpus(8) if workers is None else max(1, workers))
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            batches = list(pool.map(run, groups))
    else:
        batches = [run(group) for group in groups]
    results: list[np.ndarray | None] = [None] * len(checked)
    for group, features in zip(groups, batches, strict=True):
        for row, i in enumerate(group):
            results[i] = features[row, : len(checked[i]) - 1]
    return results  # type: ignore[return-value]


def recover_root(
    features: np.ndarray, skeleton: Skeleton = SMPL22
) -> tuple[np.ndarray, np.ndarray]:
    """Root rotations ``(..., T, 4)`` and positions ``(..., T, 3)`` of features ``(..., T, D)``.

    The yaw angle is the running sum of ``root_rot_vel`` of the previous frames (frame 0: 0), so
    the feature is half the per-frame yaw step; ``r_rot = (cos a, 0, sin a, 0)`` maps world to the
    facing frame. The root XZ integrates ``inverse(r_rot[t])`` applied to the previous frame's
    ``root_lin_vel``, starting at the origin; the root y is ``root_y``.
    """
    f = validate_features(features, skeleton)
    ang = np.zeros(f.shape[:-1], dtype=f.dtype)
    ang[..., 1:] = np.cumsum(f[..., :-1, 0], axis=-1)
    r_rot = np.zeros((*f.shape[:-1], 4), dtype=f.dtype)
    r_rot[..., 0], r_rot[..., 2] = np.cos(ang), np.sin(ang)
    step = np.zeros((*f.shape[:-1], 3), dtype=f.dtype)
    step[..., 1:, 0], step[..., 1:, 2] = f[..., :-1, 1], f[..., :-1, 2]
    r_pos = np.cumsum(quat.rotate(quat.inverse(r_rot), step), axis=-2)
    r_pos[..., 1] = f[..., 3]
    return r_rot, r_pos


def recover_from_ric(
    features: np.ndarray, skeleton: Skeleton = SMPL22, include_final_pose: bool = False
) -> np.ndarray:
    """Joint positions ``(..., T, J, 3)`` in metres from features ``(..., T, D)`` (``ric`` group).

    The root-relative joints are rotated back by ``inverse(r_rot)`` and the root's XZ added; the
    root itself comes from ``recover_root``. This is the published ``recover_from_ric``: its pose
    t is the extraction's global pose t. ``include_final_pose=True`` appends the last pose of the
    source clip (``(..., T+1, J, 3)``), rebuilt from the last frame's ``local_vel``.
    """
    f = validate_features(features, skeleton)
    r_rot, r_pos = recover_root(f, skeleton)
    slices = feature_slices(skeleton)
    ric = f[..., slices["ric"]].reshape(*f.shape[:-1], -1, 3)
    ric = quat.rotate(quat.inverse(r_rot)[..., None, :], ric)
    ric[..., 0] += r_pos[..., None, 0]
    ric[..., 2] += r_pos[..., None, 2]
    joints = np.concatenate([r_pos[..., None, :], ric], axis=-2)
    if include_final_pose:
        vel = f[..., -1, slices["local_vel"]].reshape(*f.shape[:-2], -1, 3)
        last = joints[..., -1, :, :] + quat.rotate(quat.inverse(r_rot[..., -1, None, :]), vel)
        joints = np.concatenate([joints, last[..., None, :, :]], axis=-3)
    return joints


def recover_from_rot(features: np.ndarray, skeleton: Skeleton = SMPL22) -> np.ndarray:
    """Joint positions ``(..., T, J, 3)`` from the root and the 6D rotations (``rot`` group).

    Chain-convention FK (``forward_kinematics_chains``) with the reference offsets
    ``skeleton.offsets`` and ``r_rot`` from ``recover_root`` as the root rotation.
    """
    f = validate_features(features, skeleton)
    r_rot, r_pos = recover_root(f, skeleton)
    d6 = f[..., feature_slices(skeleton)["rot"]].reshape(*f.shape[:-1], -1, 6)
    quats = np.concatenate([r_rot[..., None, :], quat.cont6d_to_quat(d6)], axis=-2)
    return forward_kinematics_chains(quats, r_pos, skeleton)
