"""Export joint positions as BVH: inverse kinematics onto a rigid hierarchy.

``positions_to_bvh`` turns joint positions ``(T, J, 3)`` of any hierarchy into a
``BVHMotion`` whose forward kinematics follows them;
``joints_to_bvh`` does so for the 22 SMPL joints of HumanML3D, with a rest pose fitted to
the input. Write the result with ``motionkit.motion.bvh.write_bvh``.
"""

from __future__ import annotations

import math

import numpy as np

from motionkit.motion import quaternion as quat
from motionkit.motion.bvh import BVHError, BVHMotion, _topological_order
from motionkit.motion.skeleton import SMPL22

__all__ = ["joints_to_bvh", "positions_to_bvh"]


def _fit_rest_offsets(
    joints: np.ndarray, parents: np.ndarray, directions: np.ndarray, order: list[int]
) -> np.ndarray:
    """Rest offsets ``(J, 3)`` for positions ``(T, J, 3)``.

    A bone's rest offset is its reference direction times its median length in the input. At a
    joint with several children the children's offsets are the input's mean local shape
    (aligned to the reference directions), so a rigid branching shape is reproduced exactly.
    """
    n = len(parents)
    unit = directions / np.maximum(np.linalg.norm(directions, axis=-1, keepdims=True), 1e-12)
    offsets = np.zeros((n, 3))
    for j in range(n):
        if parents[j] >= 0:
            length = np.linalg.norm(joints[:, j] - joints[:, parents[j]], axis=-1)
            offsets[j] = unit[j] * (float(np.median(length)) if len(length) else 0.0)
    for j in order:
        kids = [c for c in range(n) if parents[c] == j]
        if len(kids) < 2 or len(joints) == 0:
            continue
        target = joints[:, kids] - joints[:, j : j + 1]
        rest = offsets[kids]
        for _ in range(3):  # a few alternations converge for near-rigid shapes
            rot = quat.kabsch(rest, target)
            rest = np.einsum("tba,tkb->tka", rot, target).mean(axis=0)
        offsets[kids] = rest
    return offsets


def positions_to_bvh(
    joints: np.ndarray,
    names: list[str],
    parents: list[int] | np.ndarray,
    rest_offsets: np.ndarray,
    *,
    fps: float,
    end_sites: dict[int, np.ndarray] | None = None,
    root_channels: tuple[str, ...] = (
        "Xposition",
        "Yposition",
        "Zposition",
        "Zrotation",
        "Yrotation",
        "Xrotation",
    ),
    joint_channels: tuple[str, ...] = ("Zrotation", "Yrotation", "Xrotation"),
) -> BVHMotion:
    """A BVH motion whose forward kinematics follows the joint positions ``(T, J, 3)``.

    Inverse kinematics on the rigid hierarchy: walking from the root, a joint with one child
    gets the shortest rotation (relative to its parent) that aims the child's rest offset at
    the child's position; a joint with several children gets the least-squares (Kabsch)
    rotation over all of them; leaves keep their parent's orientation. Each bone is aimed from
    the already-solved parent position, so errors do not accumulate down a chain. Forward
    kinematics of the result reproduces ``joints`` exactly when its bone lengths equal the rest
    offsets' and branching shapes are rigid; otherwise it is the closest fit.
    """
    joints = np.asarray(joints, dtype=np.float64)
    parents = np.asarray(parents, dtype=np.int64)
    rest_offsets = np.asarray(rest_offsets, dtype=np.float64)
    frames, n = joints.shape[:2]
    order = _topological_order(parents, list(names))
    eye = np.broadcast_to(np.eye(3), (frames, 3, 3))
    glob = np.empty((frames, n, 3, 3))
    local = np.empty((frames, n, 3, 3))
    solved = np.empty((frames, n, 3))
    for j in order:
        p = parents[j]
        parent_rot = eye if p < 0 else glob[:, p]
        if p < 0:
            solved[:, j] = joints[:, j]
        kids = [c for c in range(n) if parents[c] == j]
        if not kids:
            rot = parent_rot
        elif len(kids) == 1:
            c = kids[0]
            aim = joints[:, c] - solved[:, j]
            current = np.einsum("tab,b->ta", parent_rot, rest_offsets[c])
            rot = quat.quat_to_matrix(quat.rotation_between(current, aim)) @ parent_rot
        else:
            rot = quat.kabsch(rest_offsets[kids], joints[:, kids] - solved[:, j : j + 1])
        glob[:, j] = rot
        local[:, j] = np.swapaxes(parent_rot, -1, -2) @ rot
        for c in kids:
            solved[:, c] = solved[:, j] + np.einsum("tab,b->ta", rot, rest_offsets[c])
    translations = np.broadcast_to(rest_offsets, (frames, n, 3)).copy()
    channels = []
    for j in range(n):
        if parents[j] < 0:
            translations[:, j] = joints[:, j]
            channels.append(root_channels)
        else:
            channels.append(joint_channels)
    return BVHMotion(
        names=list(names),
        parents=parents,
        offsets=rest_offsets,
        channels=channels,
        rotations=quat.matrix_to_quat(local),
        translations=translations,
        frame_time=1.0 / fps,
        end_sites=end_sites or {},
    )


#: End Site lengths (metres) of the SMPL leaves, along the leaf's own bone direction.
_END_SITE_LENGTH = {"head": 0.10, "left_foot": 0.05, "right_foot": 0.05}
_DEFAULT_END_SITE_LENGTH = 0.08  # hands


def joints_to_bvh(joints: np.ndarray, fps: float = 20.0, *, rest: str = "input") -> BVHMotion:
    """Export SMPL 22-joint positions ``(T, 22, 3)`` (metres, Y up) as a BVH motion.

    The hierarchy uses the joint names and parents of ``SMPL22``; units are metres (Blender's
    BVH importer reads them 1:1 into its metre-based scene with the default scale 1.0; its
    default "Y up" axis conversion matches). The root (pelvis) has the channels ``Xposition
    Yposition Zposition Zrotation Yrotation Xrotation``, every other joint ``Zrotation
    Yrotation Xrotation``; the five leaves (head, feet, wrists) close with End Sites.

    Args:
        joints: ``(T, 22, 3)`` positions in the SMPL22 joint order.
        fps: frame rate (HumanML3D: 20).
        rest: ``"input"`` (default): rest offsets along the SMPL22 reference directions (but
            head up and shoulders sideways, a friendlier rest pose) with the input's median
            bone lengths, and the input's mean shape at the two branching joints (pelvis,
            spine3), so FK of the file reproduces any input with constant bone lengths and a
            rigid pelvis and shoulder girdle, as HumanML3D joints have. ``"reference"``: the
            SMPL22 reference offsets as they are (FK reproduces inputs built on them).

    Rotations come from inverse kinematics on the rigid hierarchy (``positions_to_bvh``).
    """
    joints = np.asarray(joints, dtype=np.float64)
    n = SMPL22.num_joints
    if joints.ndim != 3 or joints.shape[1:] != (n, 3):
        raise BVHError(
            f"joints_to_bvh expects ({n} joints) positions of shape (T, {n}, 3), got {joints.shape}"
        )
    if not np.isfinite(joints).all():
        raise BVHError("joints_to_bvh: the positions contain NaN or infinite values")
    if not (math.isfinite(fps) and fps > 0):
        raise BVHError(f"joints_to_bvh: fps must be positive, got {fps}")
    parents = np.asarray(SMPL22.parents, dtype=np.int64)
    reference = np.asarray(SMPL22.offsets, dtype=np.float64)
    names = list(SMPL22.joint_names)
    order = _topological_order(parents, names)
    if rest == "input":
        directions = np.array(SMPL22.raw_offsets, dtype=np.float64)
        # A friendlier rest pose than the IK's raw directions: head up, shoulders sideways.
        directions[names.index("head")] = (0.0, 1.0, 0.0)
        directions[names.index("left_shoulder")] = (1.0, 0.0, 0.0)
        directions[names.index("right_shoulder")] = (-1.0, 0.0, 0.0)
        offsets = _fit_rest_offsets(joints, parents, directions, order)
    elif rest == "reference":
        offsets = reference.copy()
    else:
        raise BVHError(f"joints_to_bvh: rest must be 'input' or 'reference', got {rest!r}")
    # Place the root offset so that the rest pose stands on the floor (y = 0 at its lowest joint).
    rest_pos = np.zeros((n, 3))
    for j in order:
        if parents[j] >= 0:
            rest_pos[j] = rest_pos[parents[j]] + offsets[j]
    offsets[parents < 0] = [0.0, -rest_pos[:, 1].min(), 0.0]
    end_sites = {}
    for j in range(n):
        if parents[j] >= 0 and not np.any(parents == j):
            bone = offsets[j]
            unit = bone / max(float(np.linalg.norm(bone)), 1e-12)
            name = names[j]
            end_sites[j] = unit * _END_SITE_LENGTH.get(name, _DEFAULT_END_SITE_LENGTH)
    return positions_to_bvh(joints, names, parents, offsets, fps=fps, end_sites=end_sites)
