"""``motionkit render FILE --out anim.gif``: draw a motion as a 3-D stick-figure animation.

FILE is a joints ``.npy`` ``(T, 22|21, 3)``, a HumanML3D/KIT-ML features ``.npy`` ``(T, 263|251)``
or a ``.bvh``. The output is a GIF, an MP4 (needs ffmpeg), or with ``--frame K`` one PNG picture.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

import motionkit.viz.render as viz
from motionkit.cli import console
from motionkit.cli.types import FINITE
from motionkit.viz.motion import RenderError, load_motion

#: Renders with at least this many frames show a progress bar on stderr.
PROGRESS_MIN_FRAMES = 40


def _parse_size(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    width, sep, height = value.lower().partition("x")
    try:
        size = (int(width), int(height if sep else width))
    except ValueError:
        raise click.BadParameter(
            f"expected WIDTHxHEIGHT in pixels, e.g. 480x480, got {value!r}"
        ) from None
    if min(size) < 16:
        raise click.BadParameter(f"the image must be at least 16x16 pixels, got {value!r}")
    return size


@click.command("render")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "-o",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file: .gif, .mp4 (needs ffmpeg), or .png together with --frame.",
)
@click.option(
    "--frame", type=int, help="Draw only frame K (0-based, negative from the end) as PNG."
)
@click.option(
    "--overwrite", is_flag=True, help="Replace --out when it exists (once the render succeeded)."
)
@click.option(
    "--fps", type=FINITE, help="Output frame rate (default: the motion's, at most 30; real time)."
)
@click.option("--title", help="Text above the figure, e.g. the caption (default: the file name).")
@click.option(
    "--skeleton",
    type=click.Choice(["smpl22", "kit21"]),
    help="Skeleton of a .npy file (default: from its shape). BVH files carry their own.",
)
@click.option(
    "--elev",
    type=FINITE,
    default=viz.DEFAULT_ELEV,
    show_default=True,
    help="Camera elevation (deg).",
)
@click.option(
    "--azim",
    type=FINITE,
    default=viz.DEFAULT_AZIM,
    show_default=True,
    help="Camera azimuth (deg); 0 looks from +Z, the front of a HumanML3D pose.",
)
@click.option(
    "--size",
    callback=_parse_size,
    default="{}x{}".format(*viz.DEFAULT_SIZE),
    show_default=True,
    help="Image size in pixels, WIDTHxHEIGHT.",
)
@click.option(
    "--dpi",
    type=click.IntRange(min=20),
    default=viz.DEFAULT_DPI,
    show_default=True,
    help="Resolution: higher makes lines and text larger.",
)
@click.option("--trail/--no-trail", default=True, help="Draw the root's path on the floor.")
@click.option("--floor/--no-floor", default=True, help="Draw the floor grid and the shadow.")
@click.option(
    "--mean",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Mean.npy of normalised features (with --std): features * std + mean.",
)
@click.option(
    "--std", type=click.Path(dir_okay=False, path_type=Path), help="Std.npy (see --mean)."
)
def render(
    file: Path,
    out: Path,
    frame: int | None,
    overwrite: bool,
    fps: float | None,
    title: str | None,
    skeleton: str | None,
    elev: float,
    azim: float,
    size: tuple[int, int],
    dpi: int,
    trail: bool,
    floor: bool,
    mean: Path | None,
    std: Path | None,
) -> None:
    """Render FILE (joints or features .npy, or .bvh) as a 3-D stick-figure animation.

    \b
    motionkit render new_joints/000000.npy --out kick.gif --title "a man kicks"
    motionkit render clip.bvh --out clip.gif --fps 15
    motionkit render new_joints/000000.npy --frame 30 --out pose.png
    """
    if (mean is None) != (std is None):
        raise RenderError("--mean and --std go together: give both or neither")
    if frame is not None and out.suffix.lower() != ".png":
        raise RenderError(f"--frame draws one picture: write a .png, not {out.name}")
    if frame is None and out.suffix.lower() == ".png":
        raise RenderError("a .png holds one frame: pick it with --frame K, or write a .gif")
    from motionkit.io import check_output

    # an existing file is replaced only by a complete render (see viz.render)
    check_output(out, overwrite=overwrite)
    motion = load_motion(file, skeleton=skeleton, mean=mean, std=std)
    title = file.name if title is None else title or None
    options = dict(title=title, elev=elev, azim=azim, trail=trail, floor=floor, dpi=dpi, size=size)
    start = time.perf_counter()
    if frame is not None:
        viz.plot_pose(motion, out, frame=frame, **options)
        what = f"frame index {frame} of {motion.num_frames} frames"
    else:
        indices, rate = viz.frame_indices(motion.num_frames, motion.fps, fps)
        with _progress(f"rendering {file.name}") as progress:
            viz.render(motion, out, fps=fps, progress=progress, **options)
        what = f"{len(indices)} frames at {rate:.4g} fps"
    seconds = time.perf_counter() - start
    console.out.print(f"wrote {out} ({what}, {_size_label(out)}) in {seconds:.1f} s")


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A callback ``(done, total)`` that shows a transient rich progress bar on stderr when that
    is a terminal and the render is long enough to deserve one."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar: Progress | None = None
    task = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            if total < PROGRESS_MIN_FRAMES or not console.err.is_terminal:
                return
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            bar = Progress(*columns, console=console.err, transient=True)
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


def _size_label(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
