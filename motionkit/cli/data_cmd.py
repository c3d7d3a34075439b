"""``motionkit data ...``: make, convert and inspect datasets in the HumanML3D layout."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from motionkit.cli import console
from motionkit.cli.types import FiniteFloat
from motionkit.errors import MotionkitError
from motionkit.progress import progress_bar


def _require_empty(out: Path) -> None:
    from motionkit.io import check_output

    check_output(out, folder=True)
    if out.exists() and any(out.iterdir()):
        raise MotionkitError(f"{out} exists and is not empty; choose a new --out folder")


@contextmanager
def _fresh_output(out: Path) -> Iterator[None]:
    """Around writing into ``out`` (absent or empty before): on failure, remove what was written,
    so that a refused or interrupted command leaves no half-written dataset."""
    from motionkit.io import first_missing_ancestor, remove_added

    created = first_missing_ancestor(out)
    try:
        yield
    except BaseException:
        remove_added(out, created, existing=set())  # out was absent or empty
        raise


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if val_fraction >= 1 or test_fraction >= 1 or val_fraction + test_fraction >= 1:
        raise click.UsageError(
            f"--val {val_fraction:g} and --test {test_fraction:g} leave no training clips; "
            "they must sum to less than 1"
        )


def split_options(command: Callable) -> Callable:
    """``--val`` and ``--test``: the fractions of clips held out for validation and test."""
    command = click.option(
        "--test", "test_fraction", type=FiniteFloat(0, 1), default=0.1, show_default=True
    )(command)
    return click.option(
        "--val", "val_fraction", type=FiniteFloat(0, 1), default=0.1, show_default=True
    )(command)


@click.group("data")
def data() -> None:
    """Make, convert and inspect datasets in the HumanML3D folder layout."""


@data.command("synth")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--num", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@split_options
def synth(out: Path, num: int, seed: int, val_fraction: float, test_fraction: float) -> None:
    """Write a synthetic corpus of NUM captioned motions (deterministic for a seed)."""
    from motionkit.data.synthetic import generate_corpus

    _check_fractions(val_fraction, test_fraction)
    _require_empty(out)
    start = time.perf_counter()
    with _fresh_output(out), progress_bar("generating", num) as advance:
        report = generate_corpus(
            out,
            num,
            seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            progress=advance,
        )
    console.err.print(
        f"wrote {num} clips to {escape(str(out))} in {time.perf_counter() - start:.1f} s"
    )
    console.out.print(report)


@data.command("prepare-bvh")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option(
    "--skeleton",
    required=True,
    help="Joint map: a built-in name (cmu, bandai) or a TOML map file for any other skeleton.",
)
@split_options
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
def prepare_bvh(
    src: Path, out: Path, skeleton: str, val_fraction: float, test_fraction: float, seed: int
) -> None:
    """Convert a folder of BVH files to the HumanML3D layout (retargeted to 22 joints, 20 fps)."""
    from motionkit.data.prepare import bvh_files, prepare_bvh_folder

    _check_fractions(val_fraction, test_fraction)
    _require_empty(out)
    total = len(bvh_files(src))
    if total == 0:
        raise MotionkitError(f"no .bvh files under {src}")
    with _fresh_output(out), progress_bar("converting", total) as advance:
        report = prepare_bvh_folder(
            src,
            out,
            skeleton,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=seed,
            progress=advance,
        )
    console.out.print(report)


@data.command("stats")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="train", show_default=True)
def stats(root: Path, split: str) -> None:
    """Compute Mean.npy and Std.npy of ROOT from its SPLIT (group-averaged std)."""
    from motionkit.data.layout import write_stats

    mean, _ = write_stats(root, split)
    console.out.print(f"wrote {root / 'Mean.npy'} and {root / 'Std.npy'} ({mean.shape[0]} dims)")


@data.command("info")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="all", show_default=True)
@click.option("--fps", type=FiniteFloat(0, 10_000, min_open=True), default=20.0, show_default=True)
@click.option("--min-len", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--max-len", type=click.IntRange(min=2), default=100_000, show_default=True)
def info(root: Path, split: str, fps: float, min_len: int, max_len: int) -> None:
    """Summarise a dataset folder: clips, frames, duration, captions, statistics."""
    from motionkit.data.humanml3d import read_folder

    if max_len <= min_len:
        raise click.UsageError(f"--max-len ({max_len}) must be greater than --min-len ({min_len})")
    ds = read_folder(root, split, fps=fps, min_len=min_len, max_len=max_len)
    table = Table(box=None, show_header=False, pad_edge=False)
    frames = ds.num_frames
    captions = sum(len(c.captions) for c in ds.clips)
    for key, value in [
        ("folder", str(root)),
        ("split", split),
        ("clips", str(len(ds))),
        ("feature dim", str(ds.feature_dim)),
        ("frames", f"{frames} ({frames / fps / 3600:.2f} h at {fps:g} fps)"),
        ("captions", f"{captions} ({ds.report.without_text} clips without)"),
        ("mirrored clips", str(sum(c.mirrored for c in ds.clips))),
        ("statistics", "Mean.npy, Std.npy" if ds.mean is not None else "missing"),
        ("skipped", ds.report.summary() if ds.report.skipped else "none"),
    ]:
        table.add_row(key, escape(value))
    console.out.print(table)
