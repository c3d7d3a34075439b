"""Forward and inverse kinematics on joint positions, vectorised over frames and batches.

Two rotation conventions, both with ``(w, x, y, z)`` quaternions ``(..., T, J, 4)``, root
positions ``(..., T, 3)`` and joint positions ``(..., T, J, 3)`` in metres:

* **Chain convention** of the HumanML3D extraction (Guo et al., CVPR 2022, ``Skeleton`` of its
  ``common/skeleton.py``): the skeleton is walked chain by chain; every chain starts from the root
  rotation ``q[..., 0]`` (also the chains starting at the spine), and the accumulated rotation
  *including joint c's own quaternion* rotates c's offset:
  ``R = R * q[c]``, ``p[c] = p[prev] + R * offset[c]``. The HumanML3D 6D features are these
  quaternions. ``inverse_kinematics_chains`` is the published naive IK: every bone is matched
  exactly, so ``forward_kinematics_chains`` reproduces all bone directions.
* **Parent-relative convention** of BVH and most animation tools: joint j's local rotation is
  relative to its parent, ``G[j] = G[parent] * L[j]``, and the parent's global rotation rotates
  the child's offset: ``p[j] = p[parent] + G[parent] * offset[j]``. ``inverse_kinematics`` gives
  such local rotations (see its docstring for how joints with several children are fitted).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from scipy.ndimage import gaussian_filter1d

from motionkit.motion import quaternion as quat
from motionkit.motion.skeleton import Skeleton

__all__ = [
    "bone_rotations",
    "chain_bones",
    "facing_forward",
    "forward_kinematics",
    "forward_kinematics_chains",
    "inverse_kinematics",
    "inverse_kinematics_chains",
    "relay_bone_lengths",
    "topological_order",
]

_UP = np.array([0.0, 1.0, 0.0])
_FRONT = np.array([0.0, 0.0, 1.0])


def _unit(v: np.ndarray) -> np.ndarray:
    """``v / |v|`` along the last axis; zero vectors stay zero."""
    norm = quat._norm(v)
    return v / np.where(norm > 0, norm, 1)


def facing_forward(joints: np.ndarray, skeleton: Skeleton, hip_sign: float = 1.0) -> np.ndarray:
    """Unnormalised horizontal forward ``(..., 3)`` of poses ``(..., J, 3)``.

    ``across = hip_sign * (p[r_hip] - p[l_hip]) + (p[r_shoulder] - p[l_shoulder])`` with
    ``skeleton.face_joints``; ``forward = cross(up, unit(across))``. The published extraction uses
    ``hip_sign=+1`` for the initial facing and ``hip_sign=-1`` inside its IK.
    """
    r_hip, l_hip, r_sh, l_sh = skeleton.face_joints
    across = hip_sign * (joints[..., r_hip, :] - joints[..., l_hip, :])
    across = across + (joints[..., r_sh, :] - joints[..., l_sh, :])
    return quat._cross(_UP.astype(joints.dtype), _unit(across))


def chain_bones(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bones of ``skeleton.chains`` in walking order: ``(children, parents, previous)``.

    ``children[k]`` and ``parents[k]`` are the joints at either end of bone ``k``;
    ``previous[k]`` is 0 for the first bone of a chain (whose accumulated rotation starts from
    the root's) and ``1 + j`` when bone ``j`` precedes it on its chain.
    """
    return _chain_bones(skeleton.chains)


@functools.lru_cache(maxsize=16)
def _chain_bones(chains: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, ...]:
    children, parents, previous = [], [], []
    for chain in chains:
        for k, (parent, child) in enumerate(itertools.pairwise(chain)):
            previous.append(0 if k == 0 else len(children))  # 1 + index of the bone before
            children.append(child)
            parents.append(parent)
    return tuple(np.array(a, dtype=np.intp) for a in (children, parents, previous))


def bone_rotations(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Accumulated chain rotations ``(..., T, K, 4)`` of the bones of ``chain_bones``.

    ``rotation_between(raw_direction[child], p[child] - p[parent])`` for every bone at once, in
    the dtype of ``joints``. Along a chain of the published IK, the accumulated rotation after
    joint ``c`` is ``R * (inverse(R) * between_c)``, which is exactly this quaternion for unit
    ``R``; computing it directly lets all bones be evaluated together instead of one at a time.
    """
    children, _, _ = chain_bones(skeleton)
    raw = skeleton.raw_offsets.astype(joints.dtype)
    return quat.rotation_between(raw[children], _bone_vectors(joints, skeleton))


def _bone_vectors(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """``p[child] - p[parent]`` ``(..., K, 3)`` of the bones of ``chain_bones``."""
    children, parents, _ = chain_bones(skeleton)
    return joints[..., children, :] - joints[..., parents, :]


def inverse_kinematics_chains(
    joints: np.ndarray,
    skeleton: Skeleton,
    smooth_sigma: float | None = None,
    identity_first_root: bool = True,
) -> np.ndarray:
    """Naive IK (published): chain-convention quaternions ``(..., T, J, 4)`` of joints.

    Root rotation per frame = ``rotation_between(forward, +Z)`` with the IK facing
    (``facing_forward(..., hip_sign=-1)``), the forward first smoothed over frames by a Gaussian
    of ``smooth_sigma`` frames (mode ``'nearest'``) when given, and frame 0's root set to the
    identity (``identity_first_root``), as published. Along each chain, for joint ``c[k+1]``:
    ``local = inverse(R) * rotation_between(raw_direction, p[c[k+1]] - p[c[k]])``, then
    ``R = R * local``; ``R`` after a joint is that joint's ``rotation_between``
    (``bone_rotations``), so every joint is solved in one vectorised step.
    Computed in the dtype of ``joints``.
    """
    forward = facing_forward(joints, skeleton, hip_sign=-1.0)
    if smooth_sigma is not None:
        forward = gaussian_filter1d(forward, smooth_sigma, axis=-2, mode="nearest")
    root = quat.rotation_between(_unit(forward), _FRONT.astype(joints.dtype))
    if identity_first_root:
        root[..., 0, :] = quat.identity((), root.dtype)
    children, _, previous = chain_bones(skeleton)
    between = bone_rotations(joints, skeleton)
    accumulated = np.concatenate([root[..., None, :], between], axis=-2)[..., previous, :]
    quats = np.zeros((*joints.shape[:-1], 4), dtype=joints.dtype)
    quats[..., 0] = 1.0
    quats[..., 0, :] = root
    quats[..., children, :] = quat.multiply(accumulated, between, inverse_a=True)
    return quats


def relay_bone_lengths(
    joints: np.ndarray, skeleton: Skeleton, lengths: np.ndarray, root_positions: np.ndarray
) -> np.ndarray:
    """Joints ``(..., T, J, 3)`` with every bone of ``joints`` given length ``lengths (J,)``, from
    ``root_positions (..., T, 3)``: the published uniform-skeleton step,
    ``forward_kinematics_chains(inverse_kinematics_chains(joints), root_positions,
    raw_direction * lengths)``.

    The accumulated FK rotation of a joint is its ``bone_rotations`` quaternion, which takes the
    unit raw direction onto the bone, so ``length * raw`` becomes ``length * unit(bone)``: every
    bone keeps its direction and takes its new length without a rotation being formed (the root
    rotation drops out). A zero-length bone keeps its raw direction (the identity rotation the
    IK gives it).
    """
    children, _, _ = chain_bones(skeleton)
    bones = _bone_vectors(joints, skeleton)
    norm = quat._norm(bones)
    found = norm > 0
    if found.all():
        steps = bones / norm
    else:  # a zero-length bone keeps its raw direction
        raw = skeleton.raw_offsets.astype(joints.dtype)[children]
        steps = np.where(found, bones / np.where(found, norm, 1), raw)
    steps *= lengths.astype(joints.dtype)[children, None]
    return _chain_sum(steps, root_positions, skeleton)


def _chain_sum(steps: np.ndarray, root_positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Joint positions from the root and the bone steps ``(..., K, 3)`` of ``chain_bones``."""
    children, parents, _ = chain_bones(skeleton)
    out = np.zeros((*steps.shape[:-2], skeleton.num_joints, 3), dtype=steps.dtype)
    out[..., 0, :] = root_positions
    for k, (child, parent) in enumerate(zip(children.tolist(), parents.tolist(), strict=True)):
        out[..., child, :] = out[..., parent, :] + steps[..., k, :]
    return out


def forward_kinematics_chains(
    quats: np.ndarray,
    root_positions: np.ndarray,
    skeleton: Skeleton,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """Joint positions ``(..., T, J, 3)`` from chain-convention quaternions ``(..., T, J, 4)``.

    ``root_positions (..., T, 3)``; ``offsets (J, 3)`` or ``(..., J, 3)`` in metres default to
    ``skeleton.offsets`` (the reference skeleton).
    """
    offsets = skeleton.offsets if offsets is None else np.asarray(offsets)
    dtype = np.result_type(quats, root_positions)
    offsets = offsets.astype(dtype)[..., None, :, :]  # broadcast over frames
    positions = np.zeros((*quats.shape[:-1], 3), dtype=dtype)
    positions[..., 0, :] = root_positions
    for chain in skeleton.chains:
        acc = quats[..., 0, :]
        for parent, child in itertools.pairwise(chain):
            acc = quat.multiply(acc, quats[..., child, :])
            positions[..., child, :] = positions[..., parent, :] + quat.rotate(
                acc, offsets[..., child, :]
            )
    return positions


def topological_order(parents: tuple[int, ...] | list[int]) -> list[int]:
    """Non-root joints ordered so that every parent comes before its children."""
    order: list[int] = []
    placed = {i for i, p in enumerate(parents) if p < 0}
    pending = [i for i, p in enumerate(parents) if p >= 0]
    while pending:
        ready = [j for j in pending if parents[j] in placed]
        if not ready:
            raise ValueError(f"parents {list(parents)} contain a cycle or a missing root")
        order += ready
        placed.update(ready)
        pending = [j for j in pending if j not in placed]
    return order


def forward_kinematics(
    local_quats: np.ndarray,
    root_positions: np.ndarray,
    offsets: np.ndarray,
    parents: tuple[int, ...] | list[int],
) -> np.ndarray:
    """Parent-relative (BVH-style) FK: joint positions ``(..., T, J, 3)``.

    ``local_quats (..., T, J, 4)``: joint j's rotation relative to its parent (the root's is
    global); ``root_positions (..., T, 3)``; ``offsets (J, 3)`` or ``(..., J, 3)``: rest vector
    from each joint's parent to it; ``parents``: parent index per joint, -1 for the root.
    """
    dtype = np.result_type(local_quats, root_positions)
    offsets = np.asarray(offsets).astype(dtype)[..., None, :, :]
    glob = np.empty(local_quats.shape, dtype=dtype)
    positions = np.zeros((*local_quats.shape[:-1], 3), dtype=dtype)
    root = list(parents).index(-1)
    glob[..., root, :] = local_quats[..., root, :]
    positions[..., root, :] = root_positions
    for j in topological_order(parents):
        p = parents[j]
        glob[..., j, :] = quat.multiply(glob[..., p, :], local_quats[..., j, :])
        positions[..., j, :] = positions[..., p, :] + quat.rotate(
            glob[..., p, :], offsets[..., j, :]
        )
    return positions


def inverse_kinematics(
    joints: np.ndarray, skeleton: Skeleton, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Parent-relative (BVH-style) IK: ``(local_quats (..., T, J, 4), root_positions (..., T, 3))``.

    For ``forward_kinematics(local_quats, root_positions, offsets, skeleton.parents)``, with
    ``offsets (J, 3)`` defaulting to ``skeleton.offsets``. Per joint, in the parent's frame:

    * one child: the shortest-arc rotation taking the child's rest offset onto the observed bone
      (no twist), so that bone's direction is reproduced exactly;
    * several children (SMPL pelvis and spine3): the least-squares rotation (Kabsch) of all
      child offsets onto the observed bones; exact when the observed branch has the rest shape
      of ``offsets`` (for example offsets measured from the same motion), otherwise a best fit;
    * no child (end effectors): identity.

    Positions are reproduced exactly when the motion has the bone lengths and branch shapes of
    ``offsets``; otherwise bone directions are reproduced except at branching joints.
    """
    offsets = skeleton.offsets if offsets is None else np.asarray(offsets, dtype=np.float64)
    dtype = joints.dtype if joints.dtype in (np.float32, np.float64) else np.float64
    joints = joints.astype(dtype, copy=False)
    offsets = offsets.astype(dtype)
    parents = skeleton.parents
    children: dict[int, list[int]] = {j: [] for j in range(len(parents))}
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    local = np.zeros((*joints.shape[:-1], 4), dtype=dtype)
    local[..., 0] = 1.0
    glob = local.copy()
    root = parents.index(-1)
    for j in [root, *topological_order(parents)]:
        parent_rot = glob[..., parents[j], :] if parents[j] >= 0 else quat.identity((), dtype)
        kids = children[j]
        if kids:
            bones = joints[..., kids, :] - joints[..., j : j + 1, :]
            bones = quat.rotate(quat.inverse(parent_rot)[..., None, :], bones)
            if len(kids) == 1:
                local[..., j, :] = quat.rotation_between(offsets[kids[0]], bones[..., 0, :])
            else:
                local[..., j, :] = quat.matrix_to_quat(quat.kabsch(offsets[kids], bones))
        glob[..., j, :] = quat.multiply(parent_rot, local[..., j, :])
    return local, joints[..., root, :].copy()
