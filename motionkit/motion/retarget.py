"""Retarget BVH motion from other skeletons onto the 22 SMPL joints of HumanML3D.

Each of the 22 SMPL joints (``SMPL22.joint_names``) is placed at one joint of the source
skeleton, or at a (weighted) mean of several joints where the source has no single counterpart
(e.g. a spine joint between two source joints). Positions are scaled to metres, turned to Y up
and resampled to the target frame rate by linear interpolation of the global positions (source
frame times ``k * frame_time`` with the rate snapped to a whole number when the file rounded it,
target times ``k / fps``, the last target frame at or before the
source's last frame; at 120 -> 20 fps this is plain subsampling, as HumanML3D did for AMASS).

Bone lengths are not changed: the feature extraction's uniform-skeleton step re-poses the motion
on the reference skeleton (directions from the source, lengths from ``SMPL22``), puts it on the
floor and turns it to face +Z, so a map only has to put each joint where its bone directions
look like SMPL's.

Built-in maps: ``cmu`` (31-joint CMU mocap BVH, units of 1/0.45 inch, Y up) and ``bandai``
(Bandai-Namco-Research-Motiondataset, 22 joints, centimetres, Y up).

A user map is a TOML file (``load_joint_map``)::

    [skeleton]
    name = "my_rig"          # shown in messages
    scale = 0.01             # source units -> metres (cm 0.01, mm 0.001, inch 0.0254)
    up = "y"                 # the source's up axis: "y" or "z" (z-up becomes y-up)
    base = "bandai"          # optional: start from a built-in map, override joints below

    [joints]                 # SMPL joint = source joint(s); every SMPL joint unless base is set
    pelvis = "Hips"
    left_hip = "UpperLeg_L"
    spine3 = ["Chest", "Neck"]                     # the mean of several joints
    left_collar = { Chest = 0.3, Shoulder_L = 0.7 }  # a weighted mean (weights are normalised)

Weights are divided by their sum. A negative weight extrapolates (an affine combination): e.g.
``{ Hips = 3, UpperLeg_L = -1, UpperLeg_R = -1 }`` is twice as far above the hips' midpoint
as Hips is.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from motionkit.errors import MotionkitError, did_you_mean
from motionkit.motion.bvh import BVHMotion
from motionkit.motion.skeleton import SMPL22

__all__ = [
    "BUILTIN_MAPS",
    "JointMap",
    "JointMapError",
    "detect_skeleton",
    "get_joint_map",
    "load_joint_map",
    "resample",
    "retarget",
    "source_fps",
]

SMPL_JOINTS: tuple[str, ...] = tuple(SMPL22.joint_names)
UP_AXES = ("y", "z")
Source = tuple[tuple[str, float], ...]


class JointMapError(MotionkitError):
    """A joint map is invalid or does not fit the BVH it is applied to."""


@dataclass(frozen=True)
class JointMap:
    """How a source skeleton's joints give the 22 SMPL joints.

    Attributes:
        name: the source skeleton's name (for messages).
        joints: SMPL joint name -> ``((source joint, weight), ...)``, weights summing to 1.
        scale: multiply source units by this to get metres.
        up: the source's up axis, ``"y"`` or ``"z"``.
        variants: maps of the same skeleton under other joint names (e.g. another converter's),
            used for a BVH that lacks this map's joints but has all of a variant's.
    """

    name: str
    joints: Mapping[str, Source]
    scale: float = 1.0
    up: str = "y"
    variants: tuple[JointMap, ...] = ()

    @classmethod
    def from_spec(
        cls,
        name: str,
        joints: Mapping[str, str | Sequence[str] | Mapping[str, float]],
        *,
        scale: float = 1.0,
        up: str = "y",
        where: str = "joint map",
    ) -> JointMap:
        """Build and check a map from ``{smpl joint: "Name" | ["A", "B"] | {"A": w, ...}}``."""
        if not isinstance(scale, int | float) or isinstance(scale, bool):
            raise JointMapError(
                f"{where}: scale must be a number (e.g. 0.01 for cm), got {scale!r}"
            )
        if not (math.isfinite(scale) and scale > 0):
            raise JointMapError(f"{where}: scale must be a positive number, got {scale!r}")
        up_axis = str(up).lower().lstrip("+")
        if up_axis not in UP_AXES:
            raise JointMapError(f"{where}: up must be one of {', '.join(UP_AXES)}, got {up!r}")
        table: dict[str, Source] = {}
        for smpl, spec in joints.items():
            if smpl not in SMPL_JOINTS:
                raise JointMapError(
                    f"{where}: {smpl!r} is not an SMPL joint{did_you_mean(smpl, list(SMPL_JOINTS))}"
                    f" (SMPL joints: {', '.join(SMPL_JOINTS)})"
                )
            table[smpl] = _parse_source(spec, f"{where}: joint {smpl!r}")
        missing = [j for j in SMPL_JOINTS if j not in table]
        if missing:
            raise JointMapError(f"{where}: no source joint given for {', '.join(missing)}")
        ordered = {j: table[j] for j in SMPL_JOINTS}
        return cls(name=str(name), joints=ordered, scale=float(scale), up=up_axis)

    def source_joints(self) -> list[str]:
        """Every source joint the map reads, each once, in SMPL joint order."""
        seen: dict[str, None] = {}
        for source in self.joints.values():
            for joint, _ in source:
                seen.setdefault(joint, None)
        return list(seen)

    def missing_in(self, motion: BVHMotion) -> list[str]:
        """Source joints of the map that ``motion`` does not have."""
        names = set(motion.names)
        return [j for j in self.source_joints() if j not in names]

    def fits(self, motion: BVHMotion) -> bool:
        """Whether ``motion`` has every source joint of this map or of one of its variants."""
        return any(not m.missing_in(motion) for m in (self, *self.variants))

    def resolve(self, motion: BVHMotion, where: str = "the BVH") -> JointMap:
        """This map or the first variant whose joints ``motion`` has; else a clear error."""
        for candidate in (self, *self.variants):
            if not candidate.missing_in(motion):
                return candidate
        missing = self.missing_in(motion)
        if missing:
            hint = ""
            guess = detect_skeleton(motion)
            if guess and guess != self.name:
                hint = f"; it looks like a {guess!r} skeleton: use --skeleton {guess}"
            raise JointMapError(
                f"{where} has no joint {', '.join(repr(m) for m in missing)} needed by joint map "
                f"{self.name!r}{hint} (the BVH's joints: {', '.join(motion.names)})"
            )
        return self  # pragma: no cover - a map without missing joints returned above

    def check(self, motion: BVHMotion, where: str = "the BVH") -> None:
        """Raise ``JointMapError`` when ``motion`` fits neither this map nor a variant."""
        self.resolve(motion, where)

    def to_toml(self) -> str:
        """The map as a TOML file that ``load_joint_map`` reads back (without variants)."""
        lines = [
            "[skeleton]",
            f"name = {_toml_str(self.name)}",
            f"scale = {self.scale!r}",
            f"up = {_toml_str(self.up)}",
            "",
            "[joints]",
        ]
        for smpl, source in self.joints.items():
            if len(source) == 1:
                value = _toml_str(source[0][0])
            elif len({w for _, w in source}) == 1:
                value = "[" + ", ".join(_toml_str(j) for j, _ in source) + "]"
            else:
                value = "{ " + ", ".join(f"{_toml_str(j)} = {w!r}" for j, w in source) + " }"
            lines.append(f"{smpl} = {value}")
        return "\n".join(lines) + "\n"


def _toml_str(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _parse_source(spec: object, where: str) -> Source:
    if isinstance(spec, str):
        pairs = [(spec, 1.0)]
    elif isinstance(spec, Mapping):
        pairs = list(spec.items())
    elif isinstance(spec, Sequence) and not isinstance(spec, bytes):
        pairs = [(s, 1.0) for s in spec]
    else:
        raise JointMapError(
            f"{where}: expected a joint name, a list of names or {{ name = weight }}, got {spec!r}"
        )
    if not pairs:
        raise JointMapError(f"{where}: give at least one source joint")
    for joint, weight in pairs:
        if not isinstance(joint, str) or not joint:
            raise JointMapError(f"{where}: source joint names must be strings, got {joint!r}")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not (math.isfinite(weight) and weight != 0)
        ):
            raise JointMapError(
                f"{where}: weight of {joint!r} must be a non-zero number, got {weight!r}"
            )
    total = float(sum(w for _, w in pairs))
    if total <= 0:
        raise JointMapError(f"{where}: the weights must add up to a positive number, got {total}")
    return tuple((j, float(w) / total) for j, w in pairs)


# --------------------------------------------------------------------------------------------
# Built-in maps
# --------------------------------------------------------------------------------------------

#: CMU mocap (ASF/AMC converted to BVH): lengths in units of 1/0.45 inch (the ASF's
#: ``length 0.45``), so 1 unit = 0.0254 / 0.45 m. Its spine is short and coarse: Hips (root),
#: LowerBack (at the root), Spine (+11 cm), Spine1 (+23 cm, where Neck and both clavicles start,
#: at zero offset), Neck1, Head.
CMU = JointMap.from_spec(
    "cmu",
    {
        "pelvis": "Hips",
        "left_hip": "LeftUpLeg",
        "right_hip": "RightUpLeg",
        "spine1": "Spine",
        "left_knee": "LeftLeg",
        "right_knee": "RightLeg",
        # No joint between Spine and Spine1: spine2 is their midpoint, spine3 Spine1 (the chest).
        "spine2": ["Spine", "Spine1"],
        "left_ankle": "LeftFoot",
        "right_ankle": "RightFoot",
        "spine3": "Spine1",
        "left_foot": "LeftToeBase",
        "right_foot": "RightToeBase",
        "neck": "Neck1",
        # The clavicle joints sit at Spine1 itself (zero offset): the SMPL collar is up and out
        # from the chest, between the neck base and the shoulder.
        "left_collar": {"Neck1": 0.6, "LeftArm": 0.4},
        "right_collar": {"Neck1": 0.6, "RightArm": 0.4},
        "head": "Head",
        "left_shoulder": "LeftArm",
        "right_shoulder": "RightArm",
        "left_elbow": "LeftForeArm",
        "right_elbow": "RightForeArm",
        "left_wrist": "LeftHand",
        "right_wrist": "RightHand",
    },
    scale=0.0254 / 0.45,
    up="y",
)

#: The same 31 CMU joints under the names of another AMC-to-BVH converter (CMU 131_* files of
#: yuki-koyama/bvh11). Beware: its LeftShoulder is the other naming's LeftArm, its Neck the
#: other's Neck1.
_CMU_RENAMED = {
    "LeftUpLeg": "LeftHip", "LeftLeg": "LeftKnee", "LeftFoot": "LeftAnkle",
    "LeftToeBase": "LeftToe", "RightUpLeg": "RightHip", "RightLeg": "RightKnee",
    "RightFoot": "RightAnkle", "RightToeBase": "RightToe", "Spine": "Chest", "Spine1": "Chest2",
    "Neck1": "Neck", "LeftArm": "LeftShoulder", "LeftForeArm": "LeftElbow",
    "LeftHand": "LeftWrist", "RightArm": "RightShoulder", "RightForeArm": "RightElbow",
    "RightHand": "RightWrist",
}  # fmt: skip
CMU = replace(
    CMU,
    variants=(
        replace(
            CMU,
            name="cmu",
            joints={
                smpl: tuple((_CMU_RENAMED.get(j, j), w) for j, w in source)
                for smpl, source in CMU.joints.items()
            },
        ),
    ),
)

#: Bandai-Namco-Research-Motiondataset-1/2: centimetres, Y up; ``joint_Root`` is a static
#: ground node, the body starts at Hips.
BANDAI = JointMap.from_spec(
    "bandai",
    {
        # Bandai's Hips sits nearly level with the hip joints (2.6 cm above them); SMPL's pelvis
        # is ~8 cm above. Extrapolate along the rigid pelvis: Hips + 2 (Hips - mid hips).
        "pelvis": {"Hips": 3.0, "UpperLeg_L": -1.0, "UpperLeg_R": -1.0},
        "left_hip": "UpperLeg_L",
        "right_hip": "UpperLeg_R",
        "spine1": "Spine",
        "left_knee": "LowerLeg_L",
        "right_knee": "LowerLeg_R",
        "spine2": "Chest",
        "left_ankle": "Foot_L",
        "right_ankle": "Foot_R",
        # Chest -> Neck is one long bone; SMPL's spine3 lies on it, below the collars.
        "spine3": ["Chest", "Neck"],
        "left_foot": "Toes_L",
        "right_foot": "Toes_R",
        "neck": "Neck",
        "left_collar": "Shoulder_L",
        "right_collar": "Shoulder_R",
        "head": "Head",
        "left_shoulder": "UpperArm_L",
        "right_shoulder": "UpperArm_R",
        "left_elbow": "LowerArm_L",
        "right_elbow": "LowerArm_R",
        "left_wrist": "Hand_L",
        "right_wrist": "Hand_R",
    },
    scale=0.01,
    up="y",
)

BUILTIN_MAPS: dict[str, JointMap] = {"cmu": CMU, "bandai": BANDAI}


def get_joint_map(name: str | os.PathLike[str] | JointMap) -> JointMap:
    """A built-in map by name (``cmu``, ``bandai``), a TOML file path, or a map as given."""
    if isinstance(name, JointMap):
        return name
    key = str(name).strip().lower()
    if key in BUILTIN_MAPS:
        return BUILTIN_MAPS[key]
    if isinstance(name, os.PathLike) or key.endswith(".toml") or os.sep in key:
        return load_joint_map(name)
    raise JointMapError(
        f"unknown skeleton {name!r}{did_you_mean(key, list(BUILTIN_MAPS))}; built-in skeletons: "
        f"{', '.join(BUILTIN_MAPS)}, or give the path of a joint map .toml file"
    )


def load_joint_map(path: str | os.PathLike[str]) -> JointMap:
    """Read a user joint map from a TOML file (format in the module docstring)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JointMapError(f"joint map {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JointMapError(f"joint map {path} cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise JointMapError(f"joint map {path} is not valid TOML: {exc}") from None
    where = str(path)
    for key in data:
        if key not in ("skeleton", "joints"):
            raise JointMapError(
                f"{where}: unknown table [{key}]{did_you_mean(key, ['skeleton', 'joints'])}; "
                "a joint map has [skeleton] and [joints]"
            )
    skeleton = data.get("skeleton", {})
    joints = data.get("joints")
    if not isinstance(skeleton, dict):
        raise JointMapError(
            f"{where}: 'skeleton' must be a table: [skeleton] name = ..., scale = ..."
        )
    allowed = ["name", "scale", "up", "base"]
    for key in skeleton:
        if key not in allowed:
            raise JointMapError(
                f"{where}: unknown [skeleton] key {key!r}{did_you_mean(key, allowed)}; "
                f"keys: {', '.join(allowed)}"
            )
    base: JointMap | None = None
    if "base" in skeleton:
        base_name = str(skeleton["base"]).lower()
        if base_name not in BUILTIN_MAPS:
            raise JointMapError(
                f"{where}: base {skeleton['base']!r} is not a built-in map"
                f"{did_you_mean(base_name, list(BUILTIN_MAPS))} ({', '.join(BUILTIN_MAPS)})"
            )
        base = BUILTIN_MAPS[base_name]
    if joints is None and base is not None:
        joints = {}
    if not isinstance(joints, dict) or (not joints and base is None):
        raise JointMapError(f'{where}: missing [joints] table (e.g. pelvis = "Hips")')
    spec: dict[str, object] = {}
    if base is not None:
        spec.update({k: {j: w for j, w in v} for k, v in base.joints.items()})
    spec.update(joints)
    return JointMap.from_spec(
        skeleton.get("name", path.stem),
        spec,  # type: ignore[arg-type]
        scale=skeleton.get("scale", base.scale if base else 1.0),
        up=skeleton.get("up", base.up if base else "y"),
        where=where,
    )


def detect_skeleton(motion: BVHMotion) -> str | None:
    """The name of the built-in map whose source joints all exist in ``motion``, else ``None``."""
    for name, joint_map in BUILTIN_MAPS.items():
        if joint_map.fits(motion):
            return name
    return None


# --------------------------------------------------------------------------------------------
# Retargeting
# --------------------------------------------------------------------------------------------


def resample(positions: np.ndarray, source_fps: float, fps: float) -> np.ndarray:
    """Linearly interpolate ``(T, ...)`` frames from ``source_fps`` to ``fps``.

    Target frame ``k`` is at ``k / fps`` seconds; frames run to the last one at or before the
    source's last frame (``T' = floor((T - 1) * fps / source_fps) + 1``).
    """
    positions = np.asarray(positions, dtype=np.float64)
    frames = len(positions)
    if frames < 2 or source_fps == fps:
        return positions.copy()
    duration = (frames - 1) / source_fps
    count = math.floor(duration * fps + 1e-6) + 1
    where = np.arange(count) * (source_fps / fps)
    lower = np.clip(np.floor(where + 1e-9).astype(np.int64), 0, frames - 2)
    weight = np.clip(where - lower, 0.0, 1.0).reshape(-1, *([1] * (positions.ndim - 1)))
    return positions[lower] * (1.0 - weight) + positions[lower + 1] * weight


def to_smpl_positions(motion: BVHMotion, joint_map: JointMap) -> np.ndarray:
    """``(T, 22, 3)`` SMPL joint positions in metres, Y up, at the motion's own frame rate."""
    joint_map = joint_map.resolve(motion)
    glob = motion.global_positions()
    out = np.zeros((motion.num_frames, len(SMPL_JOINTS), 3))
    for k, smpl in enumerate(SMPL_JOINTS):
        for joint, weight in joint_map.joints[smpl]:
            out[:, k] += weight * glob[:, motion.index(joint)]
    out *= joint_map.scale
    if joint_map.up == "z":  # (x, y, z) z-up -> (x, z, -y) y-up: a proper rotation about X
        out = np.stack([out[..., 0], out[..., 2], -out[..., 1]], axis=-1)
    return out


def retarget(
    motion: BVHMotion, joint_map: JointMap | str | os.PathLike[str], fps: float = SMPL22.fps
) -> np.ndarray:
    """The 22 SMPL joints ``(T', 22, 3)`` of ``motion``: metres, Y up, resampled to ``fps``.

    Args:
        motion: a BVH motion (``motionkit.motion.bvh.read_bvh``).
        joint_map: a ``JointMap``, or the name of a built-in one (``cmu``, ``bandai``) or
            the path of a TOML map.
        fps: target frame rate (HumanML3D: 20); frames are linearly interpolated (see
            ``resample``).

    Raises:
        JointMapError: the BVH lacks a joint the map needs (the message lists its joints).
    """
    joint_map = get_joint_map(joint_map)
    if not (math.isfinite(fps) and fps > 0):
        raise JointMapError(f"retarget: fps must be positive, got {fps}")
    return resample(to_smpl_positions(motion, joint_map), source_fps(motion), fps)


def source_fps(motion: BVHMotion) -> float:
    """The motion's frame rate, snapped to a whole number when within 0.01 % of one.

    Files store rounded frame times (CMU: ``0.008333`` for 120 fps, which is 120.0048 fps);
    snapping keeps long clips from losing a frame to the rounding.
    """
    fps = motion.fps
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) <= 1e-4 * fps else fps
