"""Unit tests of motionkit.motion.quaternion and the two kinematics conventions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from motionkit.motion import quaternion as quat
from motionkit.motion.kinematics import (
    chain_bones,
    forward_kinematics,
    forward_kinematics_chains,
    inverse_kinematics,
    inverse_kinematics_chains,
    relay_bone_lengths,
)
from motionkit.motion.skeleton import KIT21, SMPL22

RNG = np.random.default_rng(0)


def random_quats(*shape: int) -> np.ndarray:
    return quat.normalize(RNG.normal(size=(*shape, 4)))


def axis_matrix(axis: str, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return {
        "X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


def same_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Max |a - b| up to the quaternion sign."""
    return np.minimum(np.abs(a - b).max(-1), np.abs(a + b).max(-1)).max()


def test_multiply_inverse_and_rotate_agree_with_matrices() -> None:
    a, b = random_quats(50), random_quats(50)
    v = RNG.normal(size=(50, 3))
    ma, mb = quat.quat_to_matrix(a), quat.quat_to_matrix(b)
    np.testing.assert_allclose(quat.quat_to_matrix(quat.multiply(a, b)), ma @ mb, atol=1e-12)
    np.testing.assert_allclose(quat.rotate(a, v), np.einsum("nij,nj->ni", ma, v), atol=1e-12)
    identity = quat.multiply(a, quat.inverse(a))
    np.testing.assert_allclose(identity, quat.identity((50,)), atol=1e-12)


def test_matrix_quat_round_trip_including_half_turns() -> None:
    q = random_quats(3, 40)
    half_turns = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0.6, 0.8, 0]], float)
    q = np.concatenate([q.reshape(-1, 4), half_turns])
    back = quat.matrix_to_quat(quat.quat_to_matrix(q))
    assert same_rotation(back, q) < 1e-12
    assert (back[:, 0] >= 0).all()


def test_cont6d_round_trip_and_gram_schmidt() -> None:
    q = random_quats(100)
    d6 = quat.quat_to_cont6d(q)
    m = quat.quat_to_matrix(q)
    np.testing.assert_allclose(d6, np.concatenate([m[:, :, 0], m[:, :, 1]], -1), atol=1e-15)
    assert same_rotation(quat.cont6d_to_quat(d6), q) < 1e-12
    # Gram-Schmidt repairs a scaled, skewed 6D vector into the same rotation.
    noisy = np.concatenate([3 * d6[:, :3], 0.5 * d6[:, 3:] + 0.2 * d6[:, :3]], -1)
    np.testing.assert_allclose(quat.cont6d_to_matrix(noisy), m, atol=1e-12)


def test_rotation_between_maps_direction() -> None:
    v0, v1 = RNG.normal(size=(200, 3)), 2.5 * RNG.normal(size=(200, 3))
    q = quat.rotation_between(v0, v1)
    unit = quat.rotate(q, v0) / np.linalg.norm(v0, axis=-1, keepdims=True)
    np.testing.assert_allclose(unit, v1 / np.linalg.norm(v1, axis=-1, keepdims=True), atol=1e-12)
    assert (q[:, 0] >= 0).all()
    q32 = quat.rotation_between(v0, v1, dtype=np.float32)
    assert q32.dtype == np.float32
    assert 0 < np.abs(q32 - q).max() < 1e-5


def test_rotation_between_degenerate_inputs_are_finite() -> None:
    v0 = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 0]])
    v1 = np.array([[0.0, -2, 0], [-1, 0, 0], [1, 0, 0]])
    q = quat.rotation_between(v0, v1)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(
        quat.rotate(q[:2], v0[:2]), v1[:2] / np.array([[2], [1]]), atol=1e-12
    )
    np.testing.assert_allclose(q[2], [1, 0, 0, 0])


def test_kabsch_recovers_a_rotation_and_never_reflects() -> None:
    rng = np.random.default_rng(1)  # its own generator: the other tests' data stay as they were
    rot = quat.quat_to_matrix(quat.normalize(rng.normal(size=(20, 4))))  # (20, 3, 3)
    source = rng.normal(size=(4, 3))
    target = np.einsum("tij,kj->tki", rot, source)  # (20, 4, 3): rot @ source[k]
    np.testing.assert_allclose(quat.kabsch(source, target), rot, atol=1e-12)
    # Broadcasting over leading dimensions of both inputs, and float32 stays float32.
    per_frame = np.broadcast_to(source, target.shape)
    np.testing.assert_allclose(quat.kabsch(per_frame, target), rot, atol=1e-12)
    assert quat.kabsch(source.astype(np.float32), target.astype(np.float32)).dtype == np.float32
    # Noisy targets: the best fit is still a rotation close to the true one.
    noisy = quat.kabsch(source, target + 1e-3 * rng.normal(size=target.shape))
    assert np.abs(noisy - rot).max() < 1e-2
    # A mirrored target is fitted by a proper rotation (det +1), not by the reflection.
    mirror = np.diag([1.0, 1.0, -1.0])
    best = quat.kabsch(source, target @ mirror)
    np.testing.assert_allclose(np.linalg.det(best), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        best @ np.swapaxes(best, -1, -2), np.broadcast_to(np.eye(3), best.shape), atol=1e-12
    )


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_round_trip_and_matrix_convention(order: str) -> None:
    angles = RNG.uniform(-1, 1, size=(300, 3)) * np.array([np.pi, np.pi / 2 - 0.01, np.pi])
    q = quat.euler_to_quat(angles, order)
    expected = np.stack(
        [
            axis_matrix(order[0], a) @ axis_matrix(order[1], b) @ axis_matrix(order[2], c)
            for a, b, c in angles[:5]
        ]
    )
    np.testing.assert_allclose(quat.quat_to_matrix(q[:5]), expected, atol=1e-12)
    np.testing.assert_allclose(quat.quat_to_euler(q, order), angles, atol=1e-9)
    degrees = quat.quat_to_euler(q, order, degrees=True)
    np.testing.assert_allclose(degrees, np.rad2deg(angles), atol=1e-7)
    assert same_rotation(quat.euler_to_quat(degrees, order, degrees=True), q) < 1e-12


def test_bvh_channel_order_zxy_in_degrees() -> None:
    # BVH "Zrotation Xrotation Yrotation" with channel values (30, 45, 60) degrees.
    q = quat.euler_to_quat(np.array([30.0, 45.0, 60.0]), "ZXY", degrees=True)
    z, x, y = np.deg2rad([30.0, 45.0, 60.0])
    expected = axis_matrix("Z", z) @ axis_matrix("X", x) @ axis_matrix("Y", y)
    np.testing.assert_allclose(quat.quat_to_matrix(q), expected, atol=1e-12)


def test_euler_gimbal_lock_keeps_the_rotation() -> None:
    for order in ("ZXY", "XYZ", "ZYX"):
        angles = np.array([[0.3, np.pi / 2, -0.4], [1.0, -np.pi / 2, 0.2]])
        q = quat.euler_to_quat(angles, order)
        back = quat.quat_to_euler(q, order)
        assert np.all(back[:, 2] == 0)
        assert same_rotation(quat.euler_to_quat(back, order), q) < 1e-7


def test_bad_euler_order_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="three distinct axes"):
        quat.euler_to_quat(np.zeros(3), "ZXZ")


def test_float32_stays_float32() -> None:
    q = random_quats(10).astype(np.float32)
    v = RNG.normal(size=(10, 3)).astype(np.float32)
    for out in (
        quat.multiply(q, q),
        quat.rotate(q, v),
        quat.quat_to_matrix(q),
        quat.matrix_to_quat(quat.quat_to_matrix(q)),
        quat.quat_to_cont6d(q),
        quat.quat_to_euler(q, "ZYX"),
        quat.euler_to_quat(v, "ZYX"),
    ):
        assert out.dtype == np.float32


def chain_motion(skeleton=SMPL22, frames: int = 30, batch: tuple[int, ...] = ()) -> np.ndarray:
    """Positions (*batch, T, J, 3) by chain FK of smooth random rotations (reference bones)."""
    t = np.linspace(0, 1, frames)[:, None, None]
    j = skeleton.num_joints
    axes = RNG.normal(size=(*batch, 1, j, 3))
    angles = 0.4 * np.sin(2 * np.pi * t * RNG.uniform(0.5, 2, size=(*batch, 1, j, 1)))
    half = angles / 2
    q = np.concatenate([np.cos(half), np.sin(half) * quat.normalize(axes)], -1)
    yaw = 1.5 * t[..., 0]
    q[..., 0, :] = np.stack([np.cos(yaw), 0 * yaw, np.sin(yaw), 0 * yaw], -1)[..., 0, :]
    root = np.concatenate([t[..., 0], 0.9 + 0.05 * t[..., 0], 2 * t[..., 0]], -1)
    return forward_kinematics_chains(q, np.broadcast_to(root, (*batch, frames, 3)), skeleton)


@pytest.mark.parametrize("skeleton", [SMPL22, KIT21], ids=["smpl22", "kit21"])
def test_chain_ik_then_fk_reproduces_positions(skeleton) -> None:
    joints = chain_motion(skeleton, batch=(2,))
    for sigma in (None, 20.0):
        quats = inverse_kinematics_chains(joints, skeleton, smooth_sigma=sigma)
        back = forward_kinematics_chains(quats, joints[..., 0, :], skeleton)
        np.testing.assert_allclose(back, joints, atol=1e-12)


def test_parent_relative_ik_then_fk_reproduces_positions() -> None:
    local = random_quats(2, 25, SMPL22.num_joints)
    root = RNG.normal(size=(2, 25, 3))
    joints = forward_kinematics(local, root, SMPL22.offsets, SMPL22.parents)
    rec_local, rec_root = inverse_kinematics(joints, SMPL22)
    back = forward_kinematics(rec_local, rec_root, SMPL22.offsets, SMPL22.parents)
    np.testing.assert_allclose(back, joints, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(rec_local, axis=-1), 1, atol=1e-12)


def test_parent_relative_ik_matches_single_child_bones_of_any_motion() -> None:
    joints = chain_motion(SMPL22, frames=12)  # bone directions not in the rest branch shapes
    local, root = inverse_kinematics(joints, SMPL22)
    back = forward_kinematics(local, root, SMPL22.offsets, SMPL22.parents)
    parents = np.array(SMPL22.parents)
    single = [j for j in range(1, 22) if list(parents).count(parents[j]) == 1]
    direction = lambda p, js: p[:, js] - p[:, parents[js]]  # noqa: E731
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(
        unit(direction(back, single)), unit(direction(joints, single)), atol=1e-10
    )


def sequential_chain_ik(joints: np.ndarray, skeleton, root: np.ndarray) -> np.ndarray:
    """The published IK walked joint by joint (accumulating R = R * local), for comparison."""
    quats = np.zeros((*joints.shape[:-1], 4))
    quats[..., 0] = 1.0
    quats[..., 0, :] = root
    raw = skeleton.raw_offsets
    for chain in skeleton.chains:
        acc = root
        for parent, child in itertools.pairwise(chain):
            bone = joints[..., child, :] - joints[..., parent, :]
            local = quat.multiply(quat.inverse(acc), quat.rotation_between(raw[child], bone))
            quats[..., child, :] = local
            acc = quat.multiply(acc, local)
    return quats


@pytest.mark.parametrize("skeleton", [SMPL22, KIT21], ids=["smpl22", "kit21"])
def test_vectorised_chain_ik_equals_the_joint_by_joint_walk(skeleton) -> None:
    joints = chain_motion(skeleton, frames=40, batch=(3,))
    joints = joints + 0.01 * RNG.normal(size=joints.shape)  # bones no longer of reference length
    quats = inverse_kinematics_chains(joints, skeleton)
    np.testing.assert_allclose(
        quats, sequential_chain_ik(joints, skeleton, quats[..., 0, :]), atol=1e-12
    )
    # A zero-length bone (a joint on its parent) gives the identity both ways.
    joints[..., 5, :] = joints[..., skeleton.parents[5], :]
    quats = inverse_kinematics_chains(joints, skeleton)
    np.testing.assert_allclose(
        quats, sequential_chain_ik(joints, skeleton, quats[..., 0, :]), atol=1e-12
    )


@pytest.mark.parametrize("skeleton", [SMPL22, KIT21], ids=["smpl22", "kit21"])
def test_relay_bone_lengths_equals_ik_then_fk(skeleton) -> None:
    joints = chain_motion(skeleton, frames=30, batch=(2,))
    joints = joints + 0.02 * RNG.normal(size=joints.shape)  # bones of other lengths
    lengths = skeleton.bone_lengths() * RNG.uniform(0.5, 1.5, size=skeleton.num_joints)
    root = joints[..., 0, :] * 1.3
    offsets = skeleton.raw_offsets * lengths[:, None]

    def ik_then_fk() -> np.ndarray:
        quats = inverse_kinematics_chains(joints, skeleton)
        return forward_kinematics_chains(quats, root, skeleton, offsets)

    out = relay_bone_lengths(joints, skeleton, lengths, root)
    np.testing.assert_allclose(out, ik_then_fk(), atol=1e-12)
    # Bone directions are those of the input, lengths the given ones.
    children, parents, _ = chain_bones(skeleton)
    got = out[..., children, :] - out[..., parents, :]
    want = joints[..., children, :] - joints[..., parents, :]
    np.testing.assert_allclose(
        np.linalg.norm(got, axis=-1), np.broadcast_to(lengths[children], got.shape[:-1]), atol=1e-12
    )
    cosine = (got * want).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(want, axis=-1)
    np.testing.assert_allclose(cosine, 1.0, atol=1e-12)
    joints[..., 7, :] = joints[..., skeleton.parents[7], :]  # a zero-length bone: raw direction
    np.testing.assert_allclose(
        relay_bone_lengths(joints, skeleton, lengths, root), ik_then_fk(), atol=1e-12
    )


def test_multiply_by_the_inverse_without_forming_it() -> None:
    a, b = random_quats(5, 7), random_quats(5, 7)
    for dtype in (np.float32, np.float64):
        a_, b_ = a.astype(dtype), b.astype(dtype)
        np.testing.assert_array_equal(
            quat.multiply(a_, b_, inverse_a=True), quat.multiply(quat.inverse(a_), b_)
        )
    np.testing.assert_allclose(
        quat.multiply(a, a, inverse_a=True), quat.identity((5, 7)), atol=1e-12
    )


def test_cont6d_of_quaternions_is_the_matrix_first_two_columns() -> None:
    for dtype in (np.float32, np.float64):
        q = random_quats(4, 9).astype(dtype) * 1.3  # not unit: the matrix normalises
        np.testing.assert_array_equal(
            quat.quat_to_cont6d(q), quat.matrix_to_cont6d(quat.quat_to_matrix(q))
        )
