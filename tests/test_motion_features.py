"""HumanML3D feature extraction and recovery: conformance on the shipped clips, synthetic checks.

Conformance data: ``../shared/data/humanml3d_sample`` next to the repository (skipped when absent).
Measured on it (max abs error), which the tolerances below are set from:

* ``recover_from_ric(new_joint_vecs)`` vs ``new_joints``: <= 2.1e-7 m (same T-1 frames).
* features -> ``recover_from_ric(include_final_pose=True)`` -> ``extract_features`` vs the
  features: root_rot_vel 6.9e-7, root_lin_vel 2.3e-7, root_y 3.0e-7, ric 3.5e-6, rot 1.1e-5,
  local_vel 5.6e-6, foot_contact 0 (float32 rounding of the published pipeline).
* ``extract_features(new_joints)`` vs ``new_joint_vecs``: the same on frames t < T-1-80; the
  shipped new_joints lack the clip's last pose, which changes the Gaussian-smoothed facing
  (sigma 20, radius 80 frames) of the last 80 frames (up to 3e-2 in rot there).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from motionkit.motion import (
    FEATURE_GROUPS,
    KIT21,
    SMPL22,
    InvalidMotionError,
    extract_features,
    extract_features_many,
    feature_slices,
    recover_from_ric,
    recover_from_rot,
)
from motionkit.motion import quaternion as quat
from tests.test_quaternion import chain_motion

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "humanml3d_sample"
CLIPS = ["000000", "000612", "007005", "009548", "011673", "012314", "M010655", "M010968"]
#: Clip 000612's facing crosses 180 degrees at feature frame 142, where the published
#: root_rot_vel has the wrong sign; flipping it back gives a consistent motion.
WRAP_CLIP, WRAP_FRAME = "000612", 142
#: Per-group tolerances of the round trips (about 2x the measured maxima in the module docstring).
TOLERANCE = {
    "root_rot_vel": 2e-6,
    "root_lin_vel": 5e-7,
    "root_y": 6e-7,
    "ric": 8e-6,
    "rot": 2.5e-5,
    "local_vel": 1.2e-5,
    "foot_contact": 0.0,
}
SMOOTHING_RADIUS = 80  # int(4 * sigma + 0.5) frames of scipy's gaussian_filter1d


def load(kind: str, clip: str) -> np.ndarray:
    if not SAMPLE.is_dir():
        pytest.skip(f"HumanML3D sample not found at {SAMPLE} (only in the shared workspace and CI)")
    path = SAMPLE / kind / f"{clip}.npy"
    if not path.exists():
        pytest.skip(f"{kind}/{clip}.npy is not in the sample")
    return np.load(path)


def consistent_features(clip: str) -> np.ndarray:
    """Shipped features; for the wrap clip with the published sign flip undone."""
    vecs = load("new_joint_vecs", clip)
    if clip == WRAP_CLIP:
        vecs = vecs.copy()
        vecs[WRAP_FRAME, 0] *= -1
    return vecs


def group_errors(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {k: float(np.abs(a[..., s] - b[..., s]).max()) for k, s in feature_slices().items()}


def assert_groups(errors: dict[str, float], what: str) -> None:
    bad = {k: v for k, v in errors.items() if v > TOLERANCE[k]}
    shown = ", ".join(f"{k} {v:.1e}" for k, v in errors.items())
    assert not bad, f"{what}: groups over tolerance {sorted(bad)}; max errors: {shown}"


@pytest.mark.parametrize("clip", CLIPS)
def test_recover_from_ric_matches_shipped_joints(clip: str) -> None:
    vecs, joints = load("new_joint_vecs", clip), load("new_joints", clip)
    recovered = recover_from_ric(vecs)
    assert recovered.shape == joints.shape == (len(vecs), 22, 3)
    error = np.abs(recovered - joints).max()
    assert error < 1e-5, f"{clip}: max |recover_from_ric - new_joints| = {error:.2e} m"


@pytest.mark.parametrize("clip", CLIPS)
def test_recover_from_rot_agrees_with_ric(clip: str) -> None:
    vecs = consistent_features(clip)
    error = np.abs(recover_from_rot(vecs) - recover_from_ric(vecs)).max()
    assert error < 5e-6, f"{clip}: max |recover_from_rot - recover_from_ric| = {error:.2e} m"


@pytest.mark.parametrize("clip", CLIPS)
def test_round_trip_features_joints_features(clip: str) -> None:
    vecs = consistent_features(clip)
    joints = recover_from_ric(vecs, include_final_pose=True)
    assert joints.shape == (len(vecs) + 1, 22, 3)
    again = extract_features(joints)
    assert again.shape == vecs.shape and again.dtype == vecs.dtype
    assert_groups(group_errors(again, load("new_joint_vecs", clip)), f"{clip} round trip")


def test_published_yaw_wrap_sign_flip_is_reproduced() -> None:
    shipped = load("new_joint_vecs", WRAP_CLIP)
    neighbours = shipped[WRAP_FRAME - 3 : WRAP_FRAME + 4, 0]
    assert shipped[WRAP_FRAME, 0] < 0 < np.delete(neighbours, 3).min()
    joints = recover_from_ric(consistent_features(WRAP_CLIP), include_final_pose=True)
    published = extract_features(joints)
    fixed = extract_features(joints, fix_yaw_wrap=True)
    assert abs(published[WRAP_FRAME, 0] - shipped[WRAP_FRAME, 0]) < 1e-6
    assert abs(fixed[WRAP_FRAME, 0] + shipped[WRAP_FRAME, 0]) < 1e-6
    np.testing.assert_array_equal(
        np.delete(fixed, WRAP_FRAME, 0), np.delete(published, WRAP_FRAME, 0)
    )


@pytest.mark.parametrize("clip", [c for c in CLIPS if c != WRAP_CLIP])
def test_extraction_on_shipped_joints(clip: str) -> None:
    joints, vecs = load("new_joints", clip), load("new_joint_vecs", clip)
    features = extract_features(joints)
    assert features.shape == (len(joints) - 1, 263) and features.dtype == np.float32
    interior = len(joints) - SMOOTHING_RADIUS  # frames whose smoothing window misses no pose
    tail = group_errors(features[max(interior, 0) :], vecs[max(interior, 0) : -1])
    assert tail["root_y"] <= TOLERANCE["root_y"], tail
    assert max(tail.values()) < 0.1, f"{clip}: last-80-frame errors {tail}"
    if interior <= 0:
        pytest.skip(f"{clip} has {len(joints)} poses: every frame is within the smoothing radius")
    assert_groups(group_errors(features[:interior], vecs[:interior]), f"{clip} interior frames")


def test_batch_equals_single_clips_and_dtypes() -> None:
    motion = chain_motion(SMPL22, frames=40, batch=(3,))
    batch = extract_features(motion)
    assert batch.shape == (3, 39, 263) and batch.dtype == np.float64
    for i in range(3):
        np.testing.assert_array_equal(batch[i], extract_features(motion[i]))
    single32 = extract_features(motion[0].astype(np.float32))
    assert single32.dtype == np.float32
    np.testing.assert_array_equal(single32, batch[0].astype(np.float32))  # both run in float32
    exact = extract_features(motion[0], published_float32=False)
    assert exact.dtype == np.float64
    np.testing.assert_allclose(exact, batch[0], atol=5e-5)  # float32 IK rounding, rot <= 1.1e-5
    recovered = recover_from_ric(batch)
    assert recovered.shape == (3, 39, 22, 3) and recovered.dtype == np.float64
    np.testing.assert_array_equal(recovered[1], recover_from_ric(batch[1]))
    assert recover_from_rot(batch.astype(np.float32)).dtype == np.float32


def test_features_are_invariant_to_placement_heading_and_scale() -> None:
    motion = chain_motion(SMPL22, frames=50)
    turn = quat.euler_to_quat(np.array([0.0, 2.0, 0.0]), "XYZ")
    moved = 1.3 * quat.rotate(turn, motion) + np.array([4.0, 0.5, -2.0])
    a = extract_features(motion, published_float32=False)
    b = extract_features(moved, published_float32=False)
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_recovery_reproduces_the_normalised_motion() -> None:
    motion = chain_motion(SMPL22, frames=50)
    features = extract_features(motion, published_float32=False)
    joints = recover_from_ric(features, include_final_pose=True)
    # Placement is normalised (floor at 0, start at the origin facing +Z) but bones are kept.
    np.testing.assert_allclose(
        SMPL22.bone_lengths(joints), np.broadcast_to(SMPL22.bone_lengths(), (50, 22)), atol=1e-9
    )
    assert abs(joints[..., 1].min()) < 1e-12 and np.abs(joints[0, 0, [0, 2]]).max() < 1e-12
    again = extract_features(joints, published_float32=False)
    np.testing.assert_allclose(again, features, atol=1e-9)


def test_kit_pipeline_shape() -> None:
    motion = 1.7 * chain_motion(KIT21, frames=30)
    features = extract_features(motion, KIT21)
    assert features.shape == (29, 251) == (29, KIT21.feature_dim)
    assert recover_from_ric(features, KIT21).shape == (29, 21, 3)
    assert recover_from_rot(features, KIT21).shape == (29, 21, 3)


@pytest.mark.parametrize("skeleton", [SMPL22, KIT21], ids=["smpl22", "kit21"])
def test_feature_slices_tile_the_feature_vector(skeleton) -> None:
    slices = feature_slices(skeleton)
    assert tuple(slices) == FEATURE_GROUPS
    bounds = [(s.start, s.stop) for s in slices.values()]
    assert bounds[0][0] == 0 and bounds[-1][1] == skeleton.feature_dim
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert SMPL22.feature_dim == 263 and KIT21.feature_dim == 251


@pytest.mark.parametrize(
    ("joints", "match"),
    [
        (np.zeros((10, 21, 3)), r"shape \(T, 22, 3\) or \(B, T, 22, 3\)"),
        (np.zeros((10, 22)), r"got \(10, 22\)"),
        (np.zeros((1, 22, 3)), "at least 2 frames"),
        (np.full((5, 22, 3), np.nan), "NaN"),
        (np.zeros((5, 22, 3), dtype=complex), "real numeric"),
    ],
)
def test_bad_joints_are_one_line_value_errors(joints: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        extract_features(joints)
    assert isinstance(info.value, InvalidMotionError) and "\n" not in str(info.value)


def test_bad_features_are_clear_errors() -> None:
    with pytest.raises(InvalidMotionError, match="pass skeleton=KIT21"):
        recover_from_ric(np.zeros((4, 251)))
    with pytest.raises(ValueError, match=r"\(T, 263\)"):
        recover_from_rot(np.zeros(263))
    bad = np.zeros((4, 263))
    bad[2, 7] = np.inf
    with pytest.raises(ValueError, match="NaN/inf"):
        recover_from_ric(bad)
    with pytest.raises(ValueError, match="leg length"):
        extract_features(np.zeros((4, 22, 3)))


def test_extract_features_many_equals_each_clip_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    long = chain_motion(SMPL22, frames=120, batch=(12,))
    clips = [long[i, : rng.integers(2, 121)].astype(np.float32) for i in range(12)]
    clips += [long[0, :57], long[1, :2]]  # float64 clips form their own groups
    for workers in (1, 2):
        many = extract_features_many(clips, max_batch=4, workers=workers)
        assert len(many) == len(clips)
        for clip, got in zip(clips, many, strict=True):
            want = extract_features(clip)
            assert got.dtype == want.dtype and got.shape == want.shape == (len(clip) - 1, 263)
            np.testing.assert_array_equal(got, want)
    kit = chain_motion(KIT21, frames=50, batch=(2,))
    for clip, got in zip(kit, extract_features_many([kit[0], kit[1, :31]], KIT21), strict=True):
        np.testing.assert_array_equal(got, extract_features(clip[: len(got) + 1], KIT21))
    assert extract_features_many([]) == []


def test_extract_features_many_names_the_bad_clip() -> None:
    good = chain_motion(SMPL22, frames=10)
    bad = good.copy()
    bad[3, 4, 1] = np.nan
    with pytest.raises(InvalidMotionError, match=r"^clip 1: .*NaN|^clip 1: .*finite"):
        extract_features_many([good, bad])
    with pytest.raises(InvalidMotionError, match="single clips"):
        extract_features_many([good[None]])
    with pytest.raises(ValueError, match="max_batch"):
        extract_features_many([good], max_batch=0)
