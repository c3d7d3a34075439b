"""Keyframed primitives: jumps, squats, sitting, kicks and arm gestures (wave, raise, punch).

Each primitive lays out key poses in seconds for one repetition, repeats them ``count`` times,
stretches the timeline to the segment's frame count and interpolates with monotone cubic splines
(``curves.keyframes``). Keys are offsets from the clip's standing pose, so every primitive starts
and ends at rest and the sequencer's crossfades meet matching poses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from motionkit.data.synthetic import locomotion
from motionkit.data.synthetic.body import FPS, SIDES, Track, sided
from motionkit.data.synthetic.curves import keyframes, smoothstep
from motionkit.data.synthetic.spec import Segment, Style, nominal_seconds

Keys = list[tuple[float, dict[str, float]]]


def _animate(track: Track, keys: Keys, scale: float) -> None:
    """Add keyframed offsets to ``track``: keys are (seconds, {param: degrees}) pairs, times
    multiplied by ``scale``; a parameter missing from a key is 0 there (the standing pose)."""
    names = sorted({name for _, pose in keys for name in pose})
    times = [t * scale * FPS for t, _ in keys]
    values = np.array([[pose.get(name, 0.0) for name in names] for _, pose in keys])
    curves = keyframes(track.frames, times, values)
    for i, name in enumerate(names):
        track.add(name, curves[:, i])


def _limbs(pose: dict[str, float], sides: str = "both") -> dict[str, float]:
    """Limb parameters of one side or both: ``_limbs({"knee": 30})`` sets ``knee_l`` and
    ``knee_r``; ``_limbs({"elbow": 90}, "left")`` sets ``elbow_l``."""
    names = SIDES if sides == "both" else (sides,)
    return {sided(name, side): value for side in names for name, value in pose.items()}


def _other(side: str) -> str:
    return "right" if side == "left" else "left"


def _start(seg: Segment, style: Style) -> tuple[Track, float]:
    """A standing track of the segment's length and the time scale of its keys."""
    scale = seg.frames / (nominal_seconds(seg) * FPS)
    return Track.filled(seg.frames, style.neutral()), scale


def _flight_mask(n: int, spans: list[tuple[float, float]]) -> np.ndarray:
    """1 inside each (takeoff, landing) span of frames, 0 outside, with one-frame soft edges."""
    t = np.arange(n, dtype=np.float64)
    mask = np.zeros(n)
    for up, down in spans:
        mask = np.maximum(mask, np.minimum(smoothstep(t - up + 0.5), smoothstep(down + 0.5 - t)))
    return mask


PUSH, ABSORB = 0.25, 0.2  # seconds from the deepest crouch to takeoff, from landing to crouch


def jump(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Crouch, push off, fly (ballistic arc), land and absorb; ``count`` times in a row."""
    track, scale = _start(seg, style)
    forward = seg.direction == "forward"
    flight = 0.5 if forward else 0.4
    a = style.amplitude
    crouch = _limbs({"hip_flex": 50 * a, "knee": 80 * a, "shoulder_flex": -40 * a, "elbow": 10})
    crouch |= {"spine_lean": 18 * a + (12 if forward else 0), "neck_pitch": -12}
    takeoff = _limbs({"ankle": 25, "shoulder_flex": 60 * a, "elbow": 10}) | {"spine_lean": 4}
    air = _limbs({"hip_flex": 15, "knee": 25, "ankle": 15, "shoulder_flex": 95 * a})
    land = _limbs({"hip_flex": 10, "knee": 15, "ankle": 5, "shoulder_flex": 45 * a})
    if forward:  # legs swing forward to land, the body leans into the jump
        air |= _limbs({"hip_flex": 35, "knee": 35}) | {"spine_lean": 12}
        land |= _limbs({"hip_flex": 30, "knee": 25}) | {"spine_lean": 15}
    absorb = _limbs({"hip_flex": 40 * a, "knee": 65 * a, "shoulder_flex": -30 * a})
    absorb |= {"spine_lean": 16 * a}
    keys: Keys = [(0.0, {}), (0.45, crouch)]
    t = 0.45
    spans = []
    for i in range(seg.count):
        up, down = t + PUSH, t + PUSH + flight
        keys += [(up, takeoff), (up + flight / 2, air), (down, land)]
        spans.append((up * scale * FPS, down * scale * FPS))
        t = down + ABSORB
        last = i == seg.count - 1  # arms swing back for the next jump, down after the last
        keys.append((t, absorb | _limbs({"shoulder_flex": -5}) if last else absorb))
    keys.append((t + 0.45, {}))
    _animate(track, keys, scale)
    airborne = _flight_mask(seg.frames, spans)
    track.contact = np.repeat(1.0 - airborne[:, None], 2, axis=1)
    track.carry[:] = 0.0  # the flight's horizontal travel is the push alone
    height = 9.81 * (flight * scale) ** 2 / 8 * rng.uniform(0.85, 1.1)
    frames = np.arange(seg.frames, dtype=np.float64)
    for up, down in spans:
        u = np.clip((frames - up) / (down - up), 0.0, 1.0)
        track.lift += 4 * height * u * (1 - u)
        if forward:
            distance = rng.uniform(0.5, 0.9) * a
            track.push[:, 1] += np.where((u > 0) & (u < 1), distance / (down - up), 0.0)
    return track


def squat(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Bend hips and knees deeply with the heels down, arms forward, and stand up again."""
    track, scale = _start(seg, style)
    depth = style.amplitude * rng.uniform(0.85, 1.05)
    bottom = _limbs({"hip_flex": 95 * depth, "knee": 115 * depth, "shoulder_flex": 80})
    bottom |= {"spine_lean": 30 * depth, "neck_pitch": -22 * depth}
    keys: Keys = [(0.0, {})]
    for i in range(seg.count):
        t = 0.1 + 1.7 * i
        keys += [(t + 0.75, bottom), (t + 0.9, bottom), (t + 1.6, {})]
    keys.append((0.2 + 1.7 * seg.count, {}))
    _animate(track, keys, scale)
    return track


def sit(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Sit down (pelvis back to seat height, as if onto a chair) and optionally stand up."""
    track, scale = _start(seg, style)
    lean = _limbs({"hip_flex": 45, "knee": 35}) | {"spine_lean": 28, "neck_pitch": -15}
    seated = _limbs({"hip_flex": 90, "knee": 90, "shoulder_flex": 25, "elbow": 40})
    seated |= {"spine_lean": 6 * rng.uniform(0.5, 1.5), "neck_pitch": -4}
    keys: Keys = [(0.0, {}), (0.6, lean), (1.5, seated), (3.2, seated)]
    if seg.stand_up:
        rise = _limbs({"hip_flex": 80, "knee": 75}) | {"spine_lean": 35, "neck_pitch": -18}
        keys += [(3.8, rise), (4.8, {}), (5.0, {})]
    _animate(track, keys, scale)
    return track


def kick(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Chamber, snap the leg forward, retract and put the foot down; ``count`` times."""
    track, scale = _start(seg, style)
    leg = seg.side
    a = style.amplitude * rng.uniform(0.9, 1.05)
    brace = _limbs({"knee": 10, "hip_flex": 5}, _other(leg)) | _limbs({"shoulder_abd": 15})
    brace |= {"spine_lean": -8}  # lean back, arms out for balance
    chamber = brace | _limbs({"hip_flex": 60 * a, "knee": 95}, leg)
    extend = brace | _limbs({"hip_flex": 88 * a, "knee": 8, "ankle": 20}, leg)
    extend |= {"spine_lean": -14}
    keys: Keys = [(0.0, {})]
    contact_keys = [(0.0, 1.0)]
    for i in range(seg.count):
        t = 0.2 + 1.0 * i
        keys += [(t + 0.25, chamber), (t + 0.4, extend), (t + 0.6, chamber), (t + 0.85, brace)]
        contact_keys += [(t + 0.02, 1.0), (t + 0.12, 0.0), (t + 0.75, 0.0), (t + 0.85, 1.0)]
    keys += [(0.2 + 1.0 * seg.count, brace), (0.4 + 1.0 * seg.count, {})]
    contact_keys.append((0.4 + 1.0 * seg.count, 1.0))
    _animate(track, keys, scale)
    times = [t * scale * FPS for t, _ in contact_keys]
    column = 0 if leg == "left" else 1
    track.contact[:, column] = keyframes(seg.frames, times, [c for _, c in contact_keys])[:, 0]
    return track


def wave(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Raise the hand beside the head (forearm up) and sway the forearm ``count`` times."""
    track, scale = _start(seg, style)
    abduction = 115 * rng.uniform(0.93, 1.07)  # upper arm above the horizontal
    up = {"shoulder_abd": abduction - style.arm_abd, "shoulder_twist": 90, "collar": 8}
    up |= {"shoulder_flex": 15, "elbow": 188 - abduction - style.elbow}  # forearm upright
    raised = _limbs(up, seg.side)
    _animate(track, [(0.0, {}), (0.55, raised), (0.55 + 0.5 * seg.count, raised),
                     (1.1 + 0.5 * seg.count, {})], scale)  # fmt: skip
    start, stop = 0.55 * scale * FPS, (0.55 + 0.5 * seg.count) * scale * FPS
    u = np.clip((np.arange(seg.frames) - start) / (stop - start), 0.0, 1.0)
    # from upright the forearm tips outwards and back, once per wave
    sway = 40.0 * style.amplitude * np.sin(np.pi * seg.count * u) ** 2
    for name in _limbs({"elbow": 0}, seg.side):
        track.add(name, -sway)
    return track


def raise_arm(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Raise the arm(s) overhead (sideways or forwards, per style), hold, lower; ``count`` times."""
    track, scale = _start(seg, style)
    height = 165 * rng.uniform(0.95, 1.03)
    if style.raise_forward:
        up = {"shoulder_flex": height, "shoulder_abd": 5, "elbow": -style.elbow + 5}
    else:
        up = {"shoulder_abd": height - style.arm_abd, "shoulder_flex": 10}
        up["elbow"] = -style.elbow + 5
    up["collar"] = 12
    raised = _limbs(up, seg.side)
    keys: Keys = [(0.0, {})]
    for i in range(seg.count):
        t = 2.0 * i
        keys += [(t + 0.6, raised), (t + 1.1, raised), (t + 1.8, {})]
    _animate(track, keys, scale)
    return track


def punch(seg: Segment, style: Style, rng: np.random.Generator) -> Track:
    """Raise both fists to a guard, punch straight ahead with one arm ``count`` times."""
    track, scale = _start(seg, style)
    guard = _limbs({"shoulder_flex": 45, "shoulder_abd": 10, "elbow": 115 - style.elbow})
    guard |= _limbs({"knee": 12, "hip_flex": 6}) | {"spine_lean": 5}
    reach = rng.uniform(0.95, 1.05)
    hit = guard | _limbs(
        {"shoulder_flex": 88 * reach, "shoulder_abd": -5, "elbow": 5 - style.elbow, "collar": 6},
        seg.side,
    )
    # the punching shoulder comes forward: the chest turns away from the punching side
    hit["spine_twist"] = (18.0 if seg.side == "right" else -18.0) * style.amplitude
    keys: Keys = [(0.0, {}), (0.45, guard)]
    for i in range(seg.count):
        t = 0.45 + 0.5 * i
        keys += [(t + 0.15, hit), (t + 0.35, guard), (t + 0.5, guard)]
    keys.append((0.9 + 0.5 * seg.count, {}))
    _animate(track, keys, scale)
    return track


#: The primitive of each action of the vocabulary.
PRIMITIVES: dict[str, Callable[[Segment, Style, np.random.Generator], Track]] = {
    "walk": locomotion.walk,
    "jog": locomotion.jog,
    "run": locomotion.run,
    "sidestep": locomotion.sidestep,
    "turn": locomotion.turn,
    "circle": locomotion.circle,
    "jump": jump,
    "wave": wave,
    "raise": raise_arm,
    "punch": punch,
    "kick": kick,
    "squat": squat,
    "sit": sit,
}
