"""Motions to draw: the ``Motion`` container, loading motion files and skeleton analysis.

A ``Motion`` is joint positions ``(T, J, 3)`` with Y up (metres for HumanML3D/KIT-ML, any
unit for BVH: the scene is scaled from the data's extents) plus the kinematic chains to draw and
the body part of each chain. ``load_motion`` reads joint ``.npy`` files ``(T, 22|21, 3)``,
HumanML3D/KIT-ML feature ``.npy`` files ``(T, 263|251)`` (decoded with ``recover_from_ric``) and
``.bvh`` files, whose hierarchy is split into chains (``chains_from_parents``) hanging from
the body's root (``body_root``), each given a body part from its joint names
(``joint_side``, ``body_parts``). Drawing is ``motionkit.viz.render``'s.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from motionkit.errors import MotionkitError

if TYPE_CHECKING:
    from motionkit.motion.skeleton import Skeleton

__all__ = [
    "BODY_PARTS",
    "Motion",
    "RenderError",
    "body_parts",
    "body_root",
    "chains_from_parents",
    "joint_side",
    "load_motion",
]

#: The body parts a chain can belong to (each drawn in its own colour).
BODY_PARTS = ("left_leg", "left_arm", "right_leg", "right_arm", "trunk")


class RenderError(MotionkitError):
    """A motion file cannot be read or drawn, or the output cannot be written."""


@dataclass(frozen=True)
class Motion:
    """Joint positions to draw.

    Attributes:
        joints: ``(T, J, 3)`` positions, Y up, any length unit (float64).
        chains: kinematic chains, each a sequence of joint indices drawn as one polyline.
        parts: per chain its body part, one of ``BODY_PARTS`` (``"left_leg"``,
            ``"right_arm"``, ``"trunk"`` ...), which chooses its colour when drawn.
        fps: frames per second of ``joints``.
        name: where the motion came from (used in messages).
        root: the joint whose floor projection is the trajectory (the pelvis).
    """

    joints: np.ndarray = field(repr=False)
    chains: tuple[tuple[int, ...], ...]
    parts: tuple[str, ...]
    fps: float
    name: str = ""
    root: int = 0

    def __post_init__(self) -> None:
        joints = np.asarray(self.joints, dtype=np.float64)
        label = self.name or "motion"
        if joints.ndim != 3 or joints.shape[2] != 3 or joints.shape[0] < 1:
            raise RenderError(f"{label}: joints must have shape (T, J, 3), got {joints.shape}")
        bad = ~np.isfinite(joints)
        if bad.any():
            frame = int(np.argwhere(bad)[0][0])
            raise RenderError(
                f"{label}: joint positions contain NaN or inf (first at frame {frame})"
            )
        if len(self.parts) != len(self.chains):
            raise RenderError(f"{label}: {len(self.chains)} chains but {len(self.parts)} parts")
        unknown = sorted(set(self.parts) - set(BODY_PARTS))
        if unknown:
            raise RenderError(f"{label}: unknown body parts {unknown} (known: {list(BODY_PARTS)})")
        if not 0 <= self.root < joints.shape[1]:
            raise RenderError(f"{label}: root joint {self.root} is out of range")
        for chain in self.chains:
            if len(chain) < 2 or min(chain) < 0 or max(chain) >= joints.shape[1]:
                raise RenderError(f"{label}: bad chain {chain} for {joints.shape[1]} joints")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise RenderError(f"{label}: fps must be positive, got {self.fps}")
        object.__setattr__(self, "joints", joints)

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.joints.shape[1])

    @property
    def drawn_joints(self) -> list[int]:
        """Indices of the joints that appear in a chain, and the root."""
        return sorted({self.root}.union(*self.chains))


# ------------------------------------------------------------------------------------------------
# Loading


def load_motion(
    path: str | os.PathLike[str],
    *,
    skeleton: str | Skeleton | None = None,
    mean: str | os.PathLike[str] | np.ndarray | None = None,
    std: str | os.PathLike[str] | np.ndarray | None = None,
    fps: float | None = None,
) -> Motion:
    """Read a motion file for drawing.

    Args:
        path: ``.npy`` joints ``(T, J, 3)`` (or one pose ``(J, 3)``) of a known skeleton,
            ``.npy`` HumanML3D/KIT-ML features ``(T, 263|251)``, or ``.bvh``.
        skeleton: ``"smpl22"``, ``"kit21"`` or a Skeleton; by default inferred from the joint
            count or feature width. Ignored for BVH (its own hierarchy is drawn).
        mean: ``Mean`` statistics (a path to ``.npy`` or an array) to undo the normalisation
            of a feature file (``features * std + mean``); normalised features cannot be
            detected.
        std: the matching ``Std`` statistics.
        fps: frame rate of the file, overriding the skeleton's (20 for HumanML3D, 12.5 for KIT-ML)
            or the BVH frame time.

    Raises:
        RenderError: unknown extension, unreadable file, unexpected shape, NaN values.
    """
    path = Path(path)
    if not path.is_file():
        raise RenderError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        return _load_bvh(path, fps)
    if suffix != ".npy":
        raise RenderError(
            f"cannot render {path.name}: unknown extension {path.suffix or '(none)'!r} "
            "(expected .npy joints or features, or .bvh)"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise RenderError(f"cannot read {path}: not a valid .npy file ({_one_line(exc)})") from None
    if not np.issubdtype(array.dtype, np.number):
        raise RenderError(f"{path.name}: expected a numeric array, got dtype {array.dtype}")
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 3 and array.shape[0] > 3:
        array = array[None]  # a single pose (J, 3)
    if array.ndim in (2, 3) and array.shape[0] == 0:
        raise RenderError(f"{path.name}: the motion has no frames (shape {array.shape})")
    if not np.isfinite(array).all():
        frame = int(np.argwhere(~np.isfinite(array))[0][0])
        raise RenderError(f"{path.name}: contains NaN or inf values (first at frame {frame})")
    if array.ndim == 3 and array.shape[2] == 3:
        skel = _resolve_skeleton(skeleton, num_joints=array.shape[1], path=path)
        joints = array
    elif array.ndim == 2:
        skel = _resolve_skeleton(skeleton, feature_dim=array.shape[1], path=path)
        joints = _features_to_joints(array, skel, mean, std, path)
    else:
        raise RenderError(f"{path.name}: {_expected_shapes()}, got shape {array.shape}")
    parts = body_parts(skel.chains, skel.joint_names, joints, root=0)
    rate = float(fps) if fps is not None else float(skel.fps)
    return Motion(joints, skel.chains, parts, rate, name=path.name)


def _load_bvh(path: Path, fps: float | None) -> Motion:
    from motionkit.motion.bvh import read_bvh

    try:
        bvh = read_bvh(path)
        joints = np.asarray(bvh.global_positions(), dtype=np.float64)
    except MotionkitError as exc:
        raise RenderError(str(exc)) from None
    except (OSError, ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise RenderError(f"cannot read {path}: {_one_line(exc)}") from None
    if joints.ndim != 3 or joints.shape[0] == 0:
        raise RenderError(f"{path.name}: the BVH file has no frames")
    if not np.isfinite(joints).all():
        frame = int(np.argwhere(~np.isfinite(joints))[0][0])
        raise RenderError(f"{path.name}: contains NaN or inf values (first at frame {frame})")
    parents = [int(p) for p in bvh.parents]
    names = [str(n) for n in bvh.names]
    root = body_root(parents)
    chains = chains_from_parents(parents, start=root)
    if not chains:
        raise RenderError(f"{path.name}: the skeleton has no bones to draw")
    parts = body_parts(chains, names, joints, root=root)
    rate = float(fps) if fps is not None else float(bvh.fps)
    return Motion(joints, chains, parts, rate, name=path.name, root=root)


def _children(parents: Sequence[int]) -> list[list[int]]:
    children: list[list[int]] = [[] for _ in parents]
    for joint, parent in enumerate(parents):
        if parent >= 0:
            children[parent].append(joint)
    return children


def body_root(parents: Sequence[int]) -> int:
    """The joint the body hangs from: the first root, or, when that root has a single child
    (a carrier node such as Bandai's ``joint_Root`` on the floor), the first joint below it with
    several children. ``parents[j]`` is the parent of joint ``j`` (negative for a root)."""
    children = _children(parents)
    root = next((j for j, p in enumerate(parents) if p < 0), 0)
    joint = root
    while len(children[joint]) == 1:
        joint = children[joint][0]
    return joint if children[joint] else root  # an unbranched chain keeps its root


def chains_from_parents(
    parents: Sequence[int], start: int | None = None
) -> tuple[tuple[int, ...], ...]:
    """Split a joint tree into polylines: a chain starts at ``start`` (default: every root) or a
    branching joint and follows single children until a leaf or the next branching joint.

    ``parents[j]`` is the parent of joint ``j`` (negative for a root).
    """
    children = _children(parents)
    chains: list[tuple[int, ...]] = []
    starts = [j for j, p in enumerate(parents) if p < 0] if start is None else [start]
    stack = [(root, child) for root in starts for child in children[root]]
    stack.reverse()
    while stack:
        start, joint = stack.pop()
        chain = [start, joint]
        while len(children[joint]) == 1:
            joint = children[joint][0]
            chain.append(joint)
        chains.append(tuple(chain))
        stack.extend((joint, child) for child in reversed(children[joint]))
    return tuple(chains)


_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_LEFT = {"l", "left", "lft"}
_RIGHT = {"r", "right", "rt", "rgt"}


def joint_side(name: str) -> str:
    """``"left"``, ``"right"`` or ``"center"`` from a joint name (``LeftUpLeg``, ``LHipJoint``,
    ``Shoulder_L``, ``l_hip``, ``mixamorig:RightArm`` ...)."""
    words = {w.lower() for w in _WORD.findall(name)}
    if words & _LEFT and not words & _RIGHT:
        return "left"
    if words & _RIGHT and not words & _LEFT:
        return "right"
    return "center"


_LEG = {"hip", "leg", "upleg", "thigh", "knee", "shin", "calf", "ankle", "foot", "toe", "heel"}
_ARM = {"arm", "forearm", "shoulder", "collar", "clavicle", "elbow", "wrist", "hand", "finger"}
_ARM |= {"thumb", "index", "middle", "ring", "pinky"}


def _chain_side(chain: Sequence[int], names: Sequence[str]) -> str:
    """The side most joints of a chain (its first, shared joint excluded) are on."""
    votes = [joint_side(names[j]) for j in chain[1:]]
    left, right = votes.count("left"), votes.count("right")
    if left > right and left * 2 >= len(votes):
        return "left"
    if right > left and right * 2 >= len(votes):
        return "right"
    return "center"


def body_parts(
    chains: Sequence[Sequence[int]], names: Sequence[str], joints: np.ndarray, root: int = 0
) -> tuple[str, ...]:
    """Body part of each chain (one of ``BODY_PARTS``).

    The side comes from words of the joint names (``left``, ``L``, ``_r`` ...); a chain that
    grows out of a limb (fingers from a hand) belongs to that limb; otherwise words such as
    ``knee``/``foot`` or ``elbow``/``hand`` tell a leg from an arm, and failing those a limb
    hanging below the root on average is a leg.
    """
    part_of_joint: dict[int, str] = {}
    parts = []
    for chain in chains:
        side = _chain_side(chain, names)
        if side == "center":
            part = "trunk"
        elif part_of_joint.get(chain[0], "trunk").startswith(side):
            part = part_of_joint[chain[0]]
        else:
            words = {w.lower() for j in chain[1:] for w in _WORD.findall(names[j])}
            legs, arms = len(words & _LEG), len(words & _ARM)
            if legs == arms:
                below = joints[:, list(chain[1:]), 1].mean() < joints[:, root, 1].mean()
                legs, arms = int(below), int(not below)
            part = f"{side}_{'leg' if legs > arms else 'arm'}"
        part_of_joint.update(dict.fromkeys(chain[1:], part))
        parts.append(part)
    return tuple(parts)


def _skeletons() -> dict[str, Skeleton]:
    from motionkit.motion.skeleton import KIT21, SMPL22

    return {s.name: s for s in (SMPL22, KIT21)}


def _expected_shapes() -> str:
    parts = [
        f"(T, {s.num_joints}, 3) or (T, {s.feature_dim}) for {key}"
        for key, s in _skeletons().items()
    ]
    return "expected joints or features: " + "; ".join(parts)


def _resolve_skeleton(
    skeleton: str | Skeleton | None,
    *,
    path: Path,
    num_joints: int | None = None,
    feature_dim: int | None = None,
) -> Skeleton:
    """The skeleton named by ``skeleton``, else the known one matching the array's width."""
    known = _skeletons()
    if isinstance(skeleton, str):
        if skeleton.lower() not in known:
            raise RenderError(f"unknown skeleton {skeleton!r} (known: {', '.join(known)})")
        skeleton = known[skeleton.lower()]
    candidates = [skeleton] if skeleton is not None else list(known.values())
    for skel in candidates:
        if num_joints == skel.num_joints or feature_dim == skel.feature_dim:
            return skel
    shape = f"(T, {num_joints}, 3)" if num_joints is not None else f"(T, {feature_dim})"
    if skeleton is not None:
        raise RenderError(
            f"{path.name}: shape {shape} does not fit skeleton {skeleton.name} (expected "
            f"(T, {skeleton.num_joints}, 3) or (T, {skeleton.feature_dim}))"
        )
    raise RenderError(f"{path.name}: {_expected_shapes()}, got shape {shape}")


def _features_to_joints(
    features: np.ndarray, skel: Skeleton, mean: Any, std: Any, path: Path
) -> np.ndarray:
    """Joint positions ``(T, J, 3)`` from features ``(T, D)``, denormalised first if asked."""
    dim = features.shape[1]
    if (mean is None) != (std is None):
        raise RenderError("give both mean and std to undo the normalisation, or neither")
    if mean is not None:
        features = features * _load_stat(std, dim, "std") + _load_stat(mean, dim, "mean")
    from motionkit.motion.features import recover_from_ric

    try:
        joints = np.asarray(recover_from_ric(features, skel), dtype=np.float64)
    except MotionkitError as exc:
        raise RenderError(f"{path.name}: {exc}") from None
    if not np.isfinite(joints).all():
        raise RenderError(
            f"{path.name}: decoding the features gave NaN or inf "
            "(normalised features? pass their mean and std)"
        )
    return joints


def _load_stat(value: Any, dim: int, label: str) -> np.ndarray:
    if isinstance(value, (str, os.PathLike)):
        try:
            value = np.load(value, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise RenderError(f"cannot read the {label} file {value}: {_one_line(exc)}") from None
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.shape != (dim,):
        raise RenderError(f"{label} has {array.size} values, the features have {dim}")
    if not np.isfinite(array).all():
        raise RenderError(f"{label} contains NaN or inf values")
    return array


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
