"""Stick-figure rendering: GIF/PNG/MP4 output, the readers behind it and the ``render`` command."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import motionkit.viz.render as viz
from motionkit.cli import cli
from motionkit.motion.skeleton import SMPL22
from motionkit.viz.motion import (
    BODY_PARTS,
    Motion,
    RenderError,
    body_root,
    chains_from_parents,
    joint_side,
    load_motion,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BANDAI_BOW = DATA / "bandai_dataset1" / "data" / "dataset-1_bow_active_001.bvh"
HUMANML3D = DATA / "humanml3d_sample"
SMALL = ("--size", "160x120", "--dpi", "40")  # small pictures keep the tests fast


def walking_joints(frames: int = 20) -> np.ndarray:
    """A stick figure on the SMPL22 skeleton walking along +Z: legs and arms swing about X."""
    rest = np.zeros((22, 3))
    for joint in range(1, 22):
        rest[joint] = rest[SMPL22.parents[joint]] + SMPL22.offsets[joint]
    rest[:, 1] -= rest[:, 1].min()
    descendants = {j: {j} for j in range(22)}
    for joint in range(21, 0, -1):
        descendants[SMPL22.parents[joint]] |= descendants[joint]
    poses = []
    for t in range(frames):
        pose = rest.copy()
        swing = 0.5 * np.sin(2 * np.pi * t / frames)
        for pivot, sign in ((1, 1.0), (2, -1.0), (16, -1.0), (17, 1.0)):  # hips and shoulders
            angle = sign * swing
            c, s = np.cos(angle), np.sin(angle)
            rotation = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
            moving = sorted(descendants[pivot] - {pivot})
            pose[moving] = (pose[moving] - pose[pivot]) @ rotation.T + pose[pivot]
        pose[:, 2] += 0.05 * t
        poses.append(pose)
    joints = np.stack(poses)
    joints[..., 1] -= joints[..., 1].min()
    return joints


@pytest.fixture
def walker_file(tmp_path: Path) -> Path:
    path = tmp_path / "walk.npy"
    np.save(path, walking_joints())
    return path


@pytest.fixture
def invoke():
    runner = CliRunner()

    def run(*args: object):
        return runner.invoke(cli, ["render", *(str(a) for a in args)])

    return run


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def gif_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        assert image.format == "GIF"
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
    return frames


def test_gif_of_joints(walker_file: Path, tmp_path: Path, invoke) -> None:
    out = tmp_path / "walk.gif"
    result = invoke(walker_file, "--out", out, "--title", "a person walks forward", *SMALL)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "20 frames at 20 fps" in result.stdout
    frames = gif_frames(out)
    assert len(frames) == 20
    with Image.open(out) as image:
        assert image.size == (160, 120)
        assert image.info["duration"] == 50  # 20 fps
        assert image.info.get("loop") == 0
    for frame in frames:
        assert frame.shape == (120, 160, 3)
        assert (frame.min(axis=-1) < 200).mean() > 0.005  # bones, floor and text are drawn
    assert not np.array_equal(frames[0], frames[5])
    assert np.abs(frames[0].astype(int) - frames[10]).sum(axis=-1).astype(bool).sum() > 100
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_left_and_right_get_their_colours(tmp_path: Path) -> None:
    assert set(viz.PART_COLOURS) == set(BODY_PARTS)  # a colour for every body part
    motion = Motion(walking_joints(), SMPL22.chains, ("trunk",) * 5, SMPL22.fps)
    coloured = load_motion(_save(tmp_path / "w.npy", walking_joints()))
    assert coloured.parts == ("right_leg", "left_leg", "trunk", "right_arm", "left_arm")
    (plain,) = viz.render_frames(motion, frames=[0], size=(160, 160), dpi=40)
    (image,) = viz.render_frames(coloured, frames=[0], size=(160, 160), dpi=40)
    red = (image[..., 0] > 150) & (image[..., 1] < 90) & (image[..., 2] < 90)
    blue = (image[..., 2] > 150) & (image[..., 0] < 90)
    assert red.sum() > 20 and blue.sum() > 20
    assert ((plain[..., 2] > 150) & (plain[..., 0] < 90)).sum() < blue.sum()


def _save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def test_frame_to_png(walker_file: Path, tmp_path: Path, invoke) -> None:
    out = tmp_path / "pose.png"
    result = invoke(walker_file, "--frame", -1, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (160, 120)
    motion = load_motion(walker_file)
    viz.plot_pose(motion, tmp_path / "first.png", frame=0, size=(100, 80), dpi=40)
    with Image.open(tmp_path / "first.png") as image:
        assert image.size == (100, 80)
    assert_one_line_error(
        invoke(walker_file, "--frame", 20, "--out", out, "--overwrite"), "out of range"
    )
    assert_one_line_error(invoke(walker_file, "--frame", 3, "--out", tmp_path / "a.gif"), ".png")
    assert_one_line_error(invoke(walker_file, "--out", out), "--frame")


def test_frame_rates() -> None:
    assert viz.frame_indices(20, 20.0, None) == (list(range(20)), 20.0)
    assert viz.frame_indices(10, 30.00003, None)[0] == list(range(10))  # Bandai's frame time
    indices, rate = viz.frame_indices(343, 120.0048, None)  # CMU: every 4th frame, 30 fps
    assert indices == list(range(0, 343, 4)) and rate == pytest.approx(30.0012)
    assert viz.frame_indices(21, 20.0, 10.0) == (list(range(0, 21, 2)), 10.0)  # real time
    assert viz.frame_indices(5, 20.0, 20.0) == ([0, 1, 2, 3, 4], 20.0)
    with pytest.raises(RenderError, match="positive"):
        viz.frame_indices(5, 20.0, 0.0)


def test_fps_option_resamples(walker_file: Path, tmp_path: Path, invoke) -> None:
    out = tmp_path / "slow.gif"
    result = invoke(walker_file, "--out", out, "--fps", 10, "--no-trail", "--no-floor", *SMALL)
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.n_frames == 10 and image.info["duration"] == 100
    assert_one_line_error(
        invoke(walker_file, "--out", out, "--fps", 100, "--overwrite"), "at most 50 fps"
    )


def test_features_input(tmp_path: Path, invoke) -> None:
    from motionkit.motion.features import extract_features, recover_from_ric

    features = extract_features(walking_joints(), SMPL22)
    path = _save(tmp_path / "features.npy", features)
    motion = load_motion(path)
    assert motion.num_frames == features.shape[0]
    np.testing.assert_allclose(motion.joints, recover_from_ric(features, SMPL22), atol=1e-6)
    # normalised features render after --mean/--std undo the normalisation
    mean, std = features.mean(axis=0), features.std(axis=0) + 0.5
    np.save(tmp_path / "mean.npy", mean)
    np.save(tmp_path / "std.npy", std)
    normalised = _save(tmp_path / "normalised.npy", (features - mean) / std)
    again = load_motion(normalised, mean=tmp_path / "mean.npy", std=tmp_path / "std.npy")
    np.testing.assert_allclose(again.joints, motion.joints, atol=1e-5)
    out = tmp_path / "features.gif"
    result = invoke(normalised, "--out", out, "--mean", tmp_path / "mean.npy", *SMALL,
                    "--std", tmp_path / "std.npy")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(gif_frames(out)) == features.shape[0]
    assert_one_line_error(
        invoke(normalised, "--out", out, "--mean", tmp_path / "mean.npy"), "--std"
    )


@pytest.mark.skipif(
    not HUMANML3D.is_dir(), reason=f"real HumanML3D sample not found at {HUMANML3D}"
)
def test_real_features_decode_to_their_joints() -> None:
    motion = load_motion(HUMANML3D / "new_joint_vecs" / "000000.npy")
    joints = np.load(HUMANML3D / "new_joints" / "000000.npy")
    assert motion.fps == 20.0
    np.testing.assert_allclose(motion.joints, joints, atol=1e-5)


def test_kit_joints_and_features(tmp_path: Path) -> None:
    from motionkit.motion.features import extract_features
    from motionkit.motion.skeleton import KIT21

    rest = np.zeros((21, 3))
    for joint in range(1, 21):
        rest[joint] = rest[KIT21.parents[joint]] + KIT21.offsets[joint]
    joints = rest[None] + np.linspace(0, 1, 6)[:, None, None] * np.array([0.0, 0.0, 0.2])
    joints[..., 1] -= joints[..., 1].min()
    motion = load_motion(_save(tmp_path / "kit.npy", joints))
    assert motion.fps == KIT21.fps and motion.num_joints == 21
    assert motion.parts == ("left_leg", "right_leg", "trunk", "left_arm", "right_arm")
    features = extract_features(joints, KIT21)
    assert load_motion(_save(tmp_path / "kit_features.npy", features)).num_joints == 21
    viz.plot_pose(motion, tmp_path / "kit.png", size=(120, 120), dpi=40)
    assert (tmp_path / "kit.png").is_file()


def test_bvh_of_any_hierarchy(tmp_path: Path, invoke) -> None:
    from motionkit.motion.bvh import write_bvh
    from motionkit.motion.bvh_export import joints_to_bvh

    joints = walking_joints(12)
    path = write_bvh(tmp_path / "walk.bvh", joints_to_bvh(joints * 100.0, fps=20.0))  # in cm
    motion = load_motion(path)
    assert motion.num_frames == 12 and motion.fps == pytest.approx(20.0)
    assert set(motion.parts) == {"left_leg", "right_leg", "trunk", "left_arm", "right_arm"}
    out = tmp_path / "walk.gif"
    result = invoke(path, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    assert len(gif_frames(out)) == 12


@pytest.mark.skipif(not BANDAI_BOW.is_file(), reason=f"Bandai BVH sample not found at {BANDAI_BOW}")
def test_bandai_bvh(tmp_path: Path, invoke) -> None:
    motion = load_motion(BANDAI_BOW)
    assert motion.num_joints == 22 and motion.fps == pytest.approx(30.0, rel=1e-4)
    assert motion.root == 1  # the carrier joint_Root on the floor is not the body's root
    assert {"left_leg", "right_leg", "left_arm", "right_arm", "trunk"} == set(motion.parts)
    out = tmp_path / "bow.gif"
    result = invoke(BANDAI_BOW, "--out", out, "--fps", 5, *SMALL)
    assert result.exit_code == 0, result.output
    expected, _ = viz.frame_indices(motion.num_frames, motion.fps, 5.0)
    assert len(gif_frames(out)) == len(expected)


def test_chains_sides_and_root_from_a_hierarchy() -> None:
    # carrier -> hips -> (spine -> head, l_leg -> l_foot, r_leg -> r_foot)
    parents = [-1, 0, 1, 2, 1, 4, 1, 6]
    assert body_root(parents) == 1
    assert chains_from_parents(parents) == ((0, 1), (1, 2, 3), (1, 4, 5), (1, 6, 7))
    assert chains_from_parents(parents, start=1) == ((1, 2, 3), (1, 4, 5), (1, 6, 7))
    assert body_root([-1, 0, 1]) == 0  # an unbranched chain keeps its root
    for name, side in [
        ("LeftUpLeg", "left"), ("LHipJoint", "left"), ("Shoulder_L", "left"), ("l_hip", "left"),
        ("mixamorig:RightArm", "right"), ("RThumb", "right"), ("UpperLeg_R", "right"),
        ("LowerBack", "center"), ("Hips", "center"), ("right_wrist", "right"),
    ]:  # fmt: skip
        assert joint_side(name) == side, name


@pytest.mark.parametrize(
    ("content", "name", "fragment"),
    [
        (np.zeros((10, 5)), "wide.npy", "got shape (T, 5)"),
        (np.zeros((10, 7, 3)), "joints.npy", "got shape (T, 7, 3)"),
        (np.zeros((2, 3, 4, 5)), "4d.npy", "got shape (2, 3, 4, 5)"),
        (np.zeros((0, 22, 3)), "empty.npy", "no frames"),
        (None, "nan.npy", "NaN"),
        (b"\x93NUMPY garbage", "corrupt.npy", "not a valid .npy file"),
        (b"HIERARCHY\nROOT Hips\n{\n", "broken.bvh", "broken.bvh"),
        (b"frames", "motion.txt", "unknown extension '.txt'"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    tmp_path: Path, invoke, content: object, name: str, fragment: str
) -> None:
    path = tmp_path / name
    if content is None:
        joints = walking_joints(4)
        joints[2, 5, 1] = np.nan
        np.save(path, joints)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    assert_one_line_error(invoke(path, "--out", tmp_path / "out.gif"), fragment)
    assert not (tmp_path / "out.gif").exists()


def test_bad_options_are_one_line_errors(walker_file: Path, tmp_path: Path, invoke) -> None:
    out = tmp_path / "out.gif"
    assert_one_line_error(invoke(tmp_path / "missing.npy", "--out", out), "no such file")
    assert_one_line_error(invoke(walker_file, "--out", out, "--skeleton", "kit21"), "kit21")
    assert_one_line_error(invoke(walker_file, "--out", tmp_path / "a.webm"), "'.webm'")
    result = invoke(walker_file, "--out", out, "--size", "big")
    assert result.exit_code == 2 and "WIDTHxHEIGHT" in result.stderr


def test_mp4_without_ffmpeg(walker_file: Path, tmp_path: Path, invoke, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "walk.mp4"
    assert_one_line_error(invoke(walker_file, "--out", out), "ffmpeg not found", ".gif")
    assert not out.exists()


def _fake_ffmpeg(folder: Path, exit_code: int) -> None:
    """An ``ffmpeg`` on PATH that reads the raw frames and writes their count to its output."""
    folder.mkdir()
    script = folder / "ffmpeg"
    script.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(f"""
            import sys
            data = sys.stdin.buffer.read()
            args = sys.argv[1:]
            width, height = map(int, args[args.index("-s") + 1].split("x"))
            if {exit_code}:
                sys.stderr.write("fake encoder failure\\n")
                sys.exit({exit_code})
            with open(args[-1], "w") as out:
                out.write(str(len(data) // (width * height * 3)))
        """)
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.mark.skipif(os.name == "nt", reason="the fake ffmpeg is a POSIX script")
def test_mp4_pipes_frames_to_ffmpeg(walker_file: Path, tmp_path: Path, invoke, monkeypatch) -> None:
    _fake_ffmpeg(tmp_path / "bin", exit_code=0)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    out = tmp_path / "walk.mp4"
    result = invoke(walker_file, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    assert out.read_text() == "20"


@pytest.mark.skipif(os.name == "nt", reason="the fake ffmpeg is a POSIX script")
def test_failed_renders_leave_the_old_file(
    walker_file: Path, tmp_path: Path, invoke, monkeypatch
) -> None:
    _fake_ffmpeg(tmp_path / "bin", exit_code=3)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    for name in ("old.mp4", "old.gif"):
        (tmp_path / name).write_bytes(b"previous content")
    message = assert_one_line_error(
        invoke(walker_file, "--out", tmp_path / "old.mp4", "--overwrite", *SMALL)
    )
    assert "fake encoder failure" in message
    # a failure in the middle of a GIF render
    draw = viz._Scene.draw

    def failing_draw(scene, frame: int) -> np.ndarray:
        if frame == 7:
            raise RenderError("simulated failure at frame 7")
        return draw(scene, frame)

    monkeypatch.setattr(viz._Scene, "draw", failing_draw)
    assert_one_line_error(
        invoke(walker_file, "--out", tmp_path / "old.gif", "--overwrite", *SMALL), "frame 7"
    )
    for name in ("old.mp4", "old.gif"):
        assert (tmp_path / name).read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["bin", "old.gif", "old.mp4", "walk.npy"]
    )


def test_render_through_the_motionkit_command(walker_file: Path, tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(cli, ["render", str(walker_file), "--out", str(tmp_path / "x.txt")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: cannot write x.txt: unknown output format '.txt' (use .gif or .mp4)"
    ]
    out = tmp_path / "w.gif"
    result = runner.invoke(cli, ["render", str(walker_file), "--out", str(out), *SMALL])
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_motion_validation(tmp_path: Path) -> None:
    joints = walking_joints(3)
    with pytest.raises(RenderError, match=r"\(T, J, 3\)"):
        Motion(joints[0], SMPL22.chains, ("trunk",) * 5, 20.0)
    with pytest.raises(RenderError, match="bad chain"):
        Motion(joints, ((0, 30),), ("trunk",), 20.0)
    with pytest.raises(RenderError, match="unknown body parts"):
        Motion(joints, ((0, 1),), ("tail",), 20.0)
    motion = load_motion(_save(tmp_path / "j.npy", joints))
    with pytest.raises(RenderError, match="at least 16x16"):
        viz.plot_pose(motion, tmp_path / "tiny.png", size=(8, 8))
    assert not (tmp_path / "tiny.png").exists()


def test_an_existing_out_is_replaced_only_with_overwrite(invoke, walker_file, tmp_path):
    out = tmp_path / "mine.gif"
    out.write_bytes(b"GIF89a my own animation")
    message = assert_one_line_error(invoke(walker_file, "--out", out, *SMALL), "already exists")
    assert "--out" in message and out.read_bytes() == b"GIF89a my own animation"
    result = invoke(walker_file, "--out", out, "--overwrite", *SMALL)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:6] == b"GIF89a" and out.stat().st_size > 1000
