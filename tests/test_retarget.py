"""Retargeting BVH skeletons onto the 22 SMPL joints (motionkit.motion.retarget)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motionkit.motion import quaternion as quat
from motionkit.motion.bvh import BVHMotion, read_bvh
from motionkit.motion.bvh_export import joints_to_bvh
from motionkit.motion.features import extract_features, recover_from_ric
from motionkit.motion.retarget import (
    BUILTIN_MAPS,
    JointMap,
    JointMapError,
    detect_skeleton,
    get_joint_map,
    load_joint_map,
    resample,
    retarget,
    source_fps,
    to_smpl_positions,
)
from motionkit.motion.skeleton import SMPL22
from tests.test_bvh import BANDAI, CMU, needs_data, smpl_motion

NAMES = list(SMPL22.joint_names)
PELVIS, HEAD = NAMES.index("pelvis"), NAMES.index("head")
FEET = [NAMES.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]


def identity_map(**kwargs: object) -> JointMap:
    """A map from a BVH that already has the SMPL joint names (as ``joints_to_bvh`` writes)."""
    return JointMap.from_spec("smpl", {n: n for n in NAMES}, **kwargs)  # type: ignore[arg-type]


def smpl_bvh(frames: int = 40) -> tuple[np.ndarray, BVHMotion]:
    joints = smpl_motion(frames=frames).global_positions()
    return joints, joints_to_bvh(joints, fps=20)


# ---- maps ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTIN_MAPS))
def test_builtin_maps_cover_every_smpl_joint(name: str) -> None:
    joint_map = BUILTIN_MAPS[name]
    for variant in (joint_map, *joint_map.variants):
        assert list(variant.joints) == NAMES
        for source in variant.joints.values():
            assert sum(w for _, w in source) == pytest.approx(1.0)
    assert get_joint_map(name.upper()) is joint_map


def test_unknown_builtin_name_suggests() -> None:
    with pytest.raises(JointMapError, match="did you mean 'bandai'"):
        get_joint_map("bandia")


def test_identity_retarget_at_the_same_rate_is_exact() -> None:
    joints, motion = smpl_bvh()
    out = retarget(motion, identity_map(), fps=20)
    assert out.shape == joints.shape
    np.testing.assert_allclose(out, joints, atol=1e-9)


def test_weighted_sources_scale_and_up_axis() -> None:
    joints, motion = smpl_bvh(frames=5)
    spec: dict[str, object] = {n: n for n in NAMES}
    spec["spine2"] = {"spine1": 1.0, "spine3": 3.0}
    spec["spine3"] = ["spine3", "neck"]
    out = to_smpl_positions(motion, JointMap.from_spec("w", spec, scale=0.5))  # type: ignore[arg-type]
    k = NAMES.index
    np.testing.assert_allclose(
        out[:, k("spine2")], 0.5 * (0.25 * joints[:, k("spine1")] + 0.75 * joints[:, k("spine3")])
    )
    np.testing.assert_allclose(
        out[:, k("spine3")], 0.25 * (joints[:, k("spine3")] + joints[:, k("neck")])
    )

    # A z-up source: (x, y, z)_yup = (x, -z, y)_zup ... retargeting turns it back.
    zup = motion.copy()
    turn = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float)  # y-up -> z-up
    zup.translations[:, 0] = joints[:, 0] @ turn.T
    rot90 = np.array([np.cos(np.pi / 4), np.sin(np.pi / 4), 0, 0])  # +90 degrees about X
    zup.rotations[:, 0] = quat.multiply(rot90, zup.rotations[:, 0])
    np.testing.assert_allclose(zup.global_positions()[:, 0, 2], joints[:, 0, 1], atol=1e-9)
    back = to_smpl_positions(zup, identity_map(up="z"))
    np.testing.assert_allclose(back, joints, atol=1e-9)


def test_missing_source_joint_lists_the_bvh_joints() -> None:
    _, motion = smpl_bvh(frames=3)
    with pytest.raises(JointMapError) as info:
        retarget(motion, "cmu")
    message = str(info.value)
    assert "'Hips'" in message and "pelvis, left_hip" in message and "\n" not in message


def test_detect_skeleton_unknown() -> None:
    _, motion = smpl_bvh(frames=3)
    assert detect_skeleton(motion) is None


# ---- resampling ------------------------------------------------------------------------------


def test_resample_counts_and_interpolation() -> None:
    x = np.arange(31, dtype=float)[:, None] * [1.0, 2.0]
    out = resample(x, 30, 20)  # 1 s of motion: 21 frames at 20 fps
    assert out.shape == (21, 2)
    np.testing.assert_allclose(out[:, 0], np.arange(21) * 1.5)
    np.testing.assert_allclose(resample(x, 120, 20), x[::6])
    assert resample(x[:1], 30, 20).shape == (1, 2)
    assert resample(x, 20, 20) is not x


def test_source_fps_snaps_rounded_frame_times() -> None:
    _, motion = smpl_bvh(frames=2)
    motion.frame_time = 0.008333
    assert source_fps(motion) == 120.0
    motion.frame_time = 1 / 29.97
    assert source_fps(motion) == pytest.approx(29.97)


# ---- TOML maps -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTIN_MAPS))
def test_toml_round_trip(name: str, tmp_path: Path) -> None:
    joint_map = BUILTIN_MAPS[name]
    path = tmp_path / "map.toml"
    path.write_text(joint_map.to_toml())
    back = load_joint_map(path)
    assert back.name == joint_map.name
    assert back.scale == joint_map.scale and back.up == joint_map.up
    assert set(back.joints) == set(joint_map.joints)
    for smpl, source in joint_map.joints.items():
        assert dict(back.joints[smpl]) == pytest.approx(dict(source))
    assert get_joint_map(str(path)).joints == back.joints


def test_user_map_with_base_and_retarget(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(
        '[skeleton]\nname = "rig"\nbase = "bandai"\nscale = 0.02\n\n'
        '[joints]\nspine3 = "Chest"\nleft_collar = { Chest = 1, Shoulder_L = 3 }\n'
    )
    joint_map = load_joint_map(path)
    assert joint_map.name == "rig" and joint_map.scale == 0.02 and joint_map.up == "y"
    assert joint_map.joints["spine3"] == (("Chest", 1.0),)
    assert dict(joint_map.joints["left_collar"]) == {"Chest": 0.25, "Shoulder_L": 0.75}
    assert joint_map.joints["pelvis"] == BUILTIN_MAPS["bandai"].joints["pelvis"]


def test_user_identity_map_retargets(tmp_path: Path) -> None:
    joints, motion = smpl_bvh(frames=21)
    path = tmp_path / "smpl.toml"
    path.write_text(identity_map(scale=1.0).to_toml())
    out = retarget(motion, str(path), fps=10)
    np.testing.assert_allclose(out, joints[::2], atol=1e-9)


BAD_MAPS = {
    "unknown smpl joint": ('[joints]\nleft_kne = "LeftLeg"\n', "did you mean 'left_knee'"),
    "missing joints": ('[joints]\npelvis = "Hips"\n', "no source joint given for left_hip"),
    "bad scale": ('[skeleton]\nscale = -1\n[joints]\npelvis = "Hips"\n', "scale"),
    "string scale": ('[skeleton]\nscale = "cm"\n[joints]\npelvis = "Hips"\n', "scale"),
    "bad up": ('[skeleton]\nup = "w"\nbase = "cmu"\n[joints]\n', "up must be one of y, z"),
    "bad base": ('[skeleton]\nbase = "cum"\n[joints]\npelvis = "Hips"\n', "did you mean 'cmu'"),
    "unknown key": ('[skeleton]\nscael = 1\n[joints]\npelvis = "Hips"\n', "did you mean 'scale'"),
    "unknown table": ('[joint]\npelvis = "Hips"\n', "did you mean 'joints'"),
    "no joints": ('[skeleton]\nname = "x"\n', "missing [joints]"),
    "bad toml": ('[joints\npelvis = "Hips"\n', "not valid TOML"),
    "bad value": ("[skeleton]\nbase = 'cmu'\n[joints]\npelvis = 3\n", "expected a joint name"),
    "zero weight": ("[skeleton]\nbase = 'cmu'\n[joints]\npelvis = { Hips = 0 }\n", "non-zero"),
    "negative sum": (
        "[skeleton]\nbase = 'cmu'\n[joints]\npelvis = { Hips = 1, Spine = -2 }\n",
        "add up to a positive",
    ),
    "empty list": ("[skeleton]\nbase = 'cmu'\n[joints]\npelvis = []\n", "at least one"),
}


@pytest.mark.parametrize("case", sorted(BAD_MAPS))
def test_bad_user_maps_raise_one_line_errors(case: str, tmp_path: Path) -> None:
    text, needle = BAD_MAPS[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(JointMapError) as info:
        load_joint_map(path)
    assert needle in str(info.value), str(info.value)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_map_file(tmp_path: Path) -> None:
    with pytest.raises(JointMapError, match="not found"):
        load_joint_map(tmp_path / "nope.toml")


# ---- real data -------------------------------------------------------------------------------


def _stature(joints: np.ndarray) -> float:
    """Standing height estimate: highest head joint above the lowest point, plus the ~0.15 m
    from the head joint (base of the skull in these skeletons) to the top of the head."""
    return float(joints[:, HEAD, 1].max() - joints[..., 1].min() + 0.15)


@needs_data
@pytest.mark.parametrize(
    ("file", "skeleton", "source_rate"),
    [
        ("cmu_bvh/02_01.bvh", "cmu", 120),
        ("cmu_bvh/131_02.bvh", "cmu", 120),  # the other CMU naming (LeftHip, Chest2, ...)
        ("bandai_dataset1/data/dataset-1_walk_normal_001.bvh", "bandai", 30),
        ("bandai_dataset1/data/dataset-1_bow_happy_001.bvh", "bandai", 30),
    ],
)
def test_retarget_real_files(file: str, skeleton: str, source_rate: int) -> None:
    motion = read_bvh(CMU.parent / file)
    assert detect_skeleton(motion) == skeleton
    joints = retarget(motion, skeleton)
    expected_frames = (motion.num_frames - 1) * 20 // source_rate + 1
    assert joints.shape == (expected_frames, 22, 3)
    assert np.isfinite(joints).all()
    # Y up, metres: the head is above the pelvis, the feet below it, a plausible human.
    assert (joints[:, HEAD, 1] > joints[:, PELVIS, 1]).mean() > 0.95
    assert (joints[:, FEET, 1].mean(1) < joints[:, PELVIS, 1]).mean() > 0.95
    assert 0.7 < joints[:, PELVIS, 1].mean() < 1.15
    assert 1.4 < _stature(joints) < 2.0
    # Feet near the floor after the feature extraction (floor = lowest joint over the clip).
    recovered = recover_from_ric(extract_features(joints))
    lowest_foot = recovered[:, FEET, 1].min(axis=1)
    assert np.median(lowest_foot) < 0.1
    assert 0.75 < np.median(recovered[:, PELVIS, 1]) < 1.1


@needs_data
def test_cmu_subsampling_is_exact() -> None:
    motion = read_bvh(CMU / "02_01.bvh")
    full = to_smpl_positions(motion, BUILTIN_MAPS["cmu"])
    np.testing.assert_allclose(retarget(motion, "cmu"), full[::6], atol=1e-9)


@needs_data
def test_detect_every_real_file() -> None:
    for path in sorted(CMU.glob("*.bvh")):
        assert detect_skeleton(read_bvh(path)) == "cmu", path
    for path in sorted(BANDAI.glob("*.bvh"))[:20]:
        assert detect_skeleton(read_bvh(path)) == "bandai", path


@needs_data
def test_wrong_skeleton_error_suggests_the_right_one() -> None:
    motion = read_bvh(BANDAI / "dataset-1_walk_normal_001.bvh")
    with pytest.raises(JointMapError, match="use --skeleton bandai"):
        retarget(motion, "cmu")
