"""Bad input across the whole command line, one table: every case is refused cleanly.

Each case runs one ``motionkit`` command on something wrong (a malformed number, an unknown
component, a missing, empty, corrupt or truncated file, a run of the wrong kind, an output
that exists or cannot be written, a plugin that raises on import) and checks that

* the exit status is non-zero and no exception other than ``SystemExit`` escaped (anything
  else is what a user would see as a traceback), and no ``Traceback`` is printed;
* the error is one line: stderr ends with exactly one ``Error: ...`` line and nothing follows
  it. This holds for click usage errors too: ``motionkit`` prints them as
  ``Error: MESSAGE (see 'COMMAND --help')`` without click's usage header. Lines before the
  error are what the command printed while working (warnings, progress, the run directory);
* the message names what is wrong (a fragment per case: the file, option or value);
* nothing was written or changed: every file under the case's temporary folder (which holds
  the working directory, so default outputs like ``runs/`` count) and under the shared runs
  and corpus has the same content before and after, no file appeared or vanished, and no
  ``*.tmp`` file was left behind.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from motionkit import registry
from motionkit.cli import cli

# ---- shared fixtures: built once per module ---------------------------------------------------


def _invoke_ok(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from motionkit.data.synthetic import generate_corpus

    root = tmp_path_factory.mktemp("bad-corpus") / "corpus"
    generate_corpus(root, 24, seed=1)
    return root


@pytest.fixture(scope="module")
def pipeline(corpus, tmp_path_factory) -> Path:
    """A tiny pipeline run (tokenizer/ and generator/), a few steps of each."""
    run = tmp_path_factory.mktemp("bad-runs") / "pipe"
    _invoke_ok(
        "train", "--preset", "tiny", "--quantizer", "fsq", "--levels", "5,5,5",
        "--data", str(corpus), "--limit", "0", "--max-steps", "4", "--eval-every", "4",
        "--log-every", "2", "--out", str(run),
    )  # fmt: skip
    return run


@pytest.fixture(scope="module")
def evaluator_run(corpus, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("bad-eval") / "evaluator"
    _invoke_ok(
        "evaluator", "train", "--preset", "tiny", "--data", str(corpus), "--limit", "0",
        "--max-steps", "4", "--eval-every", "4", "--out", str(run),
    )  # fmt: skip
    return run


@dataclass
class Env:
    """Where a case runs: its own temporary folder plus the shared corpus and runs."""

    tmp: Path
    corpus: Path
    pipe: Path
    evaluator: Path
    monkeypatch: pytest.MonkeyPatch

    def places(self) -> dict[str, str]:
        return {
            "tmp": str(self.tmp),
            "corpus": str(self.corpus),
            "pipe": str(self.pipe),
            "tok": str(self.pipe / "tokenizer"),
            "gen": str(self.pipe / "generator"),
            "evaluator": str(self.evaluator),
            "afile": str(self.tmp / "afile"),  # a regular file: nothing can be written under it
        }

    def copy(self, src: Path, name: str) -> Path:
        return Path(shutil.copytree(src, self.tmp / name))

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


Setup = Callable[[Env], object]


@dataclass(frozen=True)
class Case:
    """``args`` and ``fragments`` may name ``{tmp}``, ``{corpus}``, ``{pipe}``, ``{tok}``,
    ``{gen}``, ``{evaluator}`` and ``{afile}``; ``setup`` prepares the bad input in ``{tmp}``."""

    id: str
    args: tuple[str, ...]
    fragments: tuple[str, ...]
    setup: Setup | None = None


def case(id: str, args: str | list[str], *fragments: str, setup: Setup | None = None) -> Case:
    words = shlex.split(args) if isinstance(args, str) else args
    return Case(id, tuple(words), fragments, setup)


# ---- what the cases prepare -------------------------------------------------------------------


def _steps(*steps: Setup) -> Setup:
    def run(env: Env) -> None:
        for step in steps:
            step(env)

    return run


def write(name: str, content: str | bytes) -> Setup:
    return lambda env: env.write(name, content)


def mkdir(name: str) -> Setup:
    return lambda env: (env.tmp / name).mkdir(parents=True)


def bad_data(change: Callable[[Path], object]) -> Setup:
    """A copy of the corpus in ``{tmp}/data``, changed by ``change(root)``."""

    def run(env: Env) -> None:
        change(env.copy(env.corpus, "data"))

    return run


def bad_run(change: Callable[[Path], object]) -> Setup:
    """A copy of the pipeline run in ``{tmp}/run``, changed by ``change(run)``."""

    def run(env: Env) -> None:
        change(env.copy(env.pipe, "run"))

    return run


def bad_evaluator(change: Callable[[Path], object]) -> Setup:
    """A copy of the evaluator run in ``{tmp}/eval``, changed by ``change(run)``."""

    def run(env: Env) -> None:
        change(env.copy(env.evaluator, "eval"))

    return run


def features(root: Path) -> list[Path]:
    return sorted((root / "new_joint_vecs").glob("*.npy"))


def each_feature(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def run(root: Path) -> None:
        for path in features(root):
            np.save(path, change(np.load(path)))

    return run


def object_npy(path: Path) -> None:
    """An object-dtype array: loading it would need pickle, which motionkit never allows."""
    np.save(path, np.array([{"code": "print('pickled')"}, None], dtype=object), allow_pickle=True)


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def with_nan(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array[1, 2] = np.nan
    return array


def every_caption(content: bytes) -> Callable[[Path], None]:
    def run(root: Path) -> None:
        for path in (root / "texts").glob("*.txt"):
            path.write_bytes(content)

    return run


def kit_width_without_stats(root: Path) -> None:
    """251-d (KIT-ML layout) features, no Mean/Std: data a 263-d tokenizer cannot read."""
    for path in features(root):
        np.save(path, np.zeros((60, 251), np.float32))
    (root / "Mean.npy").unlink()
    (root / "Std.npy").unlink()


def mixed_widths(root: Path) -> None:
    for path in features(root)[1::2]:
        np.save(path, np.zeros((50, 251), np.float32))


def unreadable_folder(env: Env) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: a chmod 000 folder is still readable")
    folder = env.tmp / "locked"  # empty: the snapshots see the same tree locked or not
    folder.mkdir()
    folder.chmod(0o000)


def bvh_folder(cut: float | None) -> Setup:
    """``{tmp}/bvh/walk.bvh`` from a corpus clip; ``cut`` keeps that share of its text."""

    def run(env: Env) -> None:
        from motionkit.motion.bvh import write_bvh
        from motionkit.motion.bvh_export import joints_to_bvh

        path = env.tmp / "bvh" / "walk.bvh"
        path.parent.mkdir()
        write_bvh(path, joints_to_bvh(np.load(env.corpus / "new_joints" / "000000.npy")))
        if cut is not None:
            truncate(path, cut)

    return run


def samples_folder(env: Env) -> None:
    """``{tmp}/samples``: one sample (no index.json) a new generation must not replace."""
    folder = env.tmp / "samples"
    folder.mkdir()
    np.save(folder / "000.joints.npy", np.zeros((40, 22, 3), np.float32))


POINTS_HEADER = "model,vocab,log10_flops,non_vocab_params,vocab_params,data_tokens,normalized_loss"


def points_csv(loss: str = "") -> str:
    rows = [
        f"m{i},v,{17 + 0.5 * i},{10 ** (5 + 0.3 * i):.0f},10000,1000000,{loss or 3 - 0.1 * i}"
        for i in range(6)
    ]
    return "\n".join([POINTS_HEADER, *rows]) + "\n"


def broken_plugin(env: Env) -> None:
    """A plugin distribution whose components raise on import, found through the function the
    registry discovers entry points with (``registry._entry_points_by_group``)."""
    site = env.tmp / "site"
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n"
        "Summary: A plugin that raises on import\n"
    )
    (info / "entry_points.txt").write_text(
        "[motionkit.quantizers]\nbroken = mk_broken_plugin_mod:Config\n"
        "[motionkit.commands]\nbroken-cmd = mk_broken_plugin_mod:command\n"
    )
    (site / "mk_broken_plugin_mod.py").write_text("raise RuntimeError('boom at import')\n")
    env.monkeypatch.syspath_prepend(str(site))
    env.monkeypatch.setattr(sys, "dont_write_bytecode", True)  # no __pycache__ in {tmp}
    groups: dict[str, list[metadata.EntryPoint]] = {}
    for ep in metadata.PathDistribution(info).entry_points:
        groups.setdefault(ep.group, []).append(ep)
    env.monkeypatch.setattr(registry, "_entry_points_by_group", lambda: groups)
    registry.refresh()


#: A valid sweep grid on the shared corpus (nothing trains: every case fails before).
GRID = """data = "{corpus}"
budgets = [1e9]
[[models]]
name = "m"
dim = 16
layers = 1
heads = 2
[[vocabs]]
levels = [5, 5, 5]
"""


# ---- the table --------------------------------------------------------------------------------

DRY = "--dry-run"
TINY_TOKENIZER = "--preset tiny --stage tokenizer --max-steps 2"
GEN = "generate {pipe} 'a person walks' --no-gif --no-bvh --out {tmp}/samples"
EVAL = "eval {pipe} --data {corpus} --evaluator {evaluator} --replications 1 --mm-texts 0"

CASES = [
    # -- train: options -------------------------------------------------------------------------
    case("train-levels-not-int", f"train --levels 8,x,5 {DRY}", "levels", "'8,x,5'"),
    case("train-levels-zero", f"train --levels 0,5 {DRY}", "at least 3", "(0, 5)"),
    case("train-lr-negative", f"train --lr -1 {DRY}", "lr must be positive", "-1"),
    case("train-lr-nan", f"train --lr nan {DRY}", "lr (train)", "finite"),
    case("train-max-steps-not-int", f"train --max-steps abc {DRY}", "max_steps", "'abc'"),
    case("train-max-steps-float", f"train --max-steps 1e99 {DRY}", "max_steps", "'1e99'"),
    case("train-option-without-value", f"train --lr {DRY}", "--lr needs a value"),
    case("train-unknown-quantizer", f"train --quantizer nope {DRY}", "unknown quantizer 'nope'"),
    case("train-unknown-preset", f"train --quantizer fsq:nope {DRY}", "unknown preset 'nope'"),
    case("train-unknown-option", f"train --backbone.nope 3 {DRY}", "--backbone.nope"),
    case("train-unknown-stage", f"train --stage nope {DRY}", "'--stage'", "'nope'"),
    case("train-stray-argument", f"train foo {DRY}", "unexpected argument 'foo'"),
    case("train-resume-without-run", "train --resume --out {tmp}/nothing", "--resume needs --out"),
    # -- train: data and config files -----------------------------------------------------------
    case("train-data-missing", f"train --data {{tmp}}/missing {DRY}", "{tmp}/missing", "not exist"),
    case(
        "train-data-empty-folder",
        f"train --data {{tmp}}/empty {DRY}",
        "{tmp}/empty",
        "new_joint_vecs",
        setup=mkdir("empty"),
    ),
    case(
        "train-data-unreadable-folder",
        f"train --data {{tmp}}/locked {DRY}",
        "{tmp}/locked",
        setup=unreadable_folder,
    ),
    case(
        "train-data-truncated-npy",
        f"train --data {{tmp}}/data {DRY}",
        "000000.npy",
        "not a readable .npy",
        setup=bad_data(lambda root: [truncate(p, 0.02) for p in features(root)]),
    ),
    case(
        "train-data-object-npy",
        f"train --data {{tmp}}/data {DRY}",
        "000000.npy",
        setup=bad_data(lambda root: object_npy(features(root)[0])),
    ),
    case(
        "train-data-object-mean",
        f"train {TINY_TOKENIZER} --data {{tmp}}/data --out {{tmp}}/run",
        "Mean.npy",
        "allow_pickle=False",
        setup=bad_data(lambda root: object_npy(root / "Mean.npy")),
    ),
    case(
        "train-config-truncated-toml",
        f"train --config {{tmp}}/exp.toml {DRY}",
        "exp.toml",
        "not valid TOML",
        setup=write("exp.toml", '[quantizer]\nname = "fsq"\n[train\nlr = '),
    ),
    case(
        "train-config-truncated-json",
        f"train --config {{tmp}}/config.json {DRY}",
        "config.json",
        "not valid JSON",
        setup=write("config.json", '{"stage": "tokenizer", "train": {"lr": '),
    ),
    case(
        "train-config-not-utf8",
        f"train --config {{tmp}}/exp.toml {DRY}",
        "exp.toml",
        "UTF-8",
        setup=write("exp.toml", b"[train]\nlr = 0.1 # \xff\xfe caf\xe9\n"),
    ),
    # -- train: runs of another kind, outputs ---------------------------------------------------
    case(
        "train-generator-run-as-tokenizer",
        f"train --stage generator --preset tiny --tokenizer {{gen}} {DRY}",
        "'generator' run, not a tokenizer run",
    ),
    case(
        "train-evaluator-run-as-tokenizer",
        "train --stage generator --preset tiny --tokenizer {evaluator} --data {corpus} "
        "--max-steps 2 --out {tmp}/run",
        "'evaluator' run, not a tokenizer run",
    ),
    case(
        "train-missing-tokenizer-run",
        f"train --stage generator --preset tiny --tokenizer {{tmp}}/nope {DRY}",
        "{tmp}/nope",
        "not found",
    ),
    case(
        "train-out-under-a-file",
        f"train --preset tiny {DRY} --out {{afile}}/run",
        "{afile} is a file",
    ),
    case(
        "train-out-holds-a-run",
        f"train {TINY_TOKENIZER} --data {{corpus}} --out {{tmp}}/run",
        "{tmp}/run already holds a training run",
        setup=lambda env: env.copy(env.pipe / "tokenizer", "run"),
    ),
    # -- evaluator train ------------------------------------------------------------------------
    case("evaluator-train-stage", "evaluator train --stage tokenizer", "evaluator stage"),
    case(
        "evaluator-train-unknown-text-encoder",
        f"evaluator train --text-encoder nope {DRY}",
        "unknown text encoder 'nope'",
    ),
    case(
        "evaluator-train-non-utf8-captions",
        "evaluator train --preset tiny --data {tmp}/data --max-steps 2 --out {tmp}/eval",
        "captioned clips",
        "{tmp}/data",
        setup=bad_data(every_caption(b"a person \xff\xfe walks#a/DET#0.0#0.0\n")),
    ),
    case(
        "evaluator-train-empty-captions",
        "evaluator train --preset tiny --data {tmp}/data --max-steps 2 --out {tmp}/eval",
        "captioned clips",
        "{tmp}/data",
        setup=bad_data(every_caption(b"")),
    ),
    # -- eval-tokenizer -------------------------------------------------------------------------
    case(
        "eval-tokenizer-generator-run",
        "eval-tokenizer {gen} --data {corpus}",
        "'generator' run, not a tokenizer run",
    ),
    case(
        "eval-tokenizer-evaluator-run",
        "eval-tokenizer {evaluator} --data {corpus}",
        "an 'evaluator' run, not a tokenizer run",
    ),
    case(
        "eval-tokenizer-empty-folder",
        "eval-tokenizer {tmp} --data {corpus}",
        "{tmp} has no model.safetensors",
    ),
    case(
        "eval-tokenizer-unknown-split",
        "eval-tokenizer {pipe} --data {corpus} --split nope",
        "nope.txt",
    ),
    case(
        "eval-tokenizer-out-exists",
        "eval-tokenizer {pipe} --data {corpus} --out {tmp}/result.json",
        "{tmp}/result.json already exists",
        setup=write("result.json", '{"mine": true}\n'),
    ),
    case(
        "eval-tokenizer-out-under-a-file",
        "eval-tokenizer {pipe} --data {corpus} --out {afile}/result.json",
        "{afile} is a file",
    ),
    case(
        "eval-tokenizer-truncated-weights",
        "eval-tokenizer {tmp}/run --data {corpus}",
        "tokenizer/model.safetensors",
        setup=bad_run(lambda run: truncate(run / "tokenizer" / "model.safetensors")),
    ),
    case(
        "eval-tokenizer-wrong-width-stats",
        "eval-tokenizer {tmp}/run --data {corpus}",
        "mean.npy",
        "(5,)",
        setup=bad_run(lambda run: np.save(run / "tokenizer" / "mean.npy", np.zeros(5, "f4"))),
    ),
    case(
        "eval-tokenizer-object-stats",
        "eval-tokenizer {tmp}/run --data {corpus}",
        "std.npy",
        "allow_pickle=False",
        setup=bad_run(lambda run: object_npy(run / "tokenizer" / "std.npy")),
    ),
    case(
        "eval-tokenizer-truncated-config",
        "eval-tokenizer {tmp}/run --data {corpus}",
        "tokenizer/config.json",
        "not valid JSON",
        setup=bad_run(lambda run: truncate(run / "tokenizer" / "config.json")),
    ),
    case(
        "eval-tokenizer-wrong-width-data",
        "eval-tokenizer {pipe} --data {tmp}/data",
        "251-d features",
        setup=bad_data(kit_width_without_stats),
    ),
    # -- tokenize (the token export) ------------------------------------------------------------
    case("tokenize-generator-run", "tokenize {gen} --data {corpus}", "not a tokenizer run"),
    case(
        "tokenize-out-holds-an-export",
        "tokenize {pipe} --data {corpus} --out {tmp}/tokens",
        "{tmp}/tokens/tokens-all.npz already exists",
        setup=write("tokens/tokens-all.npz", b"an export of mine"),
    ),
    case(
        "tokenize-out-under-a-file",
        "tokenize {pipe} --data {corpus} --out {afile}/tokens",
        "{afile} is a file",
    ),
    case(
        "tokenize-nan-features",
        "tokenize {pipe} --data {tmp}/data --out {tmp}/tokens",
        "no readable clip",
        setup=bad_data(each_feature(with_nan)),
    ),
    # -- generate -------------------------------------------------------------------------------
    case(
        "generate-tokenizer-run",
        GEN.replace("{pipe}", "{tok}"),
        "'tokenizer' run, not a generator run",
    ),
    case(
        "generate-evaluator-run",
        GEN.replace("{pipe}", "{evaluator}"),
        "an 'evaluator' run, not a generator run",
    ),
    case("generate-empty-folder", GEN.replace("{pipe}", "{tmp}"), "not a generator run"),
    case(
        "generate-blank-caption",
        ["generate", "{pipe}", "   ", "--out", "{tmp}/samples"],
        "non-empty caption",
    ),
    case(
        "generate-prompts-not-utf8",
        "generate {pipe} --prompts {tmp}/captions.txt --out {tmp}/samples",
        "captions.txt is not UTF-8",
        setup=write("captions.txt", b"a person walks\nsomeone \xff\xfe jumps\n"),
    ),
    case(
        "generate-prompts-empty",
        "generate {pipe} --prompts {tmp}/captions.txt --out {tmp}/samples",
        "non-empty caption",
        setup=write("captions.txt", "\n  \n"),
    ),
    case(
        "generate-out-holds-samples",
        GEN,
        "{tmp}/samples already holds generated motion",
        setup=_steps(samples_folder, write("samples/index.json", '{"samples": []}\n')),
    ),
    case(
        "generate-out-holds-a-sample-file",
        GEN,
        "already holds 000.joints.npy",
        setup=samples_folder,
    ),
    case(
        "generate-out-under-a-file", GEN.replace("{tmp}/samples", "{afile}/s"), "{afile} is a file"
    ),
    case(
        "generate-truncated-weights",
        GEN.replace("{pipe}", "{tmp}/run"),
        "generator/model.safetensors",
        setup=bad_run(lambda run: truncate(run / "generator" / "model.safetensors")),
    ),
    case(
        "generate-truncated-config",
        GEN.replace("{pipe}", "{tmp}/run"),
        "generator/config.json",
        setup=bad_run(lambda run: truncate(run / "generator" / "config.json")),
    ),
    case(
        "generate-corrupt-text-vocab",
        GEN.replace("{pipe}", "{tmp}/run"),
        "text_vocab.json",
        setup=bad_run(lambda run: (run / "generator" / "text_vocab.json").write_text("{no")),
    ),
    case("generate-top-p-above-1", f"{GEN} --top-p 2", "--top-p"),
    case("generate-temperature-nan", f"{GEN} --temperature nan", "--temperature"),
    case("generate-num-not-int", f"{GEN} --num abc", "'--num'", "'abc'"),
    # -- eval -----------------------------------------------------------------------------------
    case(
        "eval-tokenizer-run-as-evaluator", EVAL.replace("{evaluator}", "{tok}"), "not an evaluator"
    ),
    case(
        "eval-evaluator-run-as-generator",
        EVAL.replace("{pipe}", "{evaluator}"),
        "not a generator run",
    ),
    case("eval-batch-size-too-small", f"{EVAL} --batch-size 2", "--batch-size", "at least 3"),
    case("eval-unknown-lengths", f"{EVAL} --lengths nope", "'--lengths'", "'nope'"),
    case(
        "eval-out-exists",
        f"{EVAL} --batch-size 3 --out {{tmp}}/eval.json",
        "{tmp}/eval.json already exists",
        setup=write("eval.json", '{"mine": true}\n'),
    ),
    case(
        "eval-corrupt-evaluator-weights",
        EVAL.replace("{evaluator}", "{tmp}/eval"),
        "eval/model.safetensors",
        setup=bad_evaluator(lambda run: (run / "model.safetensors").write_bytes(b"garbage")),
    ),
    # -- data -----------------------------------------------------------------------------------
    case("data-synth-num-zero", "data synth --out {tmp}/synth --num 0", "'--num'"),
    case(
        "data-synth-fractions-leave-no-train",
        "data synth --out {tmp}/synth --num 5 --val 0.6 --test 0.5",
        "--val 0.6 and --test 0.5",
    ),
    case(
        "data-synth-out-not-empty",
        "data synth --out {tmp}/mine --num 3",
        "{tmp}/mine exists and is not empty",
        setup=write("mine/notes.txt", "keep me"),
    ),
    case(
        "data-synth-out-under-a-file", "data synth --out {afile}/synth --num 3", "{afile} is a file"
    ),
    case(
        "data-prepare-bvh-truncated",
        "data prepare-bvh {tmp}/bvh --out {tmp}/prepared --skeleton cmu",
        "walk.bvh",
        "truncated",
        setup=bvh_folder(cut=0.7),
    ),
    case(
        "data-prepare-bvh-unknown-skeleton",
        "data prepare-bvh {tmp}/bvh --out {tmp}/prepared --skeleton nope",
        "unknown skeleton 'nope'",
        setup=bvh_folder(cut=None),
    ),
    case(
        "data-prepare-bvh-corrupt-joint-map",
        "data prepare-bvh {tmp}/bvh --out {tmp}/prepared --skeleton {tmp}/map.toml",
        "map.toml",
        "not valid TOML",
        setup=_steps(bvh_folder(cut=None), write("map.toml", "[joints\npelvis = ")),
    ),
    case(
        "data-prepare-bvh-no-bvh-files",
        "data prepare-bvh {tmp}/empty --out {tmp}/prepared --skeleton cmu",
        "no .bvh files",
        setup=mkdir("empty"),
    ),
    case(
        "data-stats-mixed-widths",
        "data stats {tmp}/data",
        "expected (T, 263)",
        setup=bad_data(mixed_widths),
    ),
    case(
        "data-stats-object-npy",
        "data stats {tmp}/data",
        ".npy",
        "allow_pickle=False",
        setup=bad_data(lambda root: [object_npy(p) for p in features(root)]),
    ),
    case(
        "data-stats-nan",
        "data stats {tmp}/data",
        "000000.npy contains NaN",
        setup=bad_data(each_feature(with_nan)),
    ),
    case(
        "data-info-split-not-utf8",
        "data info {tmp}/data",
        "all.txt is not UTF-8",
        setup=bad_data(lambda root: (root / "all.txt").write_bytes(b"000000\n\xff\xfe\n")),
    ),
    case(
        "data-info-truncated-mean",
        "data info {tmp}/data",
        "Mean.npy",
        setup=bad_data(lambda root: truncate(root / "Mean.npy", 0.05)),
    ),
    case("data-info-fps-zero", "data info {corpus} --fps 0", "'--fps'"),
    case("data-info-fps-nan", "data info {corpus} --fps nan", "--fps"),
    case(
        "data-info-lengths-swapped",
        "data info {corpus} --min-len 50 --max-len 10",
        "--max-len (10)",
    ),
    # -- render ---------------------------------------------------------------------------------
    case(
        "render-truncated-bvh",
        "render {tmp}/bvh/walk.bvh --out {tmp}/walk.gif",
        "walk.bvh",
        "truncated",
        setup=bvh_folder(cut=0.7),
    ),
    case(
        "render-object-npy",
        "render {tmp}/obj.npy --out {tmp}/obj.gif",
        "obj.npy",
        "allow_pickle=False",
        setup=lambda env: object_npy(env.tmp / "obj.npy"),
    ),
    case(
        "render-nan-joints",
        "render {tmp}/nan.npy --out {tmp}/nan.gif",
        "nan.npy",
        "NaN",
        setup=lambda env: np.save(env.tmp / "nan.npy", np.full((20, 22, 3), np.nan, "f4")),
    ),
    case(
        "render-wrong-width-features",
        "render {tmp}/wide.npy --out {tmp}/wide.gif",
        "wide.npy",
        "(T, 100)",
        setup=lambda env: np.save(env.tmp / "wide.npy", np.zeros((20, 100), "f4")),
    ),
    case(
        "render-existing-out-refused",
        "render {corpus}/new_joints/000000.npy --out {tmp}/mine.gif",
        "already exists",
        setup=write("mine.gif", b"GIF89a my own animation"),
    ),
    case(
        "render-failure-keeps-existing-output",
        "render {tmp}/nan.npy --out {tmp}/mine.gif --overwrite",
        "nan.npy",
        setup=_steps(
            write("mine.gif", b"GIF89a my own animation"),
            lambda env: np.save(env.tmp / "nan.npy", np.full((20, 22, 3), np.nan, "f4")),
        ),
    ),
    case(
        "render-out-under-a-file",
        "render {corpus}/new_joints/000000.npy --out {afile}/x.gif",
        "{afile} is a file",
    ),
    case(
        "render-size-malformed",
        "render {corpus}/new_joints/000000.npy --out {tmp}/x.gif --size axb",
        "WIDTHxHEIGHT",
    ),
    # -- scaling --------------------------------------------------------------------------------
    case(
        "scaling-fit-out-exists",
        "scaling fit {tmp}/points.csv --out {tmp}/fit.json --bootstrap 10",
        "{tmp}/fit.json already exists",
        setup=_steps(write("points.csv", points_csv()), write("fit.json", "{}\n")),
    ),
    case(
        "scaling-fit-out-under-a-file",
        "scaling fit {tmp}/points.csv --out {afile}/fit.json --bootstrap 10",
        "{afile} is a file",
        setup=write("points.csv", points_csv()),
    ),
    case(
        "scaling-fit-nan-points",
        "scaling fit {tmp}/points.csv --out {tmp}/fit.json --bootstrap 10",
        "points.csv line 2",
        "NaN",
        setup=write("points.csv", points_csv(loss="nan")),
    ),
    case(
        "scaling-fit-csv-not-utf8",
        "scaling fit {tmp}/points.csv --out {tmp}/fit.json",
        "points.csv is not a table",
        setup=write("points.csv", b"\xff\xfe\x00\x01"),
    ),
    case("scaling-predict-flops-inf", "scaling predict --flops inf", "--flops", "inf"),
    case("scaling-predict-flops-not-number", "scaling predict --flops lots", "'--flops'"),
    case(
        "scaling-predict-batch-size-zero",
        "scaling predict --flops 1e18 --batch-size 0",
        "'--batch-size'",
    ),
    case(
        "scaling-predict-corrupt-fit",
        "scaling predict --flops 1e18 --fit {tmp}/fit.json",
        "fit.json is not a fit",
        setup=write("fit.json", '{"laws": '),
    ),
    case(
        "scaling-predict-wrong-sweep-plan",
        "scaling predict --flops 1e18 --sweep {tmp}/sweep",
        "sweep.json is not a plan",
        setup=write("sweep/sweep.json", '{"models": []}\n'),
    ),
    case(
        "scaling-sweep-corrupt-grid",
        "scaling sweep --grid {tmp}/grid.toml --out {tmp}/sweep",
        "grid.toml is not a sweep grid",
        setup=write("grid.toml", "data = [\n"),
    ),
    case(
        "scaling-sweep-out-under-a-file",
        "scaling sweep --grid {tmp}/grid.toml --out {afile}/sweep",
        "{afile} is a file",
        setup=lambda env: env.write("grid.toml", GRID.replace("{corpus}", str(env.corpus))),
    ),
    # -- bench, list, check, top level ----------------------------------------------------------
    case("bench-unknown-suite", "bench --suite nope --work {tmp}/bench", "unknown suite 'nope'"),
    case(
        "bench-results-under-a-file",
        "bench --suite speed --work {tmp}/bench --results {afile}/results",
        "{afile} is a file",
    ),
    case("list-unknown-kind", "list nope", "unknown component kind 'nope'"),
    case("list-options-unknown", "list --options nope", "no component called 'nope'"),
    case("check-unknown-kind", "check quantizerz", "'quantizerz'", "did you mean 'quantizers'"),
    case("unknown-command", "trian", "no such command 'trian'", "did you mean 'train'"),
    # -- plugins that raise on import -----------------------------------------------------------
    case(
        "plugin-quantizer-raises-on-import",
        f"train --quantizer broken {DRY}",
        "broken-plugin 0.1",
        "boom at import",
        setup=broken_plugin,
    ),
    case(
        "plugin-options-raise-on-import",
        "list --options broken",
        "broken-plugin 0.1",
        "boom at import",
        setup=broken_plugin,
    ),
    case(
        "plugin-command-raises-on-import",
        "broken-cmd --help",
        "command 'broken-cmd'",
        "boom at import",
        setup=broken_plugin,
    ),
    case("plugin-check-reports-failure", "plugins --check", "failed to load", setup=broken_plugin),
    case(
        "plugin-component-check-reports-failure",
        "check quantizers",
        "1 component(s) failed",
        setup=broken_plugin,
    ),
]


# ---- the checks -------------------------------------------------------------------------------


def snapshot(*roots: Path) -> dict[str, str]:
    """Every path under ``roots``: a digest of each file's bytes, ``dir`` for folders."""
    seen: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_symlink():
                seen[str(path)] = f"link {os.readlink(path)}"
            elif path.is_dir():
                seen[str(path)] = "dir"
            else:
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def error_line(result: Result) -> str:
    """The one ``Error:`` line, after asserting it is one line and the last thing printed."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.lstrip().startswith("Error")]
    assert len(errors) == 1, f"expected one error line, got:\n{result.stderr}"
    assert lines[-1] == errors[0], f"the error is not one line, or not the last:\n{result.stderr}"
    assert errors[0].startswith("Error: "), result.stderr
    return errors[0]


@pytest.mark.filterwarnings("default::motionkit.errors.MotionkitWarning")
@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(
    bad: Case, corpus, pipeline, evaluator_run, tmp_path, monkeypatch
):
    env = Env(tmp_path, corpus, pipeline, evaluator_run, monkeypatch)
    (tmp_path / "afile").write_text("a regular file\n")
    cwd = tmp_path / "cwd"  # default outputs (runs/, data/) would land here
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    if bad.setup is not None:
        bad.setup(env)
    places = env.places()
    args = [word.format(**places) for word in bad.args]
    roots = (tmp_path, corpus, pipeline, evaluator_run)
    before = snapshot(*roots)
    pickled: list[str] = []
    load = np.load

    def load_without_pickle(file, *args, **kwargs):  # motionkit never unpickles a .npy
        if kwargs.get("allow_pickle") or (len(args) >= 2 and args[1]):
            pickled.append(str(file))
        return load(file, *args, **kwargs)

    monkeypatch.setattr(np, "load", load_without_pickle)
    try:
        result = CliRunner().invoke(cli, args, prog_name="motionkit", catch_exceptions=True)
    finally:
        monkeypatch.setattr(np, "load", load)
        if (tmp_path / "locked").exists():
            (tmp_path / "locked").chmod(0o755)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        shown = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"a traceback escaped:\n{shown}\n{result.output}")
    assert not pickled, f"np.load with allow_pickle=True: {pickled}"
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    message = error_line(result)
    for fragment in bad.fragments:
        assert fragment.format(**places) in message, message
    after = snapshot(*roots)
    assert not [p for p in after if p.endswith(".tmp")], "a temporary file was left behind"
    appeared = sorted(set(after) - set(before))
    vanished = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert (appeared, vanished, changed) == ([], [], []), "files were written or changed"


@pytest.mark.parametrize(
    "args",
    [
        ["data", "synth", "--out", "x", "--val", "nan"],
        ["scaling", "predict", "--flops", "nan"],
        ["scaling", "fit", "p.csv", "--out", "f.json", "--min-flops", "inf"],
        ["render", "a.npy", "--out", "a.gif", "--fps", "nan"],
    ],
    ids=["fraction", "flops", "min-flops", "render-fps"],
)
def test_non_finite_numbers_are_refused_by_every_float_option(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "is not a finite number" in result.output, result.output
    assert "Traceback" not in result.output and not any(tmp_path.iterdir())


def test_a_non_finite_number_in_a_config_file_is_refused(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('stage = "tokenizer"\n[train]\nlr = nan\n')
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--dry-run"])
    assert result.exit_code != 0 and "lr" in result.output and "finite" in result.output
