"""Converting BVH folders into the HumanML3D layout (motionkit.data.prepare)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from motionkit.data.prepare import (
    BandaiCaptions,
    CMUCaptions,
    FileNameCaptions,
    PrepareReport,
    bandai_captions,
    cmu_sentence,
    detect_captions,
    prepare_bvh_folder,
)
from motionkit.errors import MotionkitError
from motionkit.motion.bvh import write_bvh
from motionkit.motion.bvh_export import joints_to_bvh
from motionkit.motion.retarget import JointMap
from motionkit.motion.skeleton import SMPL22
from tests.test_bvh import BANDAI, CMU, needs_data, smpl_motion

FEATURE_DIM = SMPL22.feature_dim
BANDAI_CLIPS = [
    "dataset-1_walk_happy_001",
    "dataset-1_bow_angry_001",
    "dataset-1_kick_normal_001",
    "dataset-1_run_normal_001",  # 16 frames at 20 fps: too short
]


def check_layout(out: Path, ids: list[str]) -> None:
    """Every clip has features (T, 263), joints (T, 22, 3) and captions; splits and stats."""
    for clip_id in ids:
        features = np.load(out / "new_joint_vecs" / f"{clip_id}.npy")
        joints = np.load(out / "new_joints" / f"{clip_id}.npy")
        assert features.ndim == 2 and features.shape[1] == FEATURE_DIM
        assert joints.shape == (features.shape[0], SMPL22.num_joints, 3)
        assert np.isfinite(features).all() and np.isfinite(joints).all()
        lines = (out / "texts" / f"{clip_id}.txt").read_text().splitlines()
        assert lines and all(line.count("#") == 3 and line.split("#")[0] for line in lines)
    listed = []
    for split in ("train", "val", "test"):
        listed += (out / f"{split}.txt").read_text().split()
    assert sorted(listed) == sorted(ids)
    assert sorted((out / "all.txt").read_text().split()) == sorted(ids)
    assert np.load(out / "Mean.npy").shape == (FEATURE_DIM,)
    std = np.load(out / "Std.npy")
    assert std.shape == (FEATURE_DIM,) and (std > 0).all()


# ---- without the shared data: synthetic BVH files on the SMPL skeleton ------------------------


@pytest.fixture
def synthetic_folder(tmp_path: Path) -> tuple[Path, JointMap]:
    src = tmp_path / "src"
    names = ["jumping_jacks_01", "Wave Hello", "side-step-02", "0001", "turnLeft"]
    for seed, name in enumerate(names):
        joints = smpl_motion(frames=50, seed=seed).global_positions()
        write_bvh(src / f"{name}.bvh", joints_to_bvh(joints))
    (src / "nested").mkdir()
    write_bvh(
        src / "nested" / "0001.bvh", joints_to_bvh(smpl_motion(60, seed=9).global_positions())
    )
    (src / "broken.bvh").write_text("HIERARCHY\nROOT pelvis\n{\n  OFFSET 0 0\n")
    short = smpl_motion(frames=10).global_positions()
    write_bvh(src / "short.bvh", joints_to_bvh(short))
    joint_map = JointMap.from_spec("smpl", {n: n for n in SMPL22.joint_names})
    return src, joint_map


def test_prepare_synthetic_folder(synthetic_folder: tuple[Path, JointMap], tmp_path: Path) -> None:
    src, joint_map = synthetic_folder
    calls = []
    report = prepare_bvh_folder(src, tmp_path / "out", joint_map, progress=calls.append)
    assert isinstance(report, PrepareReport)
    assert calls == [1] * 8
    assert sorted(report.converted) == sorted(
        ["jumping_jacks_01", "Wave_Hello", "side-step-02", "0001", "turnLeft", "nested_0001"]
    )
    skipped = dict(report.skipped)
    assert set(skipped) == {"broken.bvh", "short.bvh"}
    assert "line 4" in skipped["broken.bvh"]
    assert "too short: 10 frames" in skipped["short.bvh"]
    assert report.frames == 5 * 49 + 59
    assert report.seconds == pytest.approx(report.frames / 20)
    assert sum(report.splits.values()) == 6 and report.splits["train"] >= 4
    check_layout(tmp_path / "out", report.converted)
    text = (tmp_path / "out" / "texts" / "jumping_jacks_01.txt").read_text()
    assert text.startswith("a person performs jumping jacks.#")
    summary = report.summary()
    assert "converted 6 clips" in summary and "broken.bvh: " in summary
    assert str(report) == summary


def test_splits_are_deterministic(synthetic_folder: tuple[Path, JointMap], tmp_path: Path) -> None:
    src, joint_map = synthetic_folder
    runs = []
    for k, seed in enumerate((3, 3, 4)):
        out = tmp_path / f"out{k}"
        prepare_bvh_folder(src, out, joint_map, seed=seed, val_fraction=0.2, test_fraction=0.2)
        runs.append([(out / f"{s}.txt").read_text() for s in ("train", "val", "test")])
    assert runs[0] == runs[1]
    assert all(r.strip() for r in runs[0])


def test_custom_caption_source(synthetic_folder: tuple[Path, JointMap], tmp_path: Path) -> None:
    src, joint_map = synthetic_folder

    def captions(path: Path) -> list[str]:
        return [f"clip {path.stem.lower()}", "a person moves"] if "jumping" in path.stem else []

    report = prepare_bvh_folder(src, tmp_path / "out", joint_map, captions=captions)
    lines = (tmp_path / "out" / "texts" / "jumping_jacks_01.txt").read_text().splitlines()
    assert [line.split("#")[0] for line in lines] == ["clip jumping_jacks_01", "a person moves"]
    other = (tmp_path / "out" / "texts" / "turnLeft.txt").read_text()
    assert other.startswith("a person performs turn left.#")  # fallback: the file name
    assert len(report.converted) == 6


def test_nothing_to_convert(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MotionkitError, match=r"no \.bvh files"):
        prepare_bvh_folder(tmp_path / "empty", tmp_path / "out", "cmu")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.bvh").write_text("not a bvh\n")
    with pytest.raises(MotionkitError, match=r"could be converted \(x.bvh: .*not a BVH file"):
        prepare_bvh_folder(tmp_path / "bad", tmp_path / "out", "cmu")
    with pytest.raises(MotionkitError, match="did you mean 'bandai'"):
        prepare_bvh_folder(tmp_path / "bad", tmp_path / "out", "bandia")


def test_auto_skeleton_reports_unknown_rigs(
    synthetic_folder: tuple[Path, JointMap], tmp_path: Path
) -> None:
    src, _ = synthetic_folder
    with pytest.raises(MotionkitError, match="unknown skeleton"):
        prepare_bvh_folder(src, tmp_path / "out", "auto")


# ---- captions --------------------------------------------------------------------------------


def test_bandai_caption_templates() -> None:
    assert bandai_captions("dataset-1_walk", "dataset-1_happy") == [
        "a person walks happily.",
        "someone walks in a cheerful way.",
        "a happy person is walking.",
    ]
    assert bandai_captions("bow", "normal") == [
        "a person bows.",
        "someone bows normally.",
        "a person is bowing.",
    ]
    assert bandai_captions("kick", "old")[2] == "an old person is kicking."
    generic = bandai_captions("cartwheel", "sleepy")
    assert generic[0] == "a person performs a cartwheel motion in a sleepy style."


@needs_data
def test_bandai_templates_cover_every_label() -> None:
    cfg = BANDAI.parent / "cfg"
    captions = BandaiCaptions(cfg)
    assert len(captions.contents) == 17 and len(captions.styles) == 15
    for content in captions.contents:
        for style in captions.styles:
            texts = bandai_captions(content, style)
            assert len(texts) == 3 and len(set(texts)) == 3
            assert not any("motion" in t or " style" in t for t in texts), (content, style)


def test_cmu_sentences() -> None:
    assert cmu_sentence("walk") == "a person walks."
    assert cmu_sentence("Start Walk Stop") == "a person starts, walks and stops."
    assert (
        cmu_sentence("dance - cartwheel-like start, pirouettes, jete")
        == "a person dances: cartwheel-like start, pirouettes, jete."
    )
    assert cmu_sentence("boxing") == "a person performs boxing."
    assert cmu_sentence("") == "a person moves."


def test_cmu_labels_file(tmp_path: Path) -> None:
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        "trial\tfile\tcmu_index_description\tkitml_text(TMR)\n"
        "01_01\t01_01.bvh\tjump\tA person jumps up. (KIT-ML 00001, duration 2 s)\n"
        "01_02\t01_02.bvh\trun - in circles\t-\n"
    )
    captions = CMUCaptions(labels)
    assert captions(tmp_path / "01_01.bvh") == ["A person jumps up."]
    assert captions(tmp_path / "01_02.bvh") == ["a person runs: in circles."]
    assert captions(tmp_path / "99_99.bvh") == []
    assert isinstance(detect_captions(tmp_path), CMUCaptions)


def test_file_name_captions(tmp_path: Path) -> None:
    captions = FileNameCaptions()
    assert captions(Path("jumping_jacks_03.bvh")) == ["a person performs jumping jacks."]
    assert captions(Path("0001.bvh")) == ["a person moves."]
    assert isinstance(detect_captions(tmp_path), FileNameCaptions)


# ---- real data -------------------------------------------------------------------------------


@pytest.fixture
def bandai_copy(tmp_path: Path) -> Path:
    root = tmp_path / "bandai"
    shutil.copytree(BANDAI.parent / "cfg", root / "cfg")
    (root / "data").mkdir()
    for name in BANDAI_CLIPS:
        for suffix in (".bvh", ".json"):
            shutil.copy(BANDAI / f"{name}{suffix}", root / "data" / f"{name}{suffix}")
    text = (BANDAI / f"{BANDAI_CLIPS[0]}.bvh").read_text()
    (root / "data" / "truncated.bvh").write_text(text[: len(text) // 2])
    return root


@needs_data
def test_prepare_bandai_clips(bandai_copy: Path, tmp_path: Path) -> None:
    assert isinstance(detect_captions(bandai_copy), BandaiCaptions)
    report = prepare_bvh_folder(bandai_copy, tmp_path / "out", "bandai")
    assert sorted(report.converted) == sorted(BANDAI_CLIPS[:3])
    assert dict(report.skipped).keys() == {
        "data/truncated.bvh",
        "data/dataset-1_run_normal_001.bvh",
    }
    check_layout(tmp_path / "out", report.converted)
    texts = (tmp_path / "out" / "texts" / "dataset-1_walk_happy_001.txt").read_text()
    assert [line.split("#")[0] for line in texts.splitlines()] == bandai_captions("walk", "happy")
    kick = (tmp_path / "out" / "texts" / "dataset-1_kick_normal_001.txt").read_text()
    assert kick.startswith("a person kicks.#")


@needs_data
def test_prepare_cmu_clips(tmp_path: Path) -> None:
    src = tmp_path / "cmu"
    src.mkdir()
    for name in ("02_01", "131_02"):
        shutil.copy(CMU / f"{name}.bvh", src / f"{name}.bvh")
    shutil.copy(CMU / "labels.tsv", src / "labels.tsv")
    report = prepare_bvh_folder(src, tmp_path / "out", "cmu")
    assert sorted(report.converted) == ["02_01", "131_02"] and not report.skipped
    check_layout(tmp_path / "out", report.converted)
    features = np.load(tmp_path / "out" / "new_joint_vecs" / "02_01.npy")
    assert features.shape == (57, FEATURE_DIM)  # 343 frames at 120 fps -> 58 at 20 fps
    texts = tmp_path / "out" / "texts"
    assert (texts / "02_01.txt").read_text().startswith("a person walks.#")
    assert (texts / "131_02.txt").read_text().startswith("A person is dancing#")


@pytest.mark.slow
@needs_data
def test_prepare_whole_bandai_folder(tmp_path: Path) -> None:
    report = prepare_bvh_folder(BANDAI.parent, tmp_path / "out", "bandai")
    assert len(report.converted) == 168
    assert all("too short" in reason for _, reason in report.skipped)
    assert len(report.skipped) == 6
    assert report.splits == {"train": 134, "val": 17, "test": 17}
    check_layout(tmp_path / "out", report.converted)
