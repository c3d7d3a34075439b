"""Locomotion primitives: the gait cycle (walk, jog, run, backwards, circles, turning on the
spot) and the sidestep.

A gait is driven by a phase per leg (cycles; the right leg half a cycle behind the left): hip
flexion follows a cosine that peaks just before heel strike, the knee flexes a little in loading
and a lot in swing, the ankle pushes off at the end of stance, the foot is in contact during
the first ``duty`` of the cycle. Arms swing with the opposite leg, the pelvis and chest counter-
rotate, and the pelvis bobs by itself (the root height follows the stance leg). The root's
forward speed is not prescribed: it follows from the planted feet (``body.pose_joints``), so
stride length and cadence always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionkit.data.synthetic.body import FPS, SIDE_SIGN, Track, sided
from motionkit.data.synthetic.curves import bump, envelope, smoothstep, window
from motionkit.data.synthetic.spec import Segment, Style


@dataclass(frozen=True)
class Gait:
    """Parameters of a gait cycle (angles in degrees, frequency in strides per second)."""

    freq: float
    hip_mean: float
    hip_amp: float
    knee_load: float
    knee_swing: float
    duty: float  # fraction of the cycle a foot is on the ground
    arm: float  # arm swing amplitude
    elbow: float  # extra elbow flexion
    lean: float  # extra forward lean
    lift: float = 0.0  # flight height (jog, run), metres
    push_off: float = 10.0  # ankle plantarflexion at toe-off
    hip_lift: float = 0.0  # extra hip flexion in swing (stepping on the spot)
    swing_at: float = 0.74  # phase of the knee's peak flexion in swing
    swing_width: float = 0.1  # its width (sigma, cycles)


# fmt: off
GAITS = {
    #                  freq  hip: mean amp  knee: load swing  duty  arm elbow lean
    "walk_slow":   Gait(0.78,      6,  17,        8,   55,   0.64, 10,  2,    1,
                        push_off=16, swing_at=0.76),
    "walk_normal": Gait(0.95,      7,  21,       12,   60,   0.61, 16,  5,    2,
                        push_off=20),
    "walk_fast":   Gait(1.10,      8,  25,       15,   66,   0.58, 24, 12,    4,
                        push_off=22, swing_at=0.72),
    "jog":         Gait(1.35,     10,  27,       25,   85,   0.42, 20, 70,    7,
                        lift=0.04, push_off=20, swing_at=0.66, swing_width=0.11),
    "run":         Gait(1.55,     13,  36,       30,  105,   0.36, 32, 78,   10,
                        lift=0.05, push_off=25, swing_at=0.63, swing_width=0.11),
    # stepping on the spot: the knee lifts in swing, the stance hip does not sweep
    "step":        Gait(0.90,      4,   0,        0,   40,   0.62,  3,  0,    1,
                        push_off=0, hip_lift=22, swing_at=0.8),
}
# fmt: on


def _ramp_frames(n: int) -> float:
    return min(0.6 * FPS, n / 4)


def gait_track(
    n: int,
    gait: Gait,
    style: Style,
    rng: np.random.Generator,
    backward: bool = False,
) -> Track:
    """``n`` frames of a gait starting and ending at rest (amplitudes ramp in and out).

    Walking speeds come out at about 0.8 (slow), 1.1 (normal) and 1.5 m/s (fast), jogging
    2.1 and running 3.0 m/s; walking backwards takes shorter strides (0.85 m/s).
    """
    track = Track.filled(n, style.neutral())
    env = envelope(n, _ramp_frames(n))
    amp = style.amplitude * rng.uniform(0.93, 1.07) * (0.75 if backward else 1.0)
    freq = gait.freq * style.cadence * rng.uniform(0.96, 1.04)
    t = np.arange(n) / FPS
    phase_l = rng.uniform(0.0, 1.0) + (-1.0 if backward else 1.0) * freq * t
    extension = 0.85 * gait.duty  # phase of the hip's maximum extension
    hip_dev = {}
    contact = np.empty((n, 2))
    for i, (side, phase) in enumerate((("left", phase_l), ("right", phase_l + 0.5))):
        hip_dev[side] = -np.cos(2 * np.pi * (phase - extension))
        stance = window(phase, 0.0, gait.duty, 0.05)
        hip = gait.hip_mean + amp * gait.hip_amp * hip_dev[side]
        hip = hip + amp * gait.hip_lift * bump(phase, gait.swing_at, gait.swing_width)
        knee = gait.knee_load * bump(phase, 0.12, 0.07) + amp * gait.knee_swing * bump(
            phase, gait.swing_at, gait.swing_width
        )
        # heel rises from mid-stance to toe-off, then the foot follows the shank in swing
        heel_off = smoothstep((phase % 1.0 - 0.3) / (gait.duty - 0.3))
        heel_off *= 1.0 - smoothstep((phase % 1.0 - gait.duty) / 0.1)
        track.add(sided("hip_flex", side), env * hip)
        track.add(sided("knee", side), env * knee)
        toes_up = window(phase, gait.duty + 0.06, 0.98, 0.1)  # clear the toes in swing
        track.add(sided("ankle", side), env * (gait.push_off * heel_off - 15.0 * toes_up))
        flat = window(phase, 0.04, gait.duty + 0.02, 0.08)
        track[sided("flat", side)] = 1.0 - env * (1.0 - flat)
        contact[:, i] = 1.0 - smoothstep(env / 0.1) * (1.0 - stance)
    for side, other in (("left", "right"), ("right", "left")):
        swing = amp * gait.arm * hip_dev[other]  # the arm swings with the opposite leg
        track.add(sided("shoulder_flex", side), env * (swing - 0.2 * gait.arm))
        track.add(sided("elbow", side), env * (gait.elbow + 0.4 * np.maximum(swing, 0.0)))
        track.add(sided("shoulder_abd", side), env * 0.15 * gait.arm)
    pelvis_yaw = -4.0 * amp * (hip_dev["left"] - hip_dev["right"]) / 2
    track.add("pelvis_yaw", env * pelvis_yaw)
    track.add("spine_twist", env * -1.6 * pelvis_yaw)
    track.add("pelvis_roll", env * 2.5 * (contact[:, 0] - contact[:, 1]))
    lean = -2.0 if backward else gait.lean
    track.add("spine_lean", env * lean)
    track.add("neck_pitch", env * -0.5 * lean)
    track.contact = contact
    if gait.lift > 0:
        flight = np.clip(1.0 - contact.sum(axis=1), 0.0, 1.0)
        track.lift = gait.lift * amp * smoothstep(flight)
    return track


def turning_profile(weights: np.ndarray, total: float) -> np.ndarray:
    """Per-frame heading rates proportional to ``weights`` and summing to ``total`` radians."""
    return total * weights / weights.sum()


def walk(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    backward = seg.direction == "backward"
    return gait_track(seg.frames, GAITS[f"walk_{seg.speed}"], style, rng, backward=backward)


def jog(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    return gait_track(seg.frames, GAITS["jog"], style, rng)


def run(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    return gait_track(seg.frames, GAITS["run"], style, rng)


def circle(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Walk once around a circle: counter-clockwise seen from above turns left (+yaw)."""
    track = gait_track(seg.frames, GAITS[f"walk_{seg.speed}"], style, rng)
    sign = 1.0 if seg.direction == "counterclockwise" else -1.0
    # turning in step with the walking speed keeps the curvature constant: the path closes
    track.yaw_rate = turning_profile(
        envelope(seg.frames, _ramp_frames(seg.frames)), sign * 2 * np.pi
    )
    # lean into the turn a little
    track.add("spine_roll", -sign * 3.0 * track.yaw_rate / np.abs(track.yaw_rate).max())
    return track


def turn(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Turn on the spot by ``angle`` degrees, stepping in place; left is +yaw."""
    track = gait_track(seg.frames, GAITS["step"], style, rng)
    sign = SIDE_SIGN[seg.side]
    track.yaw_rate = turning_profile(
        envelope(seg.frames, seg.frames / 3), sign * np.deg2rad(seg.angle)
    )
    lead = track.yaw_rate / np.abs(track.yaw_rate).max()
    track.add("neck_yaw", 15.0 * lead)  # the head leads the turn
    track.add("spine_twist", 6.0 * lead)
    return track


def sidestep(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Step sideways towards ``side``: the lead leg steps out, the trailing leg closes in.

    Over one cycle both hips abduct and adduct together (``sin^2``); the trailing foot is down
    during the first half (the lead foot swings out, the pelvis shifts over the trailing foot),
    the lead foot during the second (the pelvis shifts over it, the trailing foot follows).
    """
    n = seg.frames
    track = Track.filled(n, style.neutral())
    ramp = _ramp_frames(n)
    env = envelope(n, ramp)
    freq = {"slow": 0.75, "normal": 0.95, "fast": 1.15}[seg.speed] * style.cadence
    spread = {"slow": 12.0, "normal": 14.0, "fast": 16.0}[seg.speed] * style.amplitude
    active = (n - ramp) / FPS
    cycles = max(1, round(freq * active))
    t = np.clip((np.arange(n) - ramp / 2) / FPS, 0.0, None)
    phase = np.minimum(t * cycles / active, cycles)
    open_ = np.sin(np.pi * phase) ** 2
    lead, trail = seg.side, "right" if seg.side == "left" else "left"
    for side, swing_at, stance_from in ((lead, 0.25, 0.5), (trail, 0.75, 0.0)):
        lifted = bump(phase, swing_at, 0.09) * (phase < cycles)
        track.add(sided("hip_abd", side), env * spread * open_)
        track.add(sided("hip_flex", side), env * 22.0 * lifted)
        track.add(sided("knee", side), env * 45.0 * lifted)
        stance = window(phase, stance_from, stance_from + 0.5, 0.08)
        stance = np.where(phase >= cycles, 1.0, stance)
        track.contact[:, 0 if side == "left" else 1] = 1.0 - smoothstep(env / 0.1) * (1.0 - stance)
        track.add(sided("shoulder_abd", side), env * 6.0 * open_)
    track.add("pelvis_roll", env * 2.0 * (track.contact[:, 0] - track.contact[:, 1]))
    return track
