"""Read and write Biovision Hierarchy (BVH) motion files, and their forward kinematics.

A BVH file has a ``HIERARCHY`` section (nested ``ROOT``/``JOINT`` blocks with an ``OFFSET`` and
``CHANNELS``, leaves closed by ``End Site`` blocks) and a ``MOTION`` section (``Frames: T``,
``Frame Time: dt``, then one line of channel values per frame, in the order the channels were
declared). Conventions implemented here, which are those of the common exporters and of
Blender's importer:

- Rotation channels are Euler angles in degrees, composed in the order they are listed: the
  channels ``Zrotation Xrotation Yrotation`` give the local rotation ``Rz @ Rx @ Ry`` (each a
  right-handed rotation about the parent-frame axis), so every joint may have its own order.
- Position channels *replace* the matching component of the joint's ``OFFSET`` (a root with
  ``Xposition Yposition Zposition`` is placed at those values). Joints without position
  channels are translated by their ``OFFSET``.
- Forward kinematics: ``G_j = G_parent @ R_j`` and ``p_j = p_parent + G_parent @ t_j``.

``BVHMotion`` stores local rotations as unit quaternions ``(w, x, y, z)`` and local
translations per frame, both in the file's units (no scaling, no axis change). Rotation
arithmetic is ``motionkit.motion.quaternion``'s, whose Euler convention is the BVH one
(``order="ZXY"``, ``degrees=True`` for the channels above). Joint positions are exported as
BVH by ``motionkit.motion.bvh_export``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionkit.errors import MotionkitError, did_you_mean
from motionkit.io import atomic_write_text
from motionkit.motion import quaternion as quat

__all__ = [
    "CHANNEL_NAMES",
    "BVHError",
    "BVHMotion",
    "read_bvh",
    "write_bvh",
]

#: The six channel names of the BVH format (matched case-insensitively when reading).
CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CANONICAL = {name.lower(): name for name in CHANNEL_NAMES}
_AXIS = {"X": 0, "Y": 1, "Z": 2}


class BVHError(MotionkitError):
    """A BVH file is malformed, truncated, or a motion cannot be written as BVH."""


# --------------------------------------------------------------------------------------------
# The motion container
# --------------------------------------------------------------------------------------------


@dataclass
class BVHMotion:
    """A skeleton and its animation, as read from or written to a BVH file.

    Attributes:
        names: ``J`` joint names, parents before children.
        parents: ``(J,)`` int parent index per joint, ``-1`` for a root.
        offsets: ``(J, 3)`` rest offsets from the parent (file units).
        channels: per joint, its channel names in file order (e.g. ``("Zrotation", ...)``).
        rotations: ``(T, J, 4)`` local rotations as unit quaternions ``(w, x, y, z)``.
        translations: ``(T, J, 3)`` local translations: the offset, with position channels
            substituted where the joint has them.
        frame_time: seconds per frame.
        end_sites: joint index -> ``(3,)`` offset of the ``End Site`` closing that joint.
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    rotations: np.ndarray
    translations: np.ndarray
    frame_time: float
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = [str(n) for n in self.names]
        self.parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        self.offsets = np.asarray(self.offsets, dtype=np.float64).reshape(-1, 3)
        self.channels = [tuple(_canonical_channel(c) for c in chans) for chans in self.channels]
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.translations = np.asarray(self.translations, dtype=np.float64)
        self.end_sites = {
            int(k): np.asarray(v, dtype=np.float64) for k, v in self.end_sites.items()
        }
        j = len(self.names)
        if not (len(self.parents) == len(self.offsets) == len(self.channels) == j):
            raise BVHError(
                f"BVHMotion: names, parents, offsets and channels must all have one entry per "
                f"joint (got {j}, {len(self.parents)}, {len(self.offsets)}, {len(self.channels)})"
            )
        if self.rotations.ndim != 3 or self.rotations.shape[1:] != (j, 4):
            raise BVHError(f"BVHMotion: rotations must be (T, {j}, 4), got {self.rotations.shape}")
        if self.translations.shape != (*self.rotations.shape[:1], j, 3):
            raise BVHError(
                f"BVHMotion: translations must be ({len(self.rotations)}, {j}, 3), "
                f"got {self.translations.shape}"
            )
        if any(p < -1 or p >= j or p == i for i, p in enumerate(self.parents)):
            raise BVHError("BVHMotion: every parent must be -1 or the index of another joint")
        if not (math.isfinite(self.frame_time) and self.frame_time > 0):
            raise BVHError(f"BVHMotion: frame_time must be positive, got {self.frame_time}")
        self._order = _topological_order(self.parents, self.names)

    # ---- basic properties -------------------------------------------------------------------
    @property
    def fps(self) -> float:
        """Frames per second (``1 / frame_time``)."""
        return 1.0 / self.frame_time

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return max(self.num_frames - 1, 0) * self.frame_time

    @property
    def position_joints(self) -> list[int]:
        """Indices of the joints that have position channels."""
        return [i for i, ch in enumerate(self.channels) if any(c.endswith("position") for c in ch)]

    def index(self, name: str) -> int:
        """Index of the joint called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise BVHError(
                f"no joint {name!r} in this BVH{did_you_mean(name, self.names)} "
                f"(joints: {', '.join(self.names)})"
            ) from None

    def children(self, joint: int) -> list[int]:
        return [i for i, p in enumerate(self.parents) if p == joint]

    # ---- kinematics -------------------------------------------------------------------------
    def global_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """World rotation matrices ``(T, J, 3, 3)`` and positions ``(T, J, 3)`` of every joint."""
        local = quat.quat_to_matrix(self.rotations)
        rot = np.empty_like(local)
        pos = np.empty_like(self.translations)
        for j in self._order:
            p = self.parents[j]
            if p < 0:
                rot[:, j] = local[:, j]
                pos[:, j] = self.translations[:, j]
            else:
                rot[:, j] = rot[:, p] @ local[:, j]
                pos[:, j] = pos[:, p] + np.einsum("tab,tb->ta", rot[:, p], self.translations[:, j])
        return rot, pos

    def global_positions(self) -> np.ndarray:
        """World positions ``(T, J, 3)`` of every joint by forward kinematics (file units)."""
        return self.global_transforms()[1]

    def copy(self) -> BVHMotion:
        return BVHMotion(
            list(self.names),
            self.parents.copy(),
            self.offsets.copy(),
            list(self.channels),
            self.rotations.copy(),
            self.translations.copy(),
            self.frame_time,
            {k: v.copy() for k, v in self.end_sites.items()},
        )


def _canonical_channel(name: str) -> str:
    canonical = _CANONICAL.get(str(name).lower())
    if canonical is None:
        raise BVHError(
            f"unknown BVH channel {name!r}{did_you_mean(str(name), list(CHANNEL_NAMES))}; "
            f"channels are {', '.join(CHANNEL_NAMES)}"
        )
    return canonical


def _topological_order(parents: np.ndarray, names: list[str]) -> list[int]:
    """Joint indices with every parent before its children; errors on cycles."""
    order: list[int] = []
    state = [0] * len(parents)  # 0 new, 1 visiting, 2 done
    for start in range(len(parents)):
        chain = []
        j = start
        while j >= 0 and state[j] == 0:
            state[j] = 1
            chain.append(j)
            j = int(parents[j])
        if j >= 0 and state[j] == 1:
            raise BVHError(f"BVHMotion: the parents of joint {names[j]!r} form a cycle")
        for k in reversed(chain):
            state[k] = 2
            order.append(k)
    return order


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


class _Tokens:
    """Whitespace tokens of the header lines, with 1-based line numbers for messages."""

    def __init__(self, lines: list[str], where: str) -> None:
        self.lines = lines
        self.where = where
        self.row = 0  # index of the current line
        self.items: list[str] = []
        self.pos = 0

    def _fill(self) -> bool:
        while self.pos >= len(self.items):
            if self.row >= len(self.lines):
                return False
            self.items = self.lines[self.row].split()
            self.row += 1
            self.pos = 0
        return True

    def peek(self) -> str | None:
        return self.items[self.pos] if self._fill() else None

    def next(self, expected: str) -> str:
        if not self._fill():
            raise self.error(
                f"unexpected end of file, expected {expected} (the file is truncated; "
                "re-export or re-download it)",
                at_end=True,
            )
        token = self.items[self.pos]
        self.pos += 1
        return token

    def rest_of_line(self) -> list[str]:
        """The remaining tokens of the current line (possibly none)."""
        rest = self.items[self.pos :] if self.pos < len(self.items) else []
        self.pos = len(self.items)
        return rest

    def number(self, what: str) -> float:
        token = self.next(what)
        try:
            value = float(token)
        except ValueError:
            raise self.error(f"expected a number for {what}, got {token!r}") from None
        if not math.isfinite(value):
            raise self.error(f"{what} is {token!r}; BVH values must be finite numbers")
        return value

    def expect(self, word: str) -> None:
        token = self.next(repr(word))
        if token != word:
            raise self.error(f"expected {word!r}, got {token!r}")

    def error(self, message: str, at_end: bool = False) -> BVHError:
        line = len(self.lines) if at_end else self.row
        return BVHError(f"{self.where} line {line}: {message}")


@dataclass
class _Joint:
    name: str
    parent: int
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    channels: tuple[str, ...] = ()
    end_site: tuple[float, float, float] | None = None


def read_bvh(path: str | os.PathLike[str]) -> BVHMotion:
    """Read a BVH file (any hierarchy, channel layout and rotation order).

    Raises:
        BVHError: the file is missing, not BVH text, truncated, or has malformed values; the
            one-line message names the file, the line and what to fix.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BVHError(f"{path}: no such file") from None
    except OSError as exc:
        raise BVHError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # some exporters write Latin-1 joint names
        text = raw.decode("latin-1") if b"\0" not in raw else ""
        if "HIERARCHY" not in text[:4096]:
            raise BVHError(f"{path}: not a BVH file (binary data, not text)") from None
    return parse_bvh(text, where=str(path))


def parse_bvh(text: str, where: str = "<string>") -> BVHMotion:
    """Parse the text of a BVH file (see ``read_bvh``); ``where`` names it in errors."""
    lines = text.splitlines()
    tokens = _Tokens(lines, where)
    first = tokens.peek()
    if first is None:
        raise BVHError(f"{where}: empty file, not a BVH file")
    if first.upper() != "HIERARCHY":
        raise BVHError(
            f"{where}: not a BVH file (expected 'HIERARCHY' at the start, got {first[:40]!r})"
        )
    tokens.next("HIERARCHY")
    joints: list[_Joint] = []
    while True:
        token = tokens.next("'ROOT' or 'MOTION'")
        if token.upper() == "ROOT":
            _parse_joint(tokens, joints, parent=-1, keyword="ROOT")
        elif token.upper() == "MOTION":
            break
        else:
            raise tokens.error(f"expected 'ROOT' or 'MOTION', got {token!r}")
    if not joints:
        raise tokens.error("the HIERARCHY has no ROOT joint")

    n_frames = _header_value(tokens, ("frames",), "Frames: <count>")
    try:
        frames = int(n_frames)
    except ValueError:
        raise tokens.error(
            f"expected a whole number of frames after 'Frames:', got {n_frames!r}"
        ) from None
    if frames < 0:
        raise tokens.error(f"the frame count must not be negative, got {frames}")
    time_token = _header_value(tokens, ("frame", "time"), "Frame Time: <seconds>")
    try:
        frame_time = float(time_token)
    except ValueError:
        raise tokens.error(f"expected seconds after 'Frame Time:', got {time_token!r}") from None
    if not (math.isfinite(frame_time) and frame_time > 0):
        raise tokens.error(f"'Frame Time' must be a positive number of seconds, got {time_token!r}")
    if tokens.rest_of_line():
        raise tokens.error(
            "unexpected values after the 'Frame Time' value; frames start on the next line"
        )
    values = _parse_frames(lines, tokens.row, frames, sum(len(j.channels) for j in joints), where)
    return _build_motion(joints, values, frame_time)


def _parse_joint(tokens: _Tokens, joints: list[_Joint], parent: int, keyword: str) -> None:
    name_tokens = tokens.rest_of_line()
    brace_on_line = bool(name_tokens) and name_tokens[-1] == "{"
    if brace_on_line:
        name_tokens = name_tokens[:-1]
    if not name_tokens:
        raise tokens.error(f"expected a joint name after {keyword!r}")
    joint = _Joint(" ".join(name_tokens), parent)
    index = len(joints)
    joints.append(joint)
    if not brace_on_line:
        tokens.expect("{")
    seen_offset = False
    while True:
        token = tokens.next(f"'}}' closing joint {joint.name!r}")
        upper = token.upper()
        if upper == "OFFSET":
            joint.offset = _offset(tokens, f"the OFFSET of {joint.name!r}")
            seen_offset = True
        elif upper == "CHANNELS":
            count_token = tokens.next("a channel count")
            if not count_token.isdigit():
                raise tokens.error(
                    f"expected 'CHANNELS <count> <names...>' for {joint.name!r}, got "
                    f"{count_token!r} after CHANNELS"
                )
            names = []
            for _ in range(int(count_token)):
                channel = tokens.next(f"{count_token} channel names for {joint.name!r}")
                try:
                    names.append(_canonical_channel(channel))
                except BVHError as exc:
                    raise tokens.error(f"joint {joint.name!r}: {exc}") from None
            joint.channels = tuple(names)
        elif upper in ("JOINT", "ROOT"):
            if not seen_offset:
                raise tokens.error(f"joint {joint.name!r} has no OFFSET before its children")
            _parse_joint(tokens, joints, parent=index, keyword=token)
        elif upper == "END":
            rest = tokens.rest_of_line()
            if rest and rest[-1] == "{":
                rest = rest[:-1]
            else:
                tokens.expect("{")
            if [r.upper() for r in rest] not in (["SITE"], []):
                raise tokens.error(f"expected 'End Site', got {' '.join(['End', *rest])!r}")
            tokens.expect("OFFSET")
            site = _offset(tokens, f"the End Site OFFSET of {joint.name!r}")
            tokens.expect("}")
            if joint.end_site is None:  # a second End Site under one joint carries no motion
                joint.end_site = site
        elif token == "}":
            if not seen_offset:
                raise tokens.error(f"joint {joint.name!r} has no OFFSET")
            return
        elif upper == "MOTION":
            raise tokens.error(f"joint {joint.name!r} is not closed with '}}' before MOTION")
        else:
            raise tokens.error(
                f"expected OFFSET, CHANNELS, JOINT, End Site or '}}' in joint {joint.name!r}, "
                f"got {token!r}"
            )


def _offset(tokens: _Tokens, what: str) -> tuple[float, float, float]:
    x, y, z = (tokens.number(f"{what} (expected 'OFFSET x y z')") for _ in range(3))
    return (x, y, z)


def _header_value(tokens: _Tokens, words: tuple[str, ...], form: str) -> str:
    """Read e.g. ``Frames: 12`` or ``Frame Time: 0.03`` (colon attached or separate)."""
    for word in words:
        token = tokens.next(f"'{form}'")
        head, colon, tail = token.partition(":")
        if head.lower() != word:
            raise tokens.error(f"expected '{form}', got {token!r}")
        if colon and tail:  # "Frames:12"
            return tail
    value = tokens.next(f"'{form}'")
    if value == ":":
        value = tokens.next(f"'{form}'")
    elif value.startswith(":"):
        value = value[1:]
    return value


def _parse_frames(lines: list[str], start: int, frames: int, width: int, where: str) -> np.ndarray:
    """``(frames, width)`` values from the lines after ``Frame Time``."""
    rows = [(i + 1, line) for i, line in enumerate(lines[start:], start) if line.strip()]
    if width == 0:
        return np.zeros((frames, 0))
    counts = [len(line.split()) for _, line in rows]
    total = sum(counts)
    body: list[str]
    if total == frames * width and not all(c == width for c in counts):
        body = [line for _, line in rows]  # values wrapped over several lines: accept as a stream
    else:
        for k, ((number, _), count) in enumerate(zip(rows, counts, strict=True)):
            if k >= frames:
                raise BVHError(
                    f"{where} line {number}: more frame lines than 'Frames: {frames}' declares; "
                    f"fix the Frames count or remove the extra lines"
                )
            if count != width:
                raise BVHError(
                    f"{where} line {number}: frame {k} has {count} values, expected {width} "
                    f"(the sum of the CHANNELS counts); the file is truncated or corrupt"
                )
        if len(rows) < frames:
            raise BVHError(
                f"{where}: truncated: 'Frames: {frames}' but only {len(rows)} frame lines follow; "
                f"re-export the file or fix the Frames count"
            )
        body = [line for _, line in rows]
    try:
        values = np.array(" ".join(body).split(), dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        for number, line in rows:
            for token in line.split():
                try:
                    ok = math.isfinite(float(token))
                except ValueError:
                    ok = False
                if not ok:
                    raise BVHError(
                        f"{where} line {number}: frame value {token!r} is not a finite number; "
                        "fix or drop that frame"
                    )
        raise BVHError(f"{where}: frame values are not finite numbers")  # pragma: no cover
    return values.reshape(frames, width)


def _build_motion(joints: list[_Joint], values: np.ndarray, frame_time: float) -> BVHMotion:
    frames, n = values.shape[0], len(joints)
    offsets = np.array([j.offset for j in joints], dtype=np.float64).reshape(n, 3)
    translations = np.broadcast_to(offsets, (frames, n, 3)).copy()
    rotations = np.zeros((frames, n, 4))
    rotations[..., 0] = 1.0
    column = 0
    for index, joint in enumerate(joints):
        rot_axes, rot_cols = "", []
        for channel in joint.channels:
            axis = channel[0]
            if channel.endswith("position"):
                translations[:, index, _AXIS[axis]] = values[:, column]
            else:
                rot_axes += axis
                rot_cols.append(column)
            column += 1
        if rot_axes:
            rotations[:, index] = _channels_to_quat(values[:, rot_cols], rot_axes)
    return BVHMotion(
        names=[j.name for j in joints],
        parents=np.array([j.parent for j in joints], dtype=np.int64),
        offsets=offsets,
        channels=[j.channels for j in joints],
        rotations=rotations,
        translations=translations,
        frame_time=frame_time,
        end_sites={i: np.array(j.end_site) for i, j in enumerate(joints) if j.end_site is not None},
    )


def _channels_to_quat(degrees: np.ndarray, axes: str) -> np.ndarray:
    """Quaternions ``(T, 4)`` of rotation channel values ``(T, k)`` in degrees about ``axes``.

    The rotations compose in the listed order (``"ZXY"`` is ``Rz @ Rx @ Ry``, the order of
    ``motionkit.motion.quaternion.euler_to_quat``). The format also allows fewer, more or
    repeated rotation channels, which are composed one axis at a time.
    """
    if len(axes) == 3 and len(set(axes)) == 3:
        return quat.euler_to_quat(degrees, axes, degrees=True)
    q = quat.identity(degrees.shape[:-1])
    for i, axis in enumerate(axes):
        half = np.radians(degrees[..., i]) * 0.5
        single = quat.identity(half.shape)
        single[..., 0] = np.cos(half)
        single[..., 1 + _AXIS[axis]] = np.sin(half)
        q = quat.multiply(q, single)
    return q


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def bvh_text(motion: BVHMotion) -> str:
    """The BVH file text of ``motion`` (see ``write_bvh``)."""
    children: dict[int, list[int]] = {i: [] for i in range(motion.num_joints)}
    roots = []
    for i, p in enumerate(motion.parents):
        (roots if p < 0 else children[int(p)]).append(i)
    order: list[int] = []
    out = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        order.append(j)
        out.append(f"{pad}{'ROOT' if motion.parents[j] < 0 else 'JOINT'} {motion.names[j]}")
        out.append(pad + "{")
        out.append(f"{pad}\tOFFSET {' '.join(_fmt(v) for v in motion.offsets[j])}")
        chans = motion.channels[j]
        out.append(f"{pad}\tCHANNELS {len(chans)}{''.join(' ' + c for c in chans)}")
        for c in children[j]:
            emit(c, depth + 1)
        if j in motion.end_sites:
            out.extend([f"{pad}\tEnd Site", f"{pad}\t{{"])
            out.append(f"{pad}\t\tOFFSET {' '.join(_fmt(v) for v in motion.end_sites[j])}")
            out.append(f"{pad}\t}}")
        out.append(pad + "}")

    for root in roots:
        emit(root, 0)
    columns = []
    for j in order:
        columns += _channel_values(motion, j)
    frames = motion.num_frames
    values = np.stack(columns, axis=1) if columns else np.zeros((frames, 0))
    values = np.round(values, 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    out += ["MOTION", f"Frames: {frames}", f"Frame Time: {motion.frame_time:.10g}"]
    out += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(out) + "\n"


def _channel_values(motion: BVHMotion, j: int) -> list[np.ndarray]:
    """Per channel of joint ``j``, its ``(T,)`` values (degrees for rotations)."""
    chans = motion.channels[j]
    axes = "".join(c[0] for c in chans if c.endswith("rotation"))
    q = motion.rotations[:, j]
    angles: dict[int, np.ndarray] = {}
    if axes:
        if len(axes) != 3 or len(set(axes)) != 3:
            raise BVHError(
                f"cannot write joint {motion.names[j]!r}: its rotation channels {axes} must be "
                f"three distinct axes (e.g. Zrotation Yrotation Xrotation)"
            )
        euler = quat.quat_to_euler(q, axes, degrees=True)
        euler = np.unwrap(euler, period=360.0, axis=0) if len(euler) else euler
        angles = {k: euler[:, k] for k in range(3)}
    else:
        identity = np.abs(np.abs(q[:, 0]) - 1.0) < 1e-9
        if not identity.all():
            raise BVHError(
                f"cannot write joint {motion.names[j]!r}: it rotates but has no rotation "
                "channels; give it three rotation channels"
            )
    result, k = [], 0
    for channel in chans:
        if channel.endswith("position"):
            result.append(motion.translations[:, j, _AXIS[channel[0]]])
        else:
            result.append(angles[k])
            k += 1
    return result


def write_bvh(path: str | os.PathLike[str], motion: BVHMotion) -> Path:
    """Write ``motion`` as a BVH file (atomically); returns the path.

    Joints are written depth-first from each root (children in index order), so a motion whose
    joints are not in that order reads back with the same joints in file order (look them up
    by name). Rotations are written as Euler angles in each joint's channel order, unwrapped
    over time so that curves have no 360-degree jumps; translations of joints without
    position channels are not written (they are the offsets).
    """
    return atomic_write_text(path, bvh_text(motion))
