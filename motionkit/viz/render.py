"""3-D stick-figure rendering of motions: animated GIF/MP4 and single-pose PNG.

Draws a ``Motion`` (joint positions with Y up, the kinematic chains
and their body parts), as read by ``motionkit.viz.motion.load_motion``.

The picture: bones coloured per limb (left limbs blue, right limbs red, the trunk dark grey), a
floor grid at the lowest joint height of the whole clip, the figure's shadow, the root's path on
the floor (the part already walked highlighted), fixed axis limits that cover the whole motion at
equal aspect, an optional (wrapped) title and a frame counter.

Speed: one figure is built per clip and only the moving artists' data change between frames;
frames are rasterised with the Agg canvas (no pyplot, no GUI backend, so it works headless) and
written by Pillow (GIF) or piped to ffmpeg (MP4). Files are written atomically.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motionkit.io import atomic_write_bytes
from motionkit.viz.motion import Motion, RenderError, _one_line

#: Highest frame rate written by default: faster motions are subsampled by a whole step.
MAX_DEFAULT_FPS = 30.0
#: GIF delays are whole centiseconds and players slow down delays under 20 ms.
MAX_GIF_FPS = 50.0
#: Default output size in pixels (width, height) and resolution.
DEFAULT_SIZE = (480, 480)
DEFAULT_DPI = 80
#: Default camera: elevation above the floor and azimuth in degrees. ``azim=0`` looks at the
#: scene from +Z (the front of a HumanML3D character at its first frame), 90 from +X.
DEFAULT_ELEV = 15.0
DEFAULT_AZIM = 45.0

#: Bone colour of each body part (every entry of ``motionkit.viz.motion.BODY_PARTS``): left limbs
#: blue, right limbs red/orange (legs darker than arms).
PART_COLOURS: dict[str, str] = {
    "left_leg": "#1f5fbf",
    "left_arm": "#4aa3f0",
    "right_leg": "#c62828",
    "right_arm": "#f5873a",
    "trunk": "#303030",
}
FLOOR_COLOUR = "#eef0f3"
GRID_COLOUR = "#c4c9d1"
SHADOW_COLOUR = "#b3b8c0"
PATH_COLOUR = "#9aa3ad"
PATH_DONE_COLOUR = "#2e9d5b"

SUFFIXES = (".gif", ".mp4")


# ------------------------------------------------------------------------------------------------
# Drawing


def _nice_step(span: float) -> float:
    """A grid spacing of 1, 2 or 5 times a power of ten giving about eight cells over ``span``."""
    raw = max(span, 1e-9) / 8.0
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power


@dataclass
class _Scene:
    """One figure for a motion; ``draw`` rasterises a frame as an ``(H, W, 3)`` uint8 array.

    Data axes (X, Y up, Z) are shown as plot axes (Z, X, Y): a rotation, not a mirror, so that
    left and right stay where they are.
    """

    motion: Motion
    title: str | None = None
    elev: float = DEFAULT_ELEV
    azim: float = DEFAULT_AZIM
    trail: bool = True
    floor: bool = True
    dpi: int = DEFAULT_DPI
    size: tuple[int, int] = DEFAULT_SIZE
    artists: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        width, height = self.size
        if width < 16 or height < 16:
            raise RenderError(f"image size must be at least 16x16 pixels, got {width}x{height}")
        if self.dpi <= 0:
            raise RenderError(f"dpi must be positive, got {self.dpi}")
        self.figure = Figure(figsize=(width / self.dpi, height / self.dpi), dpi=self.dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.figure.patch.set_facecolor("white")
        top = 1.0
        if self.title:
            chars = max(20, int(width / (0.55 * 10 * self.dpi / 72)))
            text = textwrap.fill(self.title, width=chars, max_lines=3, placeholder=" ...")
            self.figure.text(0.5, 0.985, text, ha="center", va="top", fontsize=10, wrap=False)
            top -= (text.count("\n") + 1) * 14 * self.dpi / 72 / height + 0.02
        bottom = 14 * self.dpi / 72 / height  # room for the frame counter
        ax = self.figure.add_axes((0.0, bottom, 1.0, max(top - bottom, 0.3)), projection="3d")
        self.ax = ax
        self._setup_axes()

    # plot coordinates (Z, X, Y) of data points (..., 3)
    @staticmethod
    def _plot(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return points[..., 2], points[..., 0], points[..., 1]

    def _setup_axes(self) -> None:
        ax, joints = self.ax, self.motion.joints
        drawn = joints[:, self.motion.drawn_joints]
        lows, highs = drawn.min(axis=(0, 1)), drawn.max(axis=(0, 1))
        floor_y = float(lows[1])
        height = max(float(highs[1] - floor_y), 1e-6)
        pad = 0.15 * height
        x_lo, x_hi = _widen(lows[0], highs[0], 0.8 * height, pad)
        z_lo, z_hi = _widen(lows[2], highs[2], 0.8 * height, pad)
        y_lo, y_hi = floor_y, floor_y + height * 1.05
        ax.set_xlim(z_lo, z_hi)
        ax.set_ylim(x_lo, x_hi)
        ax.set_zlim(y_lo, y_hi)
        ax.set_box_aspect((z_hi - z_lo, x_hi - x_lo, y_hi - y_lo), zoom=1.2)
        ax.view_init(elev=self.elev, azim=self.azim)  # plot x is data Z: azim 0 looks from +Z
        ax.set_axis_off()
        ax.set_facecolor("white")
        ax.computed_zorder = False  # floor, shadow, path, then bones sorted by depth (see draw)
        azim, elev = np.radians(self.azim), np.radians(self.elev)
        # unit vector from the scene towards the camera, in data axes (X, Y, Z)
        self.towards_camera = np.array(
            [np.sin(azim) * np.cos(elev), np.sin(elev), np.cos(azim) * np.cos(elev)]
        )
        self.floor_y = floor_y
        self.scale = max(x_hi - x_lo, z_hi - z_lo, height)  # keeps depth zorders within 10 +- 1
        if self.floor:
            self._draw_floor(x_lo, x_hi, z_lo, z_hi, floor_y)
        root_path = joints[:, self.motion.root, :].copy()
        root_path[:, 1] = floor_y
        self.root_path = root_path
        if self.trail and self.motion.num_frames > 1:
            ax.plot(*self._plot(root_path), color=PATH_COLOUR, lw=1.0, ls=(0, (3, 2)), zorder=3)
            (self.artists["done"],) = ax.plot([], [], [], color=PATH_DONE_COLOUR, lw=2.0, zorder=4)
            (self.artists["here"],) = ax.plot(
                [], [], [], color=PATH_DONE_COLOUR, marker="o", ms=4, ls="", zorder=4
            )
        self.shadows, self.bones = [], []
        for part in self.motion.parts:
            colour = PART_COLOURS[part]
            if self.floor:
                (shadow,) = ax.plot(
                    [], [], [], color=SHADOW_COLOUR, lw=2.0, solid_capstyle="round", zorder=2
                )
                self.shadows.append(shadow)
            (bone,) = ax.plot(
                [], [], [], color=colour, lw=3.0, marker="o", ms=2.5,
                solid_capstyle="round", solid_joinstyle="round",
            )  # fmt: skip
            self.bones.append(bone)
        self.counter = self.figure.text(0.02, 0.015, "", fontsize=8, color="#555555")
        if any(part != "trunk" for part in self.motion.parts):  # colour key
            gap = 30 * self.dpi / 72 / self.size[0]  # "left" is about 20 points wide
            for offset, side in ((0.0, "left"), (gap, "right")):
                colour = PART_COLOURS[f"{side}_leg"]
                self.figure.text(0.98 - offset, 0.015, side, fontsize=8, color=colour, ha="right")

    def _draw_floor(self, x_lo: float, x_hi: float, z_lo: float, z_hi: float, y: float) -> None:
        from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection

        corners = np.array([[x_lo, y, z_lo], [x_hi, y, z_lo], [x_hi, y, z_hi], [x_lo, y, z_hi]])
        plane = Poly3DCollection(
            [np.stack(self._plot(corners), axis=-1)],
            facecolor=FLOOR_COLOUR,
            edgecolor="none",
            zorder=0,
        )
        self.ax.add_collection3d(plane)
        step = _nice_step(max(x_hi - x_lo, z_hi - z_lo))
        segments = []
        for x in np.arange(math.ceil(x_lo / step) * step, x_hi, step):
            segments.append([[x, y, z_lo], [x, y, z_hi]])
        for z in np.arange(math.ceil(z_lo / step) * step, z_hi, step):
            segments.append([[x_lo, y, z], [x_hi, y, z]])
        if segments:
            lines = np.stack(self._plot(np.asarray(segments, dtype=np.float64)), axis=-1)
            self.ax.add_collection3d(
                Line3DCollection(lines, colors=GRID_COLOUR, linewidths=0.6, zorder=1)
            )

    def draw(self, frame: int) -> np.ndarray:
        motion = self.motion
        pose = motion.joints[frame]
        for index, chain in enumerate(motion.chains):
            points = pose[list(chain)]
            bone = self.bones[index]
            bone.set_data_3d(*self._plot(points))
            bone.set_zorder(10.0 + float(np.mean(points @ self.towards_camera)) / self.scale)
            if self.shadows:
                flat = points.copy()
                flat[:, 1] = self.floor_y
                self.shadows[index].set_data_3d(*self._plot(flat))
        if "done" in self.artists:
            done = self.root_path[: frame + 1]
            self.artists["done"].set_data_3d(*self._plot(done))
            self.artists["here"].set_data_3d(*self._plot(done[-1:]))
        seconds = frame / motion.fps
        self.counter.set_text(f"frame {frame + 1}/{motion.num_frames}   {seconds:5.2f} s")
        self.canvas.draw()
        image = np.asarray(self.canvas.buffer_rgba())[..., :3]
        return _fit(image, self.size)

    def close(self) -> None:
        self.figure.clear()


def _widen(lo: float, hi: float, minimum: float, pad: float) -> tuple[float, float]:
    lo, hi = float(lo) - pad, float(hi) + pad
    if hi - lo < minimum:
        middle = (lo + hi) / 2.0
        lo, hi = middle - minimum / 2.0, middle + minimum / 2.0
    return lo, hi


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Crop or pad (white) a rasterised frame to exactly ``size`` = (width, height)."""
    width, height = size
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    h, w = min(height, image.shape[0]), min(width, image.shape[1])
    out[:h, :w] = image[:h, :w]
    return out


def frame_indices(num_frames: int, motion_fps: float, fps: float | None) -> tuple[list[int], float]:
    """Source frames to show and the output frame rate.

    By default every frame is shown at the motion's rate, except that rates above
    ``MAX_DEFAULT_FPS`` are subsampled by a whole step (a 120 fps BVH becomes 30 fps). With an
    explicit ``fps`` the motion is resampled in time (nearest frame) so it still plays in real
    time: ``fps`` equal to the motion's rate keeps every frame.
    """
    if fps is None:
        step = max(1, math.ceil(motion_fps / MAX_DEFAULT_FPS * (1.0 - 1e-4)))  # 30.00003 fps: 1
        return list(range(0, num_frames, step)), motion_fps / step
    if not (fps > 0 and math.isfinite(fps)):
        raise RenderError(f"fps must be positive, got {fps}")
    if abs(fps - motion_fps) <= 1e-4 * motion_fps:
        return list(range(num_frames)), float(fps)
    duration = (num_frames - 1) / motion_fps
    count = math.floor(duration * fps + 1e-6) + 1
    indices = [min(num_frames - 1, round(k * motion_fps / fps)) for k in range(count)]
    return indices, float(fps)


def render_frames(
    motion: Motion,
    *,
    frames: Sequence[int] | None = None,
    title: str | None = None,
    elev: float = DEFAULT_ELEV,
    azim: float = DEFAULT_AZIM,
    trail: bool = True,
    floor: bool = True,
    dpi: int = DEFAULT_DPI,
    size: tuple[int, int] = DEFAULT_SIZE,
) -> Iterator[np.ndarray]:
    """Yield the frames ``frames`` (default: all) of ``motion`` as ``(H, W, 3)`` uint8 arrays."""
    scene = _Scene(motion, title, elev, azim, trail, floor, dpi, tuple(size))
    indices = range(motion.num_frames) if frames is None else frames
    try:
        for frame in indices:
            if not -motion.num_frames <= frame < motion.num_frames:
                raise RenderError(
                    f"frame {frame} is out of range: the motion has {motion.num_frames} frames"
                )
            yield scene.draw(frame % motion.num_frames)
    finally:
        scene.close()


def plot_pose(
    motion: Motion,
    out_path: str | os.PathLike[str],
    *,
    frame: int = 0,
    title: str | None = None,
    elev: float = DEFAULT_ELEV,
    azim: float = DEFAULT_AZIM,
    trail: bool = True,
    floor: bool = True,
    dpi: int = DEFAULT_DPI,
    size: tuple[int, int] = DEFAULT_SIZE,
) -> Path:
    """Draw one frame of ``motion`` (negative counts from the end) to a PNG file, atomically."""
    from PIL import Image

    out = Path(out_path)
    if out.suffix.lower() != ".png":
        raise RenderError(f"a single frame is written as .png, not {out.suffix or '(none)'!r}")
    (image,) = render_frames(
        motion, frames=[frame], title=title, elev=elev, azim=azim, trail=trail, floor=floor,
        dpi=dpi, size=size,
    )  # fmt: skip
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False)
    return _write(out, buffer.getvalue())


def ffmpeg_available() -> bool:
    """Whether an ``ffmpeg`` executable is on the PATH (needed for MP4 output)."""
    return shutil.which("ffmpeg") is not None


def render(
    motion: Motion,
    out_path: str | os.PathLike[str],
    *,
    fps: float | None = None,
    title: str | None = None,
    elev: float = DEFAULT_ELEV,
    azim: float = DEFAULT_AZIM,
    trail: bool = True,
    floor: bool = True,
    dpi: int = DEFAULT_DPI,
    size: tuple[int, int] = DEFAULT_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Animate ``motion`` to ``out_path`` (``.gif``, or ``.mp4`` when ffmpeg is installed).

    Args:
        fps: output frame rate; see ``frame_indices`` for which frames are shown.
        title: text above the figure (e.g. the caption), wrapped to the width.
        elev: camera elevation in degrees.
        azim: camera azimuth in degrees (``azim=0`` looks from +Z).
        trail: draw the root's path on the floor, the part already covered highlighted.
        floor: draw the floor grid and the figure's shadow.
        dpi: resolution of the drawing.
        size: image size in pixels ``(width, height)``.
        progress: called as ``progress(done, total)`` after each frame.

    The file is written through a temporary file in the same folder and renamed, so a failed
    render leaves an existing file untouched. Returns the path written.
    """
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix == ".png":
        raise RenderError("a .png holds one frame: pick it with a frame number, or write a .gif")
    if suffix not in SUFFIXES:
        raise RenderError(
            f"cannot write {out.name}: unknown output format {out.suffix or '(none)'!r} "
            "(use .gif or .mp4)"
        )
    if suffix == ".mp4" and not ffmpeg_available():
        raise RenderError("ffmpeg not found; install it or write a .gif")
    indices, rate = frame_indices(motion.num_frames, motion.fps, fps)
    if suffix == ".gif" and rate > MAX_GIF_FPS:
        raise RenderError(f"a GIF plays at most {MAX_GIF_FPS:g} fps, got {rate:g}: lower the fps")
    frames = render_frames(
        motion, frames=indices, title=title, elev=elev, azim=azim, trail=trail, floor=floor,
        dpi=dpi, size=size,
    )  # fmt: skip
    counted = _counting(frames, len(indices), progress)
    if suffix == ".gif":
        return _write(out, _encode_gif(counted, rate))
    return _write_mp4(out, counted, rate, tuple(size))


def _counting(
    frames: Iterator[np.ndarray], total: int, progress: Callable[[int, int], None] | None
) -> Iterator[np.ndarray]:
    for done, image in enumerate(frames, start=1):
        yield image
        if progress is not None:
            progress(done, total)


def _palette_swatch(width: int) -> np.ndarray:
    """Rows of every scene colour blended towards white and the floor colour, so that the GIF
    palette holds colours (such as the walked path) that the first frame does not show yet."""
    from matplotlib.colors import to_rgb

    colours = [*PART_COLOURS.values(), PATH_COLOUR, PATH_DONE_COLOUR, SHADOW_COLOUR, GRID_COLOUR]
    weights = np.linspace(0.0, 1.0, width)[:, None]
    rows = []
    for colour in colours:
        rgb = np.array(to_rgb(colour))
        for background in ("white", FLOOR_COLOUR):
            rows.append(rgb * (1.0 - weights) + np.array(to_rgb(background)) * weights)
    return np.round(np.stack(rows) * 255.0).astype(np.uint8)


def _encode_gif(frames: Iterator[np.ndarray], fps: float) -> bytes:
    """GIF bytes of RGB frames, all quantised to one palette (the first frame's and the scene's
    colours), so that colours do not flicker between frames."""
    from PIL import Image

    images: list[Any] = []
    palette = None
    for array in frames:
        image = Image.fromarray(array)
        if palette is None:
            swatch = np.repeat(_palette_swatch(array.shape[1]), 4, axis=0)
            source = Image.fromarray(np.concatenate([array, swatch], axis=0))
            palette = source.quantize(colors=192, method=Image.Quantize.MEDIANCUT)
        images.append(image.quantize(palette=palette, dither=Image.Dither.NONE))
    if not images:
        raise RenderError("nothing to render: the motion has no frames")
    # GIF delays are whole centiseconds: alternate them (30 fps: 30, 40, 30 ms ...) so that the
    # animation keeps real time.
    ticks = [round(k * 100.0 / fps) for k in range(len(images) + 1)]
    duration = [10 * max(1, b - a) for a, b in itertools.pairwise(ticks)]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration,
        loop=0,
        disposal=1,
        optimize=False,
    )
    return buffer.getvalue()


def _write(out: Path, data: bytes) -> Path:
    try:
        return atomic_write_bytes(out, data)
    except OSError as exc:
        raise RenderError(f"cannot write {out}: {_one_line(exc)}") from None


def _write_mp4(out: Path, frames: Iterator[np.ndarray], fps: float, size: tuple[int, int]) -> Path:
    """Pipe raw RGB frames to ffmpeg (H.264, yuv420p) writing a temporary file, then rename."""
    width, height = size
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise RenderError(f"cannot write {out}: {_one_line(exc)}") from None
    os.close(handle)
    tmp = Path(tmp_name)
    command = [
        shutil.which("ffmpeg") or "ffmpeg", "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:.6g}",
        "-i", "-",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white",  # yuv420p needs even sizes
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
        "-f", "mp4", str(tmp),
    ]  # fmt: skip
    try:
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=log)
            try:
                assert process.stdin is not None
                with process.stdin:
                    for image in frames:
                        process.stdin.write(np.ascontiguousarray(image).tobytes())
            except BrokenPipeError:
                pass  # ffmpeg stopped early: its exit status and log say why
            except BaseException:
                process.kill()
                process.wait()
                raise
            if process.wait() != 0:
                log.seek(0)
                message = " ".join(log.read().decode(errors="replace").split())[-300:]
                raise RenderError(
                    f"ffmpeg failed to write {out.name}: "
                    f"{message or f'exit status {process.returncode}'}"
                )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, out.stat().st_mode & 0o777 if out.exists() else 0o666 & ~umask)
        os.replace(tmp, out)
    except OSError as exc:
        raise RenderError(f"cannot write {out}: {_one_line(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out
