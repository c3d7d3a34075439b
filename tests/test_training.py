"""The shared trainer: kill-and-resume exactness, signals, kept checkpoints, EMA, precision,
TensorBoard, and data-parallel training with torchrun (2 CPU processes, gloo)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from motionkit.cli import cli


def invoke(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model.safetensors")


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 0.0):
    assert a.keys() == b.keys()
    for key in a:
        if atol:
            torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0, msg=key)
        else:
            assert torch.equal(a[key], b[key]), key


def val_lines(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == "val"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from motionkit.data.synthetic import generate_corpus

    root = tmp_path_factory.mktemp("train-corpus") / "corpus"
    generate_corpus(root, 32, seed=5)
    return root


@pytest.fixture(scope="module")
def tokenizer(corpus, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("train-tok") / "tok"
    invoke(
        "train", "--stage", "tokenizer", "--preset", "tiny", "--data", str(corpus),
        "--levels", "5,5,5", "--max-steps", "6", "--out", str(run),
    )  # fmt: skip
    return run


def tok_args(corpus: Path) -> list[str]:
    return ["train", "--stage", "tokenizer", "--preset", "tiny", "--data", str(corpus),
            "--levels", "5,5,5", "--eval-every", "5", "--log-every", "1"]  # fmt: skip


def gen_args(corpus: Path, tokenizer: Path) -> list[str]:
    return ["train", "--stage", "generator", "--preset", "tiny", "--tokenizer", str(tokenizer),
            "--data", str(corpus), "--eval-every", "4", "--log-every", "1",
            "--crop-prob", "0.5", "--replace-prob", "0.2", "--text-drop", "0.2"]  # fmt: skip


def motionkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "motionkit", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_DYNAMIC": "FALSE", "COLUMNS": "120"}


def _wait_for_step(run: Path, step: int, proc: subprocess.Popen, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        path = run / "metrics.jsonl"
        if path.is_file():
            steps = []
            for line in path.read_text().splitlines():
                try:
                    steps.append(json.loads(line)["step"])
                except ValueError:
                    continue
            if steps and max(steps) >= step:
                return
        if proc.poll() is not None:
            pytest.fail(f"training ended before step {step}: {proc.stderr.read()}")
        time.sleep(0.02)
    pytest.fail(f"no step {step} within {limit} s")


@pytest.mark.slow
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(corpus, tokenizer, tmp_path):
    steps = 16
    common = [*gen_args(corpus, tokenizer), "--max-steps", str(steps), "--checkpoint-every", "3"]
    straight = tmp_path / "straight"
    subprocess.run(motionkit(*common, "--out", str(straight)), check=True, env=_env(),
                   capture_output=True)  # fmt: skip
    for attempt in range(2):  # two random kill points
        kill_at = random.Random().randint(2, steps - 2)
        run = tmp_path / f"killed-{attempt}"
        proc = subprocess.Popen(
            motionkit(*common, "--out", str(run)), env=_env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        _wait_for_step(run, kill_at, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result = subprocess.run(motionkit("train", "--out", str(run), "--resume"), env=_env(),
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0, f"killed near step {kill_at}: {result.stderr}"
        assert_same(weights(straight), weights(run))
        assert [r["step"] for r in val_lines(run)] == [r["step"] for r in val_lines(straight)]


@pytest.mark.slow
def test_sigterm_saves_and_says_how_to_resume(corpus, tmp_path):
    run = tmp_path / "run"
    args = [*tok_args(corpus), "--max-steps", "400", "--out", str(run)]
    proc = subprocess.Popen(motionkit(*args), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    _wait_for_step(run, 3, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    message = [line for line in err.splitlines() if "stopped by SIGTERM" in line]
    assert message and f"motionkit train --out {run} --resume" in err.replace("\n", "")
    from motionkit.train.checkpoint import checkpoint_step

    stopped = checkpoint_step(run)
    assert stopped is not None and 3 <= stopped < 400
    # the interrupted run continues to the same weights as an uninterrupted one (both in
    # processes with the same thread count: the float reductions then run in the same order)
    steps = str(stopped + 4)
    subprocess.run(motionkit("train", "--out", str(run), "--resume", "--max-steps", steps),
                   check=True, env=_env(), capture_output=True)  # fmt: skip
    straight = tmp_path / "straight"
    subprocess.run(motionkit(*tok_args(corpus), "--max-steps", steps, "--out", str(straight)),
                   check=True, env=_env(), capture_output=True)  # fmt: skip
    assert_same(weights(straight), weights(run))


def test_keeps_the_last_checkpoints_and_the_best(corpus, tmp_path):
    run = tmp_path / "run"
    invoke(*tok_args(corpus), "--max-steps", "12", "--eval-every", "2", "--keep-last", "2",
           "--out", str(run))  # fmt: skip
    kept = sorted(p.name for p in (run / "checkpoints").glob("step-*.safetensors"))
    assert kept == ["step-00000010.safetensors", "step-00000012.safetensors"]
    vals = [r for r in val_lines(run) if r["step"] > 0]
    best = min(vals, key=lambda r: r["mpjpe_mm"])
    from safetensors import safe_open

    with safe_open(run / "checkpoints" / "best.safetensors", framework="pt") as handle:
        meta = handle.metadata()
    assert int(meta["step"]) == best["step"]
    assert json.loads(meta["meta"])["best"]["mpjpe_mm"] == pytest.approx(best["mpjpe_mm"])
    assert (run / "model-best.safetensors").is_file()
    # the kept files are the resume points of their steps: resuming from one is the same run
    from motionkit.train.checkpoint import CHECKPOINT_FILE

    with safe_open(run / "checkpoints" / "step-00000010.safetensors", framework="pt") as handle:
        assert handle.metadata()["step"] == "10"
    assert (run / CHECKPOINT_FILE).stat().st_size > 0


def test_ema_weights_are_saved_and_resume_exactly(corpus, tokenizer, tmp_path):
    common = [*gen_args(corpus, tokenizer), "--ema", "0.9"]
    invoke(*common, "--max-steps", "8", "--out", str(tmp_path / "straight"))
    invoke(*common, "--max-steps", "4", "--out", str(tmp_path / "split"))
    invoke("train", "--out", str(tmp_path / "split"), "--resume", "--max-steps", "8")
    assert_same(weights(tmp_path / "straight"), weights(tmp_path / "split"))
    # model.safetensors holds the average, the resume point the live weights: they differ
    ckpt = load_file(tmp_path / "straight" / "checkpoint.safetensors")
    live = {k[len("model.") :]: v for k, v in ckpt.items() if k.startswith("model.")}
    ema = {k[len("ema.") :]: v for k, v in ckpt.items() if k.startswith("ema.")}
    assert_same(ema, weights(tmp_path / "straight"))
    assert any(not torch.equal(live[k], ema[k]) for k in live if live[k].is_floating_point())
    # without EMA the run differs (the average is what validation saw)
    invoke(*gen_args(corpus, tokenizer), "--max-steps", "8", "--out", str(tmp_path / "plain"))
    assert any(
        not torch.equal(a, b)
        for a, b in zip(weights(tmp_path / "plain").values(), ema.values(), strict=True)
    )
    # a run trained without the average cannot grow one on resume; its config stays as it was
    before = (tmp_path / "plain" / "config.json").read_bytes()
    out = invoke("train", "--out", str(tmp_path / "plain"), "--resume", "--max-steps", "9",
                 "--ema", "0.9", code=1)  # fmt: skip
    assert "without --ema" in out and "Traceback" not in out
    assert (tmp_path / "plain" / "config.json").read_bytes() == before


def test_precision_and_tensorboard(corpus, tmp_path):
    out = invoke(*tok_args(corpus), "--max-steps", "2", "--precision", "bf16", "--device", "cpu",
                 "--out", str(tmp_path / "bf16"), code=1)  # fmt: skip
    assert "bf16" in out and "Traceback" not in out
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "tb"
    invoke(*tok_args(corpus), "--max-steps", "4", "--eval-every", "2", "--tensorboard",
           "--out", str(run))  # fmt: skip
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert "train/loss" in tags and "val/mpjpe_mm" in tags
    assert [e.step for e in events.Scalars("val/mpjpe_mm")] == [2, 4]


def _torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess:
    port = str(29500 + random.Random().randint(0, 2000))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
           "--master-port", port, "-m", "motionkit", *args]  # fmt: skip
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)


def _alone(*args: str, code: int = 0) -> str:
    """One process, run like each torchrun rank (its own interpreter, one thread, MKL's thread
    count fixed): the reference of the distributed tests. In this test process the thread count
    is the machine's and MKL may lower it under load, which changes summation orders."""
    cmd = [sys.executable, "-m", "motionkit", *args]
    result = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == code, result.stderr[-3000:]
    return result.stdout + result.stderr


def _without_key_bias(*runs: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """The weights without the key bias of the learned text encoder's attention (the middle
    third of ``in_proj_bias``). Softmax ignores a shift shared by all keys, so that bias has a
    zero gradient in exact arithmetic: what it receives is rounding noise, which Adam scales up
    to steps of about the learning rate. Any change of summation order (two processes, another
    thread count) moves it; every other weight must agree within 1e-5."""
    out = []
    for run in runs:
        kept = {}
        for key, value in run.items():
            if key.endswith("self_attn.in_proj_bias"):
                third = value.shape[0] // 3
                value = torch.cat([value[:third], value[2 * third :]])
            kept[key] = value
        out.append(kept)
    return out


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch(corpus, tokenizer, tmp_path):
    common = [*gen_args(corpus, tokenizer), "--batch-size", "8", "--max-steps", "6"]
    one = tmp_path / "one"
    _alone(*common, "--out", str(one))
    two = tmp_path / "two"
    result = _torchrun(2, *common, "--out", str(two))
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same(*_without_key_bias(weights(one), weights(two)), atol=1e-5)
    # only rank 0 wrote: one metrics line per step and validation
    assert [r["step"] for r in val_lines(two)] == [r["step"] for r in val_lines(one)]
    for a, b in zip(val_lines(one), val_lines(two), strict=True):
        assert a["tokens_seen"] == b["tokens_seen"]
        assert a["ce"] == pytest.approx(b["ce"], abs=1e-4)
    # a run started on two processes resumes on one
    _alone("train", "--out", str(two), "--resume", "--max-steps", "9")
    _alone("train", "--out", str(one), "--resume", "--max-steps", "9")
    assert_same(*_without_key_bias(weights(one), weights(two)), atol=1e-5)
    # tokenizer stage too
    tok = [*tok_args(corpus), "--batch-size", "8", "--max-steps", "4"]
    _alone(*tok, "--out", str(tmp_path / "tok1"))
    result = _torchrun(2, *tok, "--out", str(tmp_path / "tok2"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same(weights(tmp_path / "tok1"), weights(tmp_path / "tok2"), atol=1e-5)
    # a global batch that does not split is a one-line error on every rank
    result = _torchrun(2, *tok_args(corpus), "--batch-size", "7", "--max-steps", "2",
                       "--out", str(tmp_path / "odd"))  # fmt: skip
    assert result.returncode != 0 and "divisible by 2" in result.stderr


@pytest.mark.slow
def test_fsdp_on_two_processes_matches_one_and_resumes_anywhere(corpus, tokenizer, tmp_path):
    common = [*gen_args(corpus, tokenizer), "--batch-size", "8", "--max-steps", "4"]
    one = tmp_path / "one"
    _alone(*common, "--out", str(one))
    sharded = tmp_path / "fsdp"
    result = _torchrun(2, *common, "--fsdp", "--out", str(sharded))
    assert result.returncode == 0, result.stderr[-3000:]
    # the checkpoint holds whole tensors, named as without FSDP
    assert_same(*_without_key_bias(weights(one), weights(sharded)), atol=1e-5)
    for a, b in zip(val_lines(one), val_lines(sharded), strict=True):
        assert a["ce"] == pytest.approx(b["ce"], abs=1e-4)
    # a sharded run resumes sharded, and on one process without FSDP
    copy = tmp_path / "fsdp-copy"
    import shutil

    shutil.copytree(sharded, copy)
    result = _torchrun(2, "train", "--out", str(sharded), "--resume", "--max-steps", "6")
    assert result.returncode == 0, result.stderr[-3000:]
    _alone("train", "--out", str(copy), "--resume", "--max-steps", "6", "--fsdp", "false")
    _alone("train", "--out", str(one), "--resume", "--max-steps", "6")
    assert_same(*_without_key_bias(weights(one), weights(sharded)), atol=1e-5)
    assert_same(*_without_key_bias(weights(one), weights(copy)), atol=1e-5)
    out = invoke(*common, "--fsdp", "--out", str(tmp_path / "alone"), code=1)
    assert "torchrun" in out and "Traceback" not in out


@pytest.mark.slow
def test_compiled_training_matches_eager_and_saves_plain_weights(corpus, tmp_path):
    """--compile (torch.compile through inductor, a C++ toolchain on the CPU) trains the same
    weights as eager mode within rounding, and the run's files are those of an eager run."""
    tok = [*tok_args(corpus), "--batch-size", "8", "--max-steps", "4"]
    _alone(*tok, "--out", str(tmp_path / "eager"))
    _alone(*tok, "--compile", "--out", str(tmp_path / "compiled"))
    eager, compiled = weights(tmp_path / "eager"), weights(tmp_path / "compiled")
    assert compiled.keys() == eager.keys()  # no wrapper prefixes in the saved names
    assert_same(eager, compiled, atol=1e-5)
    _alone("train", "--out", str(tmp_path / "compiled"), "--resume", "--max-steps", "6")
    assert [r["step"] for r in val_lines(tmp_path / "compiled")][-1] == 6


@pytest.mark.slow
def test_a_vq_codebook_on_two_processes_counts_the_global_batch_once(corpus, tmp_path):
    """vector-quantize-pytorch sums the EMA statistics over processes: each rank must feed its
    slice (the codebook's first batch included), so two processes learn the codebook of one."""
    vq = ["train", "--stage", "tokenizer", "--preset", "tiny", "--data", str(corpus),
          "--quantizer", "vq", "--codebook-size", "64", "--kmeans-init", "false",
          "--threshold-ema-dead-code", "0", "--eval-every", "5", "--batch-size", "8",
          "--max-steps", "4"]  # fmt: skip
    _alone(*vq, "--out", str(tmp_path / "one"))
    result = _torchrun(2, *vq, "--out", str(tmp_path / "two"))
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    size = "quantizer.inner._codebook.cluster_size"
    assert float(one[size].sum()) == pytest.approx(float(two[size].sum()), abs=1e-3)
    assert_same(one, two, atol=1e-4)  # a code choice may flip on a rounding difference
