"""Read and write Biovision Hierarchy (BVH) motion files; export SMPL 22-joint motion as BVH.

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

:class:`BVHMotion` stores local rotations as unit quaternions ``(w, x, y, z)`` and local
translations per frame, both in the file's units (no scaling, no axis change).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionkit.errors import MotionkitError, did_you_mean
from motionkit.io import atomic_write_text

__all__ = [
    "CHANNEL_NAMES",
    "BVHError",
    "BVHMotion",
    "joints_to_bvh",
    "positions_to_bvh",
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
        local = _quat_to_matrix(self.rotations)
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
# Quaternion and rotation helpers (w, x, y, z); private, vectorised over leading axes
# --------------------------------------------------------------------------------------------


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def _axis_quat(axis: int, degrees: np.ndarray) -> np.ndarray:
    half = np.radians(degrees) * 0.5
    q = np.zeros((*np.shape(degrees), 4))
    q[..., 0] = np.cos(half)
    q[..., 1 + axis] = np.sin(half)
    return q


def _euler_to_quat(degrees: np.ndarray, axes: str) -> np.ndarray:
    """``(..., k)`` angles about ``axes`` (e.g. ``"ZXY"``, applied as ``Rz @ Rx @ Ry``)."""
    q = np.zeros((*degrees.shape[:-1], 4))
    q[..., 0] = 1.0
    for i, axis in enumerate(axes):
        q = _qmul(q, _axis_quat(_AXIS[axis], degrees[..., i]))
    return q


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def _matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` -> unit quaternions with ``w >= 0``."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Four candidate magnitudes; take the largest for numerical stability (Shepperd's method).
    cand = np.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1
    )
    best = np.argmax(cand, axis=-1)
    s = np.sqrt(np.maximum(np.take_along_axis(cand, best[..., None], -1)[..., 0], 1e-300)) * 2
    q = np.empty((*m.shape[:-2], 4))
    d21, d02, d10 = (
        m[..., 2, 1] - m[..., 1, 2],
        m[..., 0, 2] - m[..., 2, 0],
        m[..., 1, 0] - m[..., 0, 1],
    )
    a01, a02, a12 = (
        m[..., 0, 1] + m[..., 1, 0],
        m[..., 0, 2] + m[..., 2, 0],
        m[..., 1, 2] + m[..., 2, 1],
    )
    rows = [
        (s / 4, d21 / s, d02 / s, d10 / s),
        (d21 / s, s / 4, a01 / s, a02 / s),
        (d02 / s, a01 / s, s / 4, a12 / s),
        (d10 / s, a02 / s, a12 / s, s / 4),
    ]
    for k, row in enumerate(rows):
        mask = best == k
        q[mask] = np.stack([r[mask] for r in row], -1)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def _matrix_to_euler(m: np.ndarray, axes: str) -> np.ndarray:
    """Angles in degrees ``(..., 3)`` about three distinct ``axes`` with ``m = Ra @ Rb @ Rc``."""
    i, j, k = (_AXIS[a] for a in axes)
    s = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for the cyclic orders XYZ, YZX, ZXY
    sin_b = np.clip(s * m[..., i, k], -1.0, 1.0)
    b = np.arcsin(sin_b)
    a = np.arctan2(-s * m[..., j, k], m[..., k, k])
    c = np.arctan2(-s * m[..., i, j], m[..., i, i])
    lock = np.abs(sin_b) > 1 - 1e-12  # gimbal lock: only a + c (or a - c) is defined; c := 0
    if np.any(lock):
        a = np.where(lock, np.arctan2(s * m[..., k, j], m[..., j, j]), a)
        c = np.where(lock, 0.0, c)
    return np.degrees(np.stack([a, b, c], -1))


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
    """Parse the text of a BVH file (see :func:`read_bvh`); ``where`` names it in errors."""
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
            rotations[:, index] = _euler_to_quat(values[:, rot_cols], rot_axes)
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


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def bvh_text(motion: BVHMotion) -> str:
    """The BVH file text of ``motion`` (see :func:`write_bvh`)."""
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
        euler = _matrix_to_euler(_quat_to_matrix(q), axes)
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


# --------------------------------------------------------------------------------------------
# Positions -> BVH (inverse kinematics on a rigid hierarchy)
# --------------------------------------------------------------------------------------------


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Matrices ``(..., 3, 3)`` of the shortest rotation taking direction ``a`` to ``b``."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    w = 1.0 + np.sum(a * b, axis=-1)
    xyz = np.cross(a, b)
    opposite = w < 1e-9
    if np.any(opposite):  # 180 degrees: turn about any axis perpendicular to a
        helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        perp = np.cross(a, helper)
        perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
        xyz = np.where(opposite[..., None], perp, xyz)
        w = np.where(opposite, 0.0, w)
    return _quat_to_matrix(np.concatenate([w[..., None], xyz], -1))


def _kabsch(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotations ``(T, 3, 3)`` minimising ``sum_k |R rest[k] - target[:, k]|^2``.

    ``rest`` is ``(K, 3)``, ``target`` ``(T, K, 3)`` with ``K >= 2``.
    """
    h = np.einsum("ka,tkb->tab", rest, target)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    d = np.where(d == 0, 1.0, d)
    fix = np.zeros((len(h), 3, 3))
    fix[:, 0, 0] = fix[:, 1, 1] = 1.0
    fix[:, 2, 2] = d
    return np.swapaxes(vt, -1, -2) @ fix @ np.swapaxes(u, -1, -2)


def _fit_rest_offsets(
    joints: np.ndarray, parents: np.ndarray, directions: np.ndarray, order: list[int]
) -> np.ndarray:
    """Rest offsets ``(J, 3)`` for positions ``(T, J, 3)``.

    A bone's rest offset is its reference direction times its median length in the input. At a
    joint with several children the children's offsets are the input's mean local shape
    (aligned to the reference directions), so a rigid branching shape is reproduced exactly.
    """
    n = len(parents)
    unit = directions / np.maximum(np.linalg.norm(directions, axis=-1, keepdims=True), 1e-12)
    offsets = np.zeros((n, 3))
    for j in range(n):
        if parents[j] >= 0:
            length = np.linalg.norm(joints[:, j] - joints[:, parents[j]], axis=-1)
            offsets[j] = unit[j] * (float(np.median(length)) if len(length) else 0.0)
    for j in order:
        kids = [c for c in range(n) if parents[c] == j]
        if len(kids) < 2 or len(joints) == 0:
            continue
        target = joints[:, kids] - joints[:, j : j + 1]
        rest = offsets[kids]
        for _ in range(3):  # a few alternations converge for near-rigid shapes
            rot = _kabsch(rest, target)
            rest = np.einsum("tba,tkb->tka", rot, target).mean(axis=0)
        offsets[kids] = rest
    return offsets


def positions_to_bvh(
    joints: np.ndarray,
    names: list[str],
    parents: list[int] | np.ndarray,
    rest_offsets: np.ndarray,
    *,
    fps: float,
    end_sites: dict[int, np.ndarray] | None = None,
    root_channels: tuple[str, ...] = (
        "Xposition",
        "Yposition",
        "Zposition",
        "Zrotation",
        "Yrotation",
        "Xrotation",
    ),
    joint_channels: tuple[str, ...] = ("Zrotation", "Yrotation", "Xrotation"),
) -> BVHMotion:
    """A BVH motion whose forward kinematics follows the joint positions ``(T, J, 3)``.

    Inverse kinematics on the rigid hierarchy: walking from the root, a joint with one child
    gets the shortest rotation (relative to its parent) that aims the child's rest offset at
    the child's position; a joint with several children gets the least-squares (Kabsch)
    rotation over all of them; leaves keep their parent's orientation. Each bone is aimed from
    the already-solved parent position, so errors do not accumulate down a chain. Forward
    kinematics of the result reproduces ``joints`` exactly when its bone lengths equal the rest
    offsets' and branching shapes are rigid; otherwise it is the closest fit.
    """
    joints = np.asarray(joints, dtype=np.float64)
    parents = np.asarray(parents, dtype=np.int64)
    rest_offsets = np.asarray(rest_offsets, dtype=np.float64)
    frames, n = joints.shape[:2]
    order = _topological_order(parents, list(names))
    eye = np.broadcast_to(np.eye(3), (frames, 3, 3))
    glob = np.empty((frames, n, 3, 3))
    local = np.empty((frames, n, 3, 3))
    solved = np.empty((frames, n, 3))
    for j in order:
        p = parents[j]
        parent_rot = eye if p < 0 else glob[:, p]
        if p < 0:
            solved[:, j] = joints[:, j]
        kids = [c for c in range(n) if parents[c] == j]
        if not kids:
            rot = parent_rot
        elif len(kids) == 1:
            c = kids[0]
            aim = joints[:, c] - solved[:, j]
            current = np.einsum("tab,b->ta", parent_rot, rest_offsets[c])
            rot = _rotation_between(current, aim) @ parent_rot
        else:
            rot = _kabsch(rest_offsets[kids], joints[:, kids] - solved[:, j : j + 1])
        glob[:, j] = rot
        local[:, j] = np.swapaxes(parent_rot, -1, -2) @ rot
        for c in kids:
            solved[:, c] = solved[:, j] + np.einsum("tab,b->ta", rot, rest_offsets[c])
    translations = np.broadcast_to(rest_offsets, (frames, n, 3)).copy()
    channels = []
    for j in range(n):
        if parents[j] < 0:
            translations[:, j] = joints[:, j]
            channels.append(root_channels)
        else:
            channels.append(joint_channels)
    return BVHMotion(
        names=list(names),
        parents=parents,
        offsets=rest_offsets,
        channels=channels,
        rotations=_matrix_to_quat(local),
        translations=translations,
        frame_time=1.0 / fps,
        end_sites=end_sites or {},
    )


#: End Site lengths (metres) of the SMPL leaves, along the leaf's own bone direction.
_END_SITE_LENGTH = {"head": 0.10, "left_foot": 0.05, "right_foot": 0.05}
_DEFAULT_END_SITE_LENGTH = 0.08  # hands


def joints_to_bvh(joints: np.ndarray, fps: float = 20.0, *, rest: str = "input") -> BVHMotion:
    """Export SMPL 22-joint positions ``(T, 22, 3)`` (metres, Y up) as a BVH motion.

    The hierarchy uses the joint names and parents of ``SMPL22``; units are metres (Blender's
    BVH importer reads them 1:1 into its metre-based scene with the default scale 1.0; its
    default "Y up" axis conversion matches). The root (pelvis) has the channels ``Xposition
    Yposition Zposition Zrotation Yrotation Xrotation``, every other joint ``Zrotation
    Yrotation Xrotation``; the five leaves (head, feet, wrists) close with End Sites.

    Args:
        joints: ``(T, 22, 3)`` positions in the SMPL22 joint order.
        fps: frame rate (HumanML3D: 20).
        rest: ``"input"`` (default): rest offsets along the SMPL22 reference directions (but
            head up and shoulders sideways, a friendlier rest pose) with the input's median
            bone lengths, and the input's mean shape at the two branching joints (pelvis,
            spine3), so FK of the file reproduces any input with constant bone lengths and a
            rigid pelvis and shoulder girdle, as HumanML3D joints have. ``"reference"``: the
            SMPL22 reference offsets as they are (FK reproduces inputs built on them).

    Rotations come from inverse kinematics on the rigid hierarchy (:func:`positions_to_bvh`).
    """
    from motionkit.motion.skeleton import SMPL22

    joints = np.asarray(joints, dtype=np.float64)
    n = SMPL22.num_joints
    if joints.ndim != 3 or joints.shape[1:] != (n, 3):
        raise BVHError(
            f"joints_to_bvh expects ({n} joints) positions of shape (T, {n}, 3), got {joints.shape}"
        )
    if not np.isfinite(joints).all():
        raise BVHError("joints_to_bvh: the positions contain NaN or infinite values")
    if not (math.isfinite(fps) and fps > 0):
        raise BVHError(f"joints_to_bvh: fps must be positive, got {fps}")
    parents = np.asarray(SMPL22.parents, dtype=np.int64)
    reference = np.asarray(SMPL22.offsets, dtype=np.float64)
    names = list(SMPL22.joint_names)
    order = _topological_order(parents, names)
    if rest == "input":
        directions = np.array(SMPL22.raw_offsets, dtype=np.float64)
        # A friendlier rest pose than the IK's raw directions: head up, shoulders sideways.
        directions[names.index("head")] = (0.0, 1.0, 0.0)
        directions[names.index("left_shoulder")] = (1.0, 0.0, 0.0)
        directions[names.index("right_shoulder")] = (-1.0, 0.0, 0.0)
        offsets = _fit_rest_offsets(joints, parents, directions, order)
    elif rest == "reference":
        offsets = reference.copy()
    else:
        raise BVHError(f"joints_to_bvh: rest must be 'input' or 'reference', got {rest!r}")
    # Place the root offset so that the rest pose stands on the floor (y = 0 at its lowest joint).
    rest_pos = np.zeros((n, 3))
    for j in order:
        if parents[j] >= 0:
            rest_pos[j] = rest_pos[parents[j]] + offsets[j]
    offsets[parents < 0] = [0.0, -rest_pos[:, 1].min(), 0.0]
    end_sites = {}
    for j in range(n):
        if parents[j] >= 0 and not np.any(parents == j):
            bone = offsets[j]
            unit = bone / max(float(np.linalg.norm(bone)), 1e-12)
            name = names[j]
            end_sites[j] = unit * _END_SITE_LENGTH.get(name, _DEFAULT_END_SITE_LENGTH)
    return positions_to_bvh(joints, names, parents, offsets, fps=fps, end_sites=end_sites)
