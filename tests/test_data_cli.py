"""``motionkit data``: synth output read back by the humanml3d reader, stats, bad input."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from motionkit.cli import cli
from motionkit.config.run import resolve_run_config
from motionkit.data.humanml3d import read_folder


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_synth_is_read_back_by_the_humanml3d_reader(tmp_path):
    out = tmp_path / "synth"
    result = invoke("data", "synth", "--out", str(out), "--num", "12", "--seed", "3")
    assert result.exit_code == 0, result.output
    everything = read_folder(out, "all")  # the standard 40 <= T < 200 filter keeps every clip
    assert len(everything) == 12 and everything.feature_dim == 263
    assert all(len(c.captions) == 3 for c in everything.clips)
    assert sum(len(read_folder(out, s)) for s in ("train", "val", "test")) == 12
    # the dataset component reads the same folder
    config = resolve_run_config(choices={"dataset": "humanml3d"}, args=["--root", str(out)])
    assert len(config["dataset"].build()) == len(read_folder(out, "train"))
    again = tmp_path / "again"
    invoke("data", "synth", "--out", str(again), "--num", "12", "--seed", "3")
    for clip_id in ("000000", "000011"):
        name = f"new_joint_vecs/{clip_id}.npy"
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_stats_command_recomputes_the_saved_statistics(tmp_path):
    out = tmp_path / "synth"
    invoke("data", "synth", "--out", str(out), "--num", "10", "--seed", "0")
    mean = np.load(out / "Mean.npy")
    (out / "Mean.npy").unlink()
    result = invoke("data", "stats", str(out))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(out / "Mean.npy"), mean)


def test_data_commands_refuse_bad_input_in_one_line(tmp_path):
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    result = invoke("data", "synth", "--out", str(out), "--num", "3")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {out} exists and is not empty; choose a new --out folder"
    )
    assert (out / "keep.txt").read_text() == "precious"
    result = invoke(
        "data",
        "prepare-bvh",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "x"),
        "--skeleton",
        "cmu",
    )
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(
        "data", "prepare-bvh", str(empty), "--out", str(tmp_path / "y"), "--skeleton", "cmu"
    )
    assert result.exit_code == 1 and "no .bvh files" in result.stderr
