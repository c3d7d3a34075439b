"""BVH reading and writing (motionkit.motion.bvh) and SMPL export (motionkit.motion.bvh_export)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from motionkit.errors import MotionkitError
from motionkit.motion import quaternion as quat
from motionkit.motion.bvh import BVHError, BVHMotion, parse_bvh, read_bvh, write_bvh
from motionkit.motion.bvh_export import joints_to_bvh
from motionkit.motion.skeleton import SMPL22

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CMU = DATA / "cmu_bvh"
BANDAI = DATA / "bandai_dataset1" / "data"
needs_data = pytest.mark.skipif(
    not (CMU.is_dir() and BANDAI.is_dir()),
    reason=f"real motion data not found at {DATA} (only in the project's shared workspace)",
)


def cmu_files() -> list[Path]:
    return sorted(CMU.glob("*.bvh")) if CMU.is_dir() else []


def bandai_files() -> list[Path]:
    return sorted(BANDAI.glob("*.bvh")) if BANDAI.is_dir() else []


def quat_angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between rotations given as unit quaternions (sign-insensitive)."""
    dot = np.abs(np.sum(a * b, axis=-1)).clip(0.0, 1.0)
    return np.degrees(2 * np.arccos(dot))


def axis_matrix(axis: str, degrees: float) -> np.ndarray:
    """An independent right-handed rotation matrix about one axis (test oracle)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return {
        "X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


def assert_same_motion(a: BVHMotion, b: BVHMotion, tol: float = 1e-4) -> None:
    assert a.names == b.names
    np.testing.assert_array_equal(a.parents, b.parents)
    assert a.channels == b.channels
    np.testing.assert_allclose(a.offsets, b.offsets, atol=tol)
    assert set(a.end_sites) == set(b.end_sites)
    assert a.frame_time == pytest.approx(b.frame_time, rel=1e-6)
    assert a.num_frames == b.num_frames
    assert quat_angle_deg(a.rotations, b.rotations).max(initial=0.0) < tol
    np.testing.assert_allclose(a.translations, b.translations, atol=tol)


# A root at (1, 2, 3) turned 90 degrees about Z, a child one unit up (+Y), and a grandchild
# one unit up again whose parent (the child) is turned 90 degrees about X.
TINY = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Chest
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 1 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 0.5 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.05
1 2 3 90 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 90 0 0 0 0
"""


# ---- hand-written files ----------------------------------------------------------------------


def test_tiny_bvh_forward_kinematics() -> None:
    m = parse_bvh(TINY)
    assert m.names == ["Hips", "Chest", "Head"]
    assert list(m.parents) == [-1, 0, 1]
    assert m.fps == pytest.approx(20.0)
    assert m.position_joints == [0]
    np.testing.assert_allclose(m.end_sites[2], [0, 0.5, 0])
    g = m.global_positions()
    assert g.shape == (2, 3, 3)
    # Rz(90) takes +Y to -X.
    np.testing.assert_allclose(g[0], [[1, 2, 3], [0, 2, 3], [-1, 2, 3]], atol=1e-12)
    # Frame 1: the chest also turns 90 degrees about X, taking +Y to +Z, then Rz(90) keeps Z.
    np.testing.assert_allclose(g[1], [[1, 2, 3], [0, 2, 3], [0, 2, 4]], atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_every_rotation_order(order: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(len(order) + ord(order[0]) * 7 + ord(order[1]))
    angles = rng.uniform(-170, 170, size=(5, 3))
    angles[:, 1] = rng.uniform(-80, 80, size=5)  # keep away from gimbal lock: unique angles
    angles = np.round(angles, 6)  # exactly what the file holds
    channels = " ".join(f"{a}rotation" for a in order)
    frames = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in angles)
    text = (
        "HIERARCHY\nROOT J\n{\n OFFSET 0 0 0\n CHANNELS 3 " + channels + "\n End Site\n {\n"
        "  OFFSET 1 2 3\n }\n}\nMOTION\nFrames: 5\nFrame Time: 0.1\n" + frames + "\n"
    )
    m = parse_bvh(text)
    tip = np.array([1.0, 2.0, 3.0])
    for t in range(5):
        expected = (
            axis_matrix(order[0], angles[t, 0])
            @ axis_matrix(order[1], angles[t, 1])
            @ axis_matrix(order[2], angles[t, 2])
        )
        got = m.global_transforms()[0][t, 0]
        np.testing.assert_allclose(got, expected, atol=1e-9)
        np.testing.assert_allclose(got @ tip, expected @ tip, atol=1e-9)
    write_bvh(tmp_path / "o.bvh", m)
    back = read_bvh(tmp_path / "o.bvh")
    assert_same_motion(m, back)
    # Away from gimbal lock the written Euler angles are the original ones (up to the
    # multiples of 360 degrees that the writer's unwrapping over time adds).
    written = np.array(
        [line.split() for line in (tmp_path / "o.bvh").read_text().splitlines()[-5:]], float
    )
    np.testing.assert_allclose((written - angles + 180) % 360 - 180, 0, atol=1e-5)


def test_whitespace_crlf_tabs_and_header_variants() -> None:
    text = TINY.replace("  ", "\t").replace("\n", "\r\n")
    text = text.replace("Frames: 2", "Frames:2").replace("Frame Time: 0.05", "Frame Time:\t0.05")
    text = text.replace("Zrotation", "zrotation", 1)  # channel names are case-insensitive
    text += "\r\n\r\n"  # trailing blank lines are fine
    m = parse_bvh(text)
    np.testing.assert_allclose(m.global_positions(), parse_bvh(TINY).global_positions())


def test_position_channels_on_any_joint_replace_the_offset() -> None:
    text = TINY.replace(
        "OFFSET 0 1 0\n    CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT Head",
        "OFFSET 0 1 0\n    CHANNELS 4 Yposition Zrotation Xrotation Yrotation\n    JOINT Head",
    )
    text = text.replace("1 2 3 90 0 0 0 0 0", "1 2 3 90 0 0 5 0 0 0").replace(
        "1 2 3 90 0 0 0 90 0", "1 2 3 90 0 0 5 0 90 0"
    )
    m = parse_bvh(text)
    assert m.channels[1] == ("Yposition", "Zrotation", "Xrotation", "Yrotation")
    np.testing.assert_allclose(m.translations[:, 1], [[0, 5, 0], [0, 5, 0]])
    np.testing.assert_allclose(m.global_positions()[0, 1], [-4, 2, 3], atol=1e-12)


def test_values_wrapped_over_lines_are_accepted() -> None:
    text = TINY.replace("1 2 3 90 0 0 0 0 0 0 0 0", "1 2 3 90 0 0\n0 0 0 0 0 0")
    np.testing.assert_allclose(parse_bvh(text).rotations, parse_bvh(TINY).rotations)


def test_zero_frames() -> None:
    m = parse_bvh(TINY.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.05\n")
    assert m.num_frames == 0
    assert m.global_positions().shape == (0, 3, 3)


# ---- errors ----------------------------------------------------------------------------------

CORRUPT = {
    "truncated frames": (TINY.rsplit("\n", 2)[0] + "\n", "truncated"),
    "truncated mid-line": (TINY[: TINY.rindex(" 0 0 0")] + "\n", "line 25: frame 1 has"),
    "truncated hierarchy": (TINY[: TINY.index("JOINT Head")], "unexpected end of file"),
    "too many values": (TINY.replace("1 2 3 90 0 0 0 0 0 0 0 0", "1 2 3 90 0 0 0 0 0 0 0 0 7"),
                        "line 24: frame 0 has 13 values, expected 12"),
    "NaN": (TINY.replace("1 2 3 90 0 0 0 90", "1 2 nan 90 0 0 0 90"), "line 25"),
    "inf": (TINY.replace("1 2 3 90 0 0 0 90", "1 2 inf 90 0 0 0 90"), "'inf'"),
    "non-numeric": (TINY.replace("1 2 3 90 0 0 0 90", "1 2 x 90 0 0 0 90"), "'x'"),
    "extra frames": (TINY + "1 2 3 90 0 0 0 0 0 0 0 0\n", "more frame lines"),
    "unknown channel": (TINY.replace("Xrotation", "Xrotaton", 1), "did you mean 'Xrotation'"),
    "bad offset": (TINY.replace("OFFSET 0 1 0", "OFFSET 0 one 0", 1), "line 8"),
    "nan offset": (TINY.replace("OFFSET 0 1 0", "OFFSET 0 nan 0", 1), "finite"),
    "bad frame count": (TINY.replace("Frames: 2", "Frames: two"), "whole number"),
    "negative frame time": (TINY.replace("0.05", "-0.05"), "positive"),
    "missing frame time": (TINY.replace("Frame Time: 0.05", "Time 0.05"), "Frame Time"),
    "not bvh": ("hello world\n", "not a BVH file"),
    "empty": ("", "empty file"),
    "no brace": (TINY.replace("{\n  OFFSET 0 0 0", "  OFFSET 0 0 0", 1), "expected '{'"),
    "bad keyword": (TINY.replace("JOINT Chest", "JIONT Chest"), "got 'JIONT'"),
    "no name": (TINY.replace("JOINT Chest", "JOINT"), "joint name"),
    "bad channel count": (TINY.replace("CHANNELS 3", "CHANNELS three", 1), "CHANNELS <count>"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_files_raise_one_line_errors(case: str, tmp_path: Path) -> None:
    text, needle = CORRUPT[case]
    path = tmp_path / "broken.bvh"
    path.write_text(text)
    with pytest.raises(BVHError) as info:
        read_bvh(path)
    message = str(info.value)
    assert isinstance(info.value, MotionkitError)
    assert "\n" not in message
    assert str(path) in message
    assert needle in message, message


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(BVHError, match="no such file"):
        read_bvh(tmp_path / "absent.bvh")
    (tmp_path / "bin.bvh").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(BVHError, match="not a BVH file"):
        read_bvh(tmp_path / "bin.bvh")


def test_motion_validation() -> None:
    m = parse_bvh(TINY)
    with pytest.raises(BVHError, match="rotations must be"):
        BVHMotion(
            m.names, m.parents, m.offsets, m.channels, m.rotations[:, :2], m.translations, 0.1
        )
    with pytest.raises(BVHError, match="frame_time"):
        BVHMotion(m.names, m.parents, m.offsets, m.channels, m.rotations, m.translations, 0.0)
    with pytest.raises(BVHError, match="cycle"):
        BVHMotion(m.names, [2, 0, 1], m.offsets, m.channels, m.rotations, m.translations, 0.1)
    with pytest.raises(BVHError, match="unknown BVH channel"):
        BVHMotion(
            m.names,
            m.parents,
            m.offsets,
            [("Wrotation",), (), ()],
            m.rotations,
            m.translations,
            0.1,
        )
    with pytest.raises(BVHError, match="did you mean 'Chest'"):
        m.index("Chets")


def test_writer_refuses_rotation_it_cannot_express(tmp_path: Path) -> None:
    m = parse_bvh(TINY)
    m.channels[1] = ("Zrotation", "Xrotation")  # two axes cannot hold a general rotation
    with pytest.raises(BVHError, match="three distinct axes"):
        write_bvh(tmp_path / "x.bvh", m)
    assert not list(tmp_path.iterdir())  # nothing half-written


# ---- real files ------------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize("path", cmu_files(), ids=lambda p: p.stem)
def test_cmu_files_parse(path: Path) -> None:
    m = read_bvh(path)
    header = path.read_text().split("Frames:")[1].split()[0]
    assert m.num_joints == 31
    assert m.num_frames == int(header)
    assert m.frame_time == pytest.approx(1 / 120, rel=1e-3)
    assert m.channels[0][:3] == ("Xposition", "Yposition", "Zposition")
    g = m.global_positions()
    assert g.shape == (m.num_frames, 31, 3) and np.isfinite(g).all()


@needs_data
def test_all_bandai_files_parse() -> None:
    files = bandai_files()
    assert len(files) == 174
    for path in files:
        m = read_bvh(path)
        assert m.num_joints == 22, path
        assert all(len(c) == 6 for c in m.channels), path
        assert m.frame_time == pytest.approx(1 / 30, rel=1e-5), path
        assert m.num_frames >= 20 and np.isfinite(m.rotations).all(), path


@needs_data
def test_real_files_round_trip(tmp_path: Path) -> None:
    for path in [*cmu_files()[:2], *bandai_files()[:3]]:
        m = read_bvh(path)
        write_bvh(tmp_path / path.name, m)
        back = read_bvh(tmp_path / path.name)
        assert_same_motion(m, back)
        np.testing.assert_allclose(back.global_positions(), m.global_positions(), atol=1e-3)


@needs_data
def test_cmu_written_values_equal_the_originals(tmp_path: Path) -> None:
    path = cmu_files()[0]
    write_bvh(tmp_path / "o.bvh", read_bvh(path))
    original = np.array(path.read_text().split("Frame Time:")[1].split()[1:], float)
    written = np.array((tmp_path / "o.bvh").read_text().split("Frame Time:")[1].split()[1:], float)
    np.testing.assert_allclose(written, original, atol=2e-6)


@pytest.mark.slow
@needs_data
def test_every_real_file_round_trips(tmp_path: Path) -> None:
    for path in [*cmu_files(), *bandai_files()]:
        m = read_bvh(path)
        write_bvh(tmp_path / "o.bvh", m)
        assert_same_motion(m, read_bvh(tmp_path / "o.bvh"))


# ---- SMPL export -----------------------------------------------------------------------------


def smpl_motion(frames: int = 30, seed: int = 0) -> BVHMotion:
    """A synthetic walk-like motion on the SMPL22 reference skeleton (BVH-style FK)."""
    rng = np.random.default_rng(seed)
    n = SMPL22.num_joints
    t = np.arange(frames)[:, None] / 20.0
    amp = rng.uniform(5, 30, size=(n, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 3))
    angles = amp * np.sin(2 * np.pi * 0.8 * t[..., None] + phase)  # (T, J, 3) degrees
    angles[:, 0, 1] += 40 * t[:, 0]  # a slow turn
    text_channels = [("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")]
    text_channels += [("Zrotation", "Yrotation", "Xrotation")] * (n - 1)
    rotations = quat.euler_to_quat(angles, "ZYX", degrees=True)
    translations = np.broadcast_to(SMPL22.offsets, (frames, n, 3)).copy()
    translations[:, 0] = np.stack([0.3 * t[:, 0], 0.9 + 0.02 * np.sin(9 * t[:, 0]), t[:, 0]], -1)
    return BVHMotion(
        list(SMPL22.joint_names),
        SMPL22.parents,
        SMPL22.offsets,
        text_channels,
        rotations,
        translations,
        1 / 20,
    )


@pytest.mark.parametrize("rest", ["input", "reference"])
def test_joints_to_bvh_reproduces_positions(rest: str, tmp_path: Path) -> None:
    joints = smpl_motion().global_positions()
    motion = joints_to_bvh(joints, fps=20, rest=rest)
    np.testing.assert_allclose(motion.global_positions(), joints, atol=1e-9)
    write_bvh(tmp_path / "smpl.bvh", motion)
    back = read_bvh(tmp_path / "smpl.bvh")
    order = [back.names.index(name) for name in SMPL22.joint_names]
    np.testing.assert_allclose(back.global_positions()[:, order], joints, atol=1e-4)
    assert back.fps == pytest.approx(20.0)


def test_joints_to_bvh_file_layout(tmp_path: Path) -> None:
    motion = joints_to_bvh(smpl_motion(frames=3).global_positions())
    write_bvh(tmp_path / "smpl.bvh", motion)
    back = read_bvh(tmp_path / "smpl.bvh")
    assert sorted(back.names) == sorted(SMPL22.joint_names)
    assert back.names[0] == "pelvis"
    assert back.channels[0] == (
        "Xposition",
        "Yposition",
        "Zposition",
        "Zrotation",
        "Yrotation",
        "Xrotation",
    )
    assert all(c == ("Zrotation", "Yrotation", "Xrotation") for c in back.channels[1:])
    leaves = {back.names[j] for j in back.end_sites}
    assert leaves == {"head", "left_foot", "right_foot", "left_wrist", "right_wrist"}
    # Rest pose stands on the floor: its lowest joint is at y = 0.
    rest = np.zeros((back.num_joints, 3))
    for j in range(back.num_joints):
        p = back.parents[j]
        rest[j] = back.offsets[j] + (rest[p] if p >= 0 else 0)
    assert rest[:, 1].min() == pytest.approx(0.0, abs=1e-6)


@needs_data
def test_joints_to_bvh_on_humanml3d_joints(tmp_path: Path) -> None:
    joints = np.load(DATA / "humanml3d_sample" / "new_joints" / "000000.npy").astype(np.float64)
    write_bvh(tmp_path / "h.bvh", joints_to_bvh(joints))
    back = read_bvh(tmp_path / "h.bvh")
    order = [back.names.index(name) for name in SMPL22.joint_names]
    np.testing.assert_allclose(back.global_positions()[:, order], joints, atol=1e-4)


def test_joints_to_bvh_rejects_bad_input() -> None:
    with pytest.raises(BVHError, match=r"\(T, 22, 3\)"):
        joints_to_bvh(np.zeros((4, 21, 3)))
    bad = smpl_motion(frames=2).global_positions()
    bad[1, 3, 0] = np.nan
    with pytest.raises(BVHError, match="NaN"):
        joints_to_bvh(bad)
    with pytest.raises(BVHError, match="rest"):
        joints_to_bvh(smpl_motion(frames=2).global_positions(), rest="tpose")
