"""The HumanML3D layout: captions, writing, reading (sub-clips, filters, reports), statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from motionkit.cli import cli
from motionkit.data import layout
from motionkit.data.captions import Caption, parse_line, tag
from motionkit.data.humanml3d import HumanML3DConfig, KITConfig, read_folder
from motionkit.data.layout import DatasetError
from motionkit.data.stats import feature_stats
from motionkit.errors import MotionkitWarning
from motionkit.motion.features import feature_slices
from motionkit.motion.skeleton import KIT21, SMPL22
from motionkit.registry import datasets

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "humanml3d_sample"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"{SAMPLE} is not available")


def test_tag_lemmatises_nouns_and_verbs_and_drops_punctuation():
    assert tag("A person waves with the left hand twice.") == (
        "a/DET person/NOUN wave/VERB with/ADP the/DET left/ADJ hand/NOUN twice/NUM"
    )
    assert tag("Someone is running, then sits on the floor") == (
        "someone/PRON is/AUX run/VERB then/ADV sit/VERB on/ADP the/DET floor/NOUN"
    )
    assert tag("the figure's feet") == "the/DET figure/NOUN foot/NOUN"


def test_caption_line_round_trip():
    line = "a man jumps#a/DET man/NOUN jump/VERB#1.5#3.0"
    caption = parse_line(line, "x")
    assert caption == Caption("a man jumps", ("a/DET", "man/NOUN", "jump/VERB"), 1.5, 3.0)
    assert parse_line(caption.to_line(), "x") == caption
    assert parse_line("a man jumps#a/DET#nan#nan", "x").whole_clip
    assert Caption("x # y").to_line().startswith("x   y#")
    with pytest.raises(ValueError, match="expected 'caption#"):
        parse_line("no separators here", "f.txt:3")


def _features(frames: int, dim: int = 263, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(frames, dim)).astype(np.float32)


def _joints(frames: int, joints: int = 22) -> np.ndarray:
    return np.zeros((frames, joints, 3), np.float32)


def test_write_then_read_with_sub_clips_and_filters(tmp_path):
    root = tmp_path / "ds"
    layout.write_clip(root, "a", _features(100), ["a person walks"], joints=_joints(100))
    spans = [
        Caption("whole clip text"),
        Caption("first part", start=0.0, end=2.5),
        Caption("first part again", start=0.0, end=2.5),
        Caption("too short", start=4.0, end=5.0),
    ]
    layout.write_clip(root, "b", _features(120, seed=1), spans, joints=_joints(120))
    layout.write_clip(root, "Mb", _features(30, seed=2), ["mirrored and short"], _joints(30))
    layout.write_splits(root, {"train": ["a", "b", "Mb", "missing"], "test": ["a"]})
    assert (root / "all.txt").read_text().split() == ["a", "b", "Mb", "missing"]
    with pytest.warns(MotionkitWarning) as record:
        ds = read_folder(root, "train")
    message = str(record[0].message)
    assert "skipped 2 of 4 listed clips" in message
    assert "1 missing feature files (e.g. missing)" in message
    assert "clips outside 40 <= frames < 200" in message
    assert [c.id for c in ds.clips] == ["a", "b", "b@0-2.5"]
    sub = ds.clips[2]
    assert sub.num_frames == 50 and sub.source_id == "b"
    assert [c.text for c in sub.captions] == ["first part", "first part again"]
    np.testing.assert_array_equal(sub.features, ds.clips[1].features[:50])
    assert ds.clips[1].captions[0].tokens == ("whole/ADJ", "clip/NOUN", "text/NOUN")
    assert ds.feature_dim == 263 and ds.num_frames == 270


def test_mirrored_ids_and_missing_text(tmp_path):
    root = tmp_path / "ds"
    layout.write_clip(root, "M01", _features(60), [], joints=_joints(60))
    layout.write_clip(root, "02", _features(60), ["x"], joints=_joints(60))
    (root / "texts" / "M01.txt").unlink()
    layout.write_splits(root, {"train": ["M01", "02"]})
    ds = read_folder(root, "train")
    assert [(c.id, c.mirrored, len(c.captions)) for c in ds.clips] == [
        ("M01", True, 0),
        ("02", False, 1),
    ]
    assert ds.report.without_text == 1
    with pytest.warns(MotionkitWarning, match="1 clips without captions"):
        assert len(read_folder(root, "train", require_text=True)) == 1


def test_corrupt_and_bad_files_are_counted_not_fatal(tmp_path):
    root = tmp_path / "ds"
    layout.write_clip(root, "good", _features(50), ["x"], joints=_joints(50))
    (root / "new_joint_vecs" / "broken.npy").write_bytes(b"not an npy file")
    bad = _features(50)
    bad[3, 3] = np.nan
    layout.save_npy(root / "new_joint_vecs" / "nan.npy", bad)
    layout.write_splits(root, {"train": ["good", "broken", "nan"]})
    with pytest.warns(MotionkitWarning) as record:
        ds = read_folder(root, "train")
    assert [c.id for c in ds.clips] == ["good"]
    assert "1 unreadable feature files (e.g. broken)" in str(record[0].message)
    assert "1 feature files with NaN or inf (e.g. nan)" in str(record[0].message)


def test_layout_errors_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="not a HumanML3D-layout folder"):
        read_folder(tmp_path, "train")
    layout.write_clip(tmp_path, "a", _features(50), ["x"], joints=_joints(50))
    with pytest.raises(DatasetError, match=r"no split file .*val\.txt"):
        read_folder(tmp_path, "val")
    with pytest.raises(DatasetError, match="not a valid file name"):
        layout.write_clip(tmp_path, "../evil", _features(50), ["x"], joints=_joints(50))
    with pytest.raises(DatasetError, match="joints must be"):
        layout.write_clip(tmp_path, "b", _features(50), ["x"], joints=_joints(49))
    with pytest.raises(DatasetError, match="finite"):
        layout.write_clip(tmp_path, "c", _features(50) * np.nan, ["x"], joints=_joints(50))
    assert layout.sanitize_id("dataset-1 walk/happy 001") == "dataset-1_walk_happy_001"


def test_split_ids_is_deterministic_and_complete():
    ids = [f"c{i:03d}" for i in range(50)]
    first = layout.split_ids(ids, val_fraction=0.1, test_fraction=0.2, seed=3)
    assert first == layout.split_ids(reversed(ids), val_fraction=0.1, test_fraction=0.2, seed=3)
    assert (len(first["train"]), len(first["val"]), len(first["test"])) == (35, 5, 10)
    assert sorted(first["train"] + first["val"] + first["test"]) == ids
    assert first != layout.split_ids(ids, val_fraction=0.1, test_fraction=0.2, seed=4)
    small = layout.split_ids(["a", "b", "c"], val_fraction=0.1, test_fraction=0.1, seed=0)
    assert [len(small[k]) for k in ("train", "val", "test")] == [1, 1, 1]


def test_stats_average_the_std_within_groups(tmp_path):
    clips = [_features(40, seed=s) * (1 + np.arange(263)) for s in range(3)]
    mean, std = feature_stats(clips)
    frames = np.concatenate(clips).astype(np.float64)
    np.testing.assert_allclose(mean, frames.mean(0), rtol=1e-5)
    for group in feature_slices(SMPL22).values():
        assert np.ptp(std[group]) == 0
        np.testing.assert_allclose(std[group][0], frames[:, group].std(0).mean(), rtol=1e-5)
    root = tmp_path / "ds"
    for i, clip in enumerate(clips):
        layout.write_clip(root, f"c{i}", clip, ["x"], joints=_joints(40))
    layout.write_splits(root, {"train": ["c0", "c1"], "test": ["c2"]})
    written_mean, _ = layout.write_stats(root)
    np.testing.assert_allclose(written_mean, feature_stats(clips[:2])[0])
    ds = read_folder(root, "train")
    restored = ds.denormalize(ds.normalize(ds.clips[0].features))
    np.testing.assert_allclose(restored, ds.clips[0].features, rtol=1e-4, atol=1e-3)


def test_feature_groups_cover_the_kit_layout():
    groups = feature_slices(KIT21)
    assert groups["ric"] == slice(4, 64) and groups["rot"] == slice(64, 184)
    assert groups["local_vel"] == slice(184, 247) and groups["foot_contact"] == slice(247, 251)


@needs_sample
def test_shipped_std_is_group_averaged():
    std = np.load(SAMPLE / "Std.npy")
    for name, group in feature_slices(SMPL22).items():
        assert np.ptp(std[group]) < 1e-6 * std[group].max(), name


@needs_sample
def test_reads_the_real_sample():
    ds = read_folder(SAMPLE, "all", min_len=1)
    assert len(ds) == 8 and ds.feature_dim == 263
    first = ds.clips[0]
    assert first.id == "000000" and len(first.captions) == 4
    assert first.captions[0].text == "a man kicks something or someone with his left leg."
    assert first.captions[0].tokens[2] == "kick/VERB"
    assert sum(c.mirrored for c in ds.clips) == 2
    assert ds.mean.shape == (263,) and ds.std.shape == (263,)
    standard = read_folder(SAMPLE, "all")  # the standard 40 <= T < 200 filter keeps all 8
    assert len(standard) == 8


def test_dataset_components_are_registered():
    assert {"humanml3d", "kit", "synthetic"} <= set(datasets.names())
    assert KITConfig().min_len == 24 and KITConfig.FPS == 12.5
    assert HumanML3DConfig().min_len == 40 and HumanML3DConfig.FPS == 20.0
    with pytest.raises(ValueError, match="min_len"):
        HumanML3DConfig(min_len=50, max_len=40)


@needs_sample
def test_data_info_command():
    result = CliRunner().invoke(cli, ["data", "info", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "clips" in result.stdout and "8" in result.stdout
    assert "Mean.npy, Std.npy" in result.stdout
