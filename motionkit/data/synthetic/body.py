"""The synthetic body: pose parameters, the neutral skeleton, forward kinematics and placement.

A motion is described per frame by a ``Track``: about thirty named pose parameters in
degrees (hip flexion, knee flexion, shoulder abduction, ...), the heading's turning rate, foot
contact weights and flight parameters. ``pose_joints`` turns a track into joint
positions ``(T, 22, 3)`` on the SMPL 22-joint skeleton with the HumanML3D reference bone lengths
(``SMPL22.bone_lengths_m``), so every bone has its exact reference length:

1. parameters -> local Euler rotations (``ZXY``) per joint, parent-relative;
2. forward kinematics (``motionkit.motion.kinematics.forward_kinematics``) with the root at the
   origin, rotated by the heading;
3. placement: the root's height puts the lowest foot point on the floor (plus the flight
   height); the root's horizontal velocity cancels the velocity of the feet in contact, so
   planted feet do not slide. In flight frames it is the track's push plus (weighted by the
   track's ``carry``) the velocity of the neighbouring contact frames: a runner carries their
   speed through the flight, a jump's horizontal travel is its push alone.

Axes as in HumanML3D: y up, metres, the character faces +Z at heading 0 and its left is +X.
A positive heading turns the character to its left: counter-clockwise seen from above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionkit.motion import quaternion as quat
from motionkit.motion.kinematics import forward_kinematics
from motionkit.motion.skeleton import SMPL22

FPS = SMPL22.fps
SIDES = ("left", "right")
#: +1 for the left side (+X), -1 for the right side (-X).
SIDE_SIGN = {"left": 1.0, "right": -1.0}

_BODY = ("pelvis_pitch", "pelvis_roll", "pelvis_yaw", "spine_lean", "spine_roll", "spine_twist")
_HEAD = ("neck_pitch", "neck_yaw")
_LIMB = (
    "hip_flex",
    "hip_abd",
    "knee",
    "ankle",
    "flat",
    "collar",
    "shoulder_flex",
    "shoulder_abd",
    "shoulder_twist",
    "elbow",
)
#: Pose parameter names, in column order. Angles in degrees; ``flat_*`` is a weight in [0, 1]
#: (1 keeps the foot level whatever the hip and knee do). Signs: flexion moves the limb
#: forward (the knee bends backwards), abduction moves it away from the body, ``ankle`` > 0
#: points the toes down, ``spine_lean`` > 0 leans forward, ``spine_twist`` > 0 turns the chest
#: to the left, ``collar`` > 0 lifts the shoulder, ``shoulder_twist`` > 0 turns the arm
#: outwards.
PARAMS: tuple[str, ...] = (
    _BODY + _HEAD + tuple(f"{name}_{side[0]}" for side in SIDES for name in _LIMB)
)
COLUMN = {name: i for i, name in enumerate(PARAMS)}


def sided(name: str, side: str) -> str:
    """The parameter ``name`` of one body side: ``sided("knee", "left") == "knee_l"``."""
    return f"{name}_{side[0]}"


# Rest directions of every bone (parent -> joint) in the neutral standing pose, left side; the
# right side mirrors x. Unit-normalised below and scaled by the reference bone lengths.
_LEFT_DIRECTIONS = {
    1: (0.60, -0.78, -0.10),  # left hip
    3: (0.00, 0.95, -0.30),  # spine1
    4: (0.05, -1.00, 0.00),  # left knee
    6: (0.00, 0.98, 0.20),  # spine2
    7: (0.00, -1.00, -0.08),  # left ankle
    9: (0.00, 0.99, 0.14),  # spine3
    10: (0.20, -0.30, 0.93),  # left foot (ball of the foot)
    12: (0.00, 0.995, -0.10),  # neck
    13: (0.52, 0.85, -0.05),  # left collar
    15: (0.00, 0.90, 0.44),  # head
    16: (0.90, -0.42, -0.10),  # left shoulder
    18: (0.02, -1.00, -0.03),  # left elbow
    20: (0.00, -1.00, 0.02),  # left wrist
}
_MIRROR = {2: 1, 5: 4, 8: 7, 11: 10, 14: 13, 17: 16, 19: 18, 21: 20}


def _neutral_offsets() -> np.ndarray:
    directions = np.zeros((SMPL22.num_joints, 3))
    for joint, d in _LEFT_DIRECTIONS.items():
        directions[joint] = d
    for joint, left in _MIRROR.items():
        directions[joint] = directions[left] * (-1.0, 1.0, 1.0)
    norms = np.linalg.norm(directions, axis=1, keepdims=True)
    directions = directions / np.where(norms > 0, norms, 1.0)
    offsets = directions * SMPL22.bone_lengths()[:, None]
    offsets.setflags(write=False)
    return offsets


#: Offsets ``(22, 3)`` of the neutral standing pose, metres, with the reference bone lengths.
OFFSETS = _neutral_offsets()
FEET = {"left": (7, 10), "right": (8, 11)}  # (ankle, ball of the foot) per side
#: Height of the ankle above the ball of the foot in the neutral pose: the ankle stands in for
#: the heel, which touches the floor this far below it.
HEEL_DROP = float(-OFFSETS[10, 1])
_SPINE = ((3, 0.4), (6, 0.3), (9, 0.3))


@dataclass
class Track:
    """Per-frame description of a motion segment of ``n`` frames (see the module docstring).

    Attributes:
        values: ``(n, len(PARAMS))`` pose parameters (degrees; ``flat_*`` weights).
        yaw_rate: ``(n,)`` heading change per frame, radians (> 0 turns left).
        contact: ``(n, 2)`` left/right foot contact weights in [0, 1]; both 0 is a flight.
        lift: ``(n,)`` extra root height, metres (flight arcs).
        push: ``(n, 2)`` extra root velocity during flights in the heading frame, metres per
            frame: (to the left, forwards).
        carry: ``(n,)`` in [0, 1]: how much of the ground speed carries through a flight.
    """

    values: np.ndarray
    yaw_rate: np.ndarray
    contact: np.ndarray
    lift: np.ndarray
    push: np.ndarray
    carry: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.values)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[:, COLUMN[name]]

    def __setitem__(self, name: str, value: np.ndarray | float) -> None:
        self.values[:, COLUMN[name]] = value

    def add(self, name: str, value: np.ndarray | float) -> None:
        self.values[:, COLUMN[name]] += value

    def states(self) -> list[np.ndarray]:
        """Arrays that crossfade where segments overlap (pose, contacts), frames first."""
        return [self.values, self.contact, self.carry]

    def rates(self) -> list[np.ndarray]:
        """Arrays that add up where segments overlap (turning, flight), so that a segment's
        total turn and flight are kept whatever overlaps it."""
        return [self.yaw_rate, self.lift, self.push]

    @classmethod
    def empty(cls, n: int) -> Track:
        """All zeros (no pose, no contact): the accumulator of the sequencer."""
        z = np.zeros
        return cls(z((n, len(PARAMS))), z(n), z((n, 2)), z(n), z((n, 2)), z(n))

    @classmethod
    def filled(cls, n: int, neutral: np.ndarray) -> Track:
        """A standing track: ``neutral (len(PARAMS),)`` pose, both feet down, no motion."""
        return cls(
            values=np.repeat(neutral[None, :], n, axis=0),
            yaw_rate=np.zeros(n),
            contact=np.ones((n, 2)),
            lift=np.zeros(n),
            push=np.zeros((n, 2)),
            carry=np.ones(n),
        )


def local_euler(values: np.ndarray) -> np.ndarray:
    """Parent-relative Euler angles ``(n, 22, 3)`` in radians, order ``ZXY`` (z, x, y)."""
    v = {name: values[:, i] for i, name in enumerate(PARAMS)}
    n = len(values)
    e = np.zeros((n, SMPL22.num_joints, 3))
    z, x, y = 0, 1, 2
    e[:, 0, z], e[:, 0, x], e[:, 0, y] = v["pelvis_roll"], v["pelvis_pitch"], v["pelvis_yaw"]
    for joint, share in _SPINE:
        e[:, joint, z] = share * v["spine_roll"]
        e[:, joint, x] = share * v["spine_lean"]
        e[:, joint, y] = share * v["spine_twist"]
    e[:, 12, x], e[:, 12, y] = v["neck_pitch"], v["neck_yaw"]
    for side, (hip, knee, ankle, collar, shoulder, elbow) in (
        ("left", (1, 4, 7, 13, 16, 18)),
        ("right", (2, 5, 8, 14, 17, 19)),
    ):
        s, k = SIDE_SIGN[side], side[0]
        flat = v[f"flat_{k}"]
        e[:, hip, z] = s * v[f"hip_abd_{k}"]
        e[:, hip, x] = -v[f"hip_flex_{k}"]
        e[:, knee, x] = v[f"knee_{k}"]
        # keep the sole level: undo the pitch and roll the leg chain gives the foot
        e[:, ankle, x] = flat * (v[f"hip_flex_{k}"] - v[f"knee_{k}"] - v["pelvis_pitch"])
        e[:, ankle, x] += v[f"ankle_{k}"]
        e[:, ankle, z] = -flat * (s * v[f"hip_abd_{k}"] + v["pelvis_roll"])
        e[:, collar, z] = s * v[f"collar_{k}"]
        e[:, shoulder, z] = s * v[f"shoulder_abd_{k}"]
        e[:, shoulder, x] = -v[f"shoulder_flex_{k}"]
        e[:, shoulder, y] = s * v[f"shoulder_twist_{k}"]
        e[:, elbow, x] = -v[f"elbow_{k}"]
    return np.deg2rad(e)


def heading(yaw_rate: np.ndarray) -> np.ndarray:
    """Heading angle per frame (radians, 0 at frame 0) from the per-frame turning rate."""
    psi = np.zeros(len(yaw_rate))
    psi[1:] = np.cumsum(yaw_rate[:-1])
    return psi


def pose_joints(track: Track) -> np.ndarray:
    """Joint positions ``(n, 22, 3)`` float64 of a track: FK, then floor and foot anchoring."""
    n = track.frames
    psi = heading(track.yaw_rate)
    local = quat.euler_to_quat(local_euler(track.values), "ZXY")
    turn = np.zeros((n, 4))
    turn[:, 0], turn[:, 2] = np.cos(psi / 2), np.sin(psi / 2)
    local[:, 0] = quat.multiply(turn, local[:, 0])
    rel = forward_kinematics(local, np.zeros((n, 3)), OFFSETS, SMPL22.parents)
    root = _place(rel, psi, track)
    return rel + root[:, None, :]


def floor_height(rel: np.ndarray) -> np.ndarray:
    """Height ``(n,)`` of the lowest foot point: a ball of the foot or a heel under an ankle."""
    balls = rel[:, [10, 11], 1]
    heels = rel[:, [7, 8], 1] - HEEL_DROP
    return np.minimum(balls.min(axis=1), heels.min(axis=1))


def _place(rel: np.ndarray, psi: np.ndarray, track: Track) -> np.ndarray:
    """Root positions ``(n, 3)`` that ground the feet and keep planted feet in place."""
    n = len(rel)
    root = np.zeros((n, 3))
    root[:, 1] = track.lift - floor_height(rel)
    if n < 2:
        return root
    anchors = np.stack([rel[:, FEET[side], :].mean(axis=1) for side in SIDES], axis=1)
    step = np.diff(anchors[:, :, [0, 2]], axis=0)  # (n-1, 2 feet, xz)
    contact = 0.5 * (track.contact[1:] + track.contact[:-1])
    total = contact.sum(axis=1)
    ground = np.clip(total, 0.0, 1.0)[:, None]
    # a foot that is leaving the floor (contact < 1) should not drag the body along
    sharp = contact**8
    weights = sharp / np.maximum(sharp.sum(axis=1), 1e-12)[:, None]
    anchored = -(weights[:, :, None] * step).sum(axis=1)  # (n-1, xz)
    on_ground = np.flatnonzero(ground[:, 0] > 0.5)
    frames = np.arange(n - 1)
    if len(on_ground):
        carried = np.stack(
            [np.interp(frames, on_ground, anchored[on_ground, i]) for i in range(2)], axis=1
        )
    else:
        carried = np.zeros((n - 1, 2))
    mid = 0.5 * (psi[1:] + psi[:-1])
    push = 0.5 * (track.push[1:] + track.push[:-1])
    cos, sin = np.cos(mid), np.sin(mid)
    push_world = np.stack(
        [cos * push[:, 0] + sin * push[:, 1], -sin * push[:, 0] + cos * push[:, 1]], axis=1
    )
    carry = 0.5 * (track.carry[1:] + track.carry[:-1])[:, None]
    velocity = ground * anchored + (1.0 - ground) * (carry * carried + push_world)
    root[1:, 0] = np.cumsum(velocity[:, 0])
    root[1:, 2] = np.cumsum(velocity[:, 1])
    return root
