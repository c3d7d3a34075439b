"""Atomic writes and the error helpers."""

from __future__ import annotations

import os
import stat

import pytest

from motionkit.errors import close_matches, did_you_mean
from motionkit.io import atomic_write_text


def test_atomic_write_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "config.json"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]


def test_atomic_write_uses_normal_file_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.json", "{}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o600)
        atomic_write_text(path, "{}")  # an existing file keeps its mode
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(umask)


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = atomic_write_text(tmp_path / "a.json", "old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize(
    ("typo", "best"),
    [("fqs", "fsq"), ("levls", "levels"), ("quantizerz", "quantizers"), ("rqv", "rvq")],
)
def test_close_matches_rank_typos_first(typo, best):
    candidates = ["fsq", "lfq", "vq", "rvq", "levels", "quantizers", "backbones"]
    assert close_matches(typo, candidates)[0] == best


def test_did_you_mean_is_empty_without_a_match():
    assert did_you_mean("zzzzzz", ["fsq", "vq"]) == ""
    assert did_you_mean("vqq", ["fsq", "vq"]) == "; did you mean 'vq'?"
