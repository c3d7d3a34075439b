"""The synthetic corpus: determinism, skeleton and floor, what each caption parameter does to
the motion, captions, and the HumanML3D folder it writes.

Conventions checked here are HumanML3D's: y up, metres, 20 fps, the character faces +Z at frame
0 with its left side towards +X; turning left is a counter-clockwise turn seen from above (the
heading angle ``atan2(forward_x, forward_z)`` increases).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionkit.data.synthetic import (
    VOCABULARY,
    Segment,
    SpecError,
    generate_clip,
    generate_corpus,
)
from motionkit.data.synthetic.spec import MAX_FRAMES, MIN_FRAMES
from motionkit.motion.features import extract_features
from motionkit.motion.skeleton import SMPL22

FEET = [7, 8, 10, 11]
L_HIP, R_HIP, L_SHOULDER, R_SHOULDER = 1, 2, 16, 17
L_WRIST, R_WRIST = 20, 21


def clip_of(*segments: Segment, seed: int = 0):
    return generate_clip(np.random.default_rng(seed), list(segments))


def left_vector(joints: np.ndarray) -> np.ndarray:
    """Unit horizontal vectors ``(T, 3)`` from the right to the left side of the body."""
    across = (joints[:, L_HIP] - joints[:, R_HIP]) + (joints[:, L_SHOULDER] - joints[:, R_SHOULDER])
    across[:, 1] = 0.0
    return across / np.linalg.norm(across, axis=-1, keepdims=True)


def forward_vector(joints: np.ndarray) -> np.ndarray:
    """Unit horizontal facing directions ``(T, 3)``: ``left x up``."""
    return np.cross(left_vector(joints), [0.0, 1.0, 0.0])


def heading_degrees(joints: np.ndarray) -> np.ndarray:
    """Unwrapped facing angle per frame, degrees; increases when turning left (CCW from above)."""
    f = forward_vector(joints)
    return np.rad2deg(np.unwrap(np.arctan2(f[:, 0], f[:, 2])))


def count_maxima(signal: np.ndarray, floor: float) -> int:
    """Number of interior local maxima of ``signal`` above ``floor`` (a plateau counts once)."""
    s = np.asarray(signal)
    peaks = (s[1:-1] >= s[:-2]) & (s[1:-1] > s[2:]) & (s[1:-1] > floor)
    return int(peaks.sum())


def count_peaks(signal: np.ndarray, low: float, high: float) -> int:
    """Number of times ``signal`` rises from below ``low`` to above ``high`` (hysteresis)."""
    peaks, armed = 0, signal[0] < low
    for value in signal:
        if armed and value > high:
            peaks, armed = peaks + 1, False
        elif value < low:
            armed = True
    return peaks


@pytest.fixture(scope="module")
def random_clips():
    return [generate_clip(np.random.default_rng([7, i])) for i in range(150)]


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_same_clip_and_different_seed_differs():
    a = generate_clip(np.random.default_rng(123))
    b = generate_clip(np.random.default_rng(123))
    c = generate_clip(np.random.default_rng(124))
    assert a.joints.dtype == np.float32
    assert np.array_equal(a.joints, b.joints)
    assert a.captions == b.captions
    assert a.spec == b.spec
    assert a.joints.shape != c.joints.shape or not np.array_equal(a.joints, c.joints)
    assert a.captions != c.captions


def test_same_spec_varies_slightly_between_seeds():
    spec = Segment("wave", "right", 2)
    a, b = clip_of(spec, seed=1), clip_of(spec, seed=2)
    assert a.spec.segments[0].label == b.spec.segments[0].label == "wave_right"
    n = min(a.frames, b.frames)
    assert not np.allclose(a.joints[:n], b.joints[:n], atol=1e-3)


# --- skeleton, length, floor ------------------------------------------------------------------


def test_random_clips_have_standard_lengths_and_three_captions(random_clips):
    for clip in random_clips:
        assert MIN_FRAMES <= clip.frames <= MAX_FRAMES
        assert clip.joints.shape == (clip.frames, 22, 3)
        assert len(clip.captions) == 3 and len(set(clip.captions)) == 3
        assert all(c.endswith(".") for c in clip.captions)
        assert 1 <= len(clip.spec.segments) <= 3
    actions = {s.action for clip in random_clips for s in clip.spec.segments}
    assert actions == set(VOCABULARY)  # 150 random clips cover the whole vocabulary


def test_bone_lengths_are_the_reference_skeleton(random_clips):
    reference = SMPL22.bone_lengths()
    for clip in random_clips:
        lengths = SMPL22.bone_lengths(clip.joints.astype(np.float64))
        np.testing.assert_allclose(lengths, np.broadcast_to(reference, lengths.shape), atol=1e-5)


def test_feet_rest_on_the_floor(random_clips):
    for clip in random_clips:
        feet_y = clip.joints[:, FEET, 1]
        assert 0.0 <= feet_y.min() < 0.02, clip.spec
        assert clip.joints[..., 1].min() > -1e-4  # nothing ever goes below the floor
        # frame 0 starts at the origin, heading +Z (left side towards +X)
        assert np.allclose(clip.joints[0, 0, [0, 2]], 0.0, atol=1e-6)
        assert left_vector(clip.joints[:1])[0, 0] > 0.95


# --- locomotion -------------------------------------------------------------------------------


@pytest.mark.parametrize("speed", ["slow", "normal", "fast"])
def test_walking_moves_forward_at_its_speed(speed):
    clip = clip_of(Segment("walk", speed=speed, frames=100))
    j = clip.joints.astype(np.float64)
    move = j[-1, 0] - j[0, 0]
    forward, left = forward_vector(j[:1])[0], left_vector(j[:1])[0]
    metres_per_second = move @ forward / 5.0
    low, high = {"slow": (0.4, 0.9), "normal": (0.7, 1.3), "fast": (1.0, 1.8)}[speed]
    assert low < metres_per_second < high
    assert abs(move @ left) < 0.3


def test_faster_walks_cover_more_ground_and_step_more_often():
    distance = {}
    for speed in ("slow", "normal", "fast"):
        j = clip_of(Segment("walk", speed=speed, frames=120), seed=3).joints
        distance[speed] = np.linalg.norm(j[-1, 0, [0, 2]] - j[0, 0, [0, 2]])
    assert distance["slow"] < distance["normal"] < distance["fast"]


def test_walking_backwards_moves_backwards():
    j = clip_of(Segment("walk", direction="backward", frames=100)).joints.astype(np.float64)
    move = j[-1, 0] - j[0, 0]
    assert move @ forward_vector(j[:1])[0] < -1.0


@pytest.mark.parametrize("action", ["jog", "run"])
def test_jogging_and_running_are_faster_than_walking(action):
    j = clip_of(Segment(action, frames=80)).joints
    walk = clip_of(Segment("walk", speed="fast", frames=80)).joints
    assert j[-1, 0, 2] > walk[-1, 0, 2] > 0
    assert (j[:, FEET, 1].min(axis=1) > 0.01).any()  # flight phases: both feet off the floor


@pytest.mark.parametrize("side, sign", [("left", 1.0), ("right", -1.0)])
def test_sidestep_goes_to_the_named_side(side, sign):
    j = clip_of(Segment("sidestep", side, frames=70)).joints.astype(np.float64)
    move = j[-1, 0] - j[0, 0]
    assert sign * (move @ left_vector(j[:1])[0]) > 0.5
    assert abs(move @ forward_vector(j[:1])[0]) < 0.25
    assert abs(heading_degrees(j)[-1]) < 10


@pytest.mark.parametrize(
    "side, angle, expected", [("left", 90, 90), ("right", 90, -90), ("left", 180, 180)]
)
def test_turns_rotate_the_heading_counter_clockwise_for_left(side, angle, expected):
    j = clip_of(Segment("turn", side, angle=angle)).joints
    turned = heading_degrees(j)[-1] - heading_degrees(j)[0]
    assert abs(turned - expected) < 12
    assert np.linalg.norm(j[-1, 0, [0, 2]] - j[0, 0, [0, 2]]) < 0.4  # on the spot
    # HumanML3D's root_rot_vel is half the per-frame yaw step of the map from the world to the
    # facing frame: it sums to about -turn/2, negative for a left turn (less at the clip's ends,
    # where the extraction's smoothing of the facing over 20 frames lags)
    half_turn = extract_features(j)[:, 0].sum() / -np.deg2rad(turned / 2)
    assert 0.7 < half_turn < 1.05


@pytest.mark.parametrize("direction, sign", [("counterclockwise", 1), ("clockwise", -1)])
def test_circles_turn_a_full_turn_in_their_direction(direction, sign):
    j = clip_of(Segment("circle", direction=direction)).joints.astype(np.float64)
    turned = heading_degrees(j)[-1] - heading_degrees(j)[0]
    assert abs(turned - sign * 360) < 25
    path = j[:, 0, [0, 2]]
    assert np.linalg.norm(path[-1] - path[0]) < 1.0  # back near the start
    assert np.ptp(path[:, 0]) > 1.0 and np.ptp(path[:, 1]) > 1.0
    # counter-clockwise from above goes towards +X (the left) first
    quarter = path[len(path) // 3]
    assert sign * quarter[0] > 0.3


def test_foot_contacts_alternate_while_walking():
    j = clip_of(Segment("walk", frames=120)).joints
    contact = extract_features(j)[:, -4:] > 0.5
    left, right = contact[:, :2].any(axis=1), contact[:, 2:].any(axis=1)
    single = np.where(left & ~right, 1, np.where(right & ~left, 2, 0))
    single = single[single > 0]  # the sequence of single-support phases
    steps = 1 + np.count_nonzero(np.diff(single))
    assert steps >= 8  # 6 s at about two steps per second, minus starting and stopping
    lengths = np.diff(np.flatnonzero(np.diff(np.r_[-1, single, -1])))
    assert lengths.max() < 20  # each foot swings within a second
    assert (left & right).mean() < 0.6  # not both planted all the time
    assert (~left & ~right).mean() < 0.1  # walking has no flight phase


def test_planted_feet_do_not_slide():
    j = clip_of(Segment("walk", frames=120), seed=5).joints.astype(np.float64)
    for ball in (10, 11):
        low = j[:, ball, 1] < 0.003
        steady = low[1:] & low[:-1]
        slide = np.linalg.norm(np.diff(j[:, ball, [0, 2]], axis=0), axis=-1)[steady]
        assert steady.sum() > 20
        assert np.median(slide) < 0.005  # metres per frame


# --- gestures and counted actions --------------------------------------------------------------


def test_waving_right_hand_raises_only_the_right_wrist():
    j = clip_of(Segment("wave", "right", 2)).joints
    assert (j[:, R_WRIST, 1] > j[:, R_SHOULDER, 1] + 0.1).any()
    assert (j[:, L_WRIST, 1] < j[:, L_SHOULDER, 1] - 0.25).all()
    mirrored = clip_of(Segment("wave", "left", 2)).joints
    assert (mirrored[:, L_WRIST, 1] > mirrored[:, L_SHOULDER, 1] + 0.1).any()
    assert (mirrored[:, R_WRIST, 1] < mirrored[:, R_SHOULDER, 1] - 0.25).all()
    both = clip_of(Segment("wave", "both", 2)).joints
    assert (
        (both[:, [L_WRIST, R_WRIST], 1] > both[:, [L_SHOULDER, R_SHOULDER], 1] + 0.1).any(0).all()
    )


def wave_count(joints: np.ndarray, side: str) -> int:
    wrist, elbow, shoulder = (20, 18, 16) if side == "left" else (21, 19, 17)
    outward = (joints[:, wrist] - joints[:, elbow]) @ left_vector(joints[:1])[0]
    outward = outward if side == "left" else -outward
    raised = joints[:, elbow, 1] > joints[:, shoulder, 1] + 0.05  # upper arm held up
    return count_maxima(outward[raised], floor=0.03)  # the hand tips outwards once per wave


@pytest.mark.parametrize("count", [1, 2, 3, 4])
@pytest.mark.parametrize("side", ["left", "right"])
def test_wave_count_matches_the_oscillations(count, side):
    j = clip_of(Segment("wave", side, count), seed=count).joints
    assert wave_count(j, side) == count


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("direction", ["in_place", "forward"])
def test_jump_count_matches_the_flights(count, direction):
    j = clip_of(Segment("jump", direction=direction, count=count), seed=count).joints
    pelvis = j[:, 0, 1]
    assert count_peaks(pelvis, pelvis[0] + 0.02, pelvis[0] + 0.08) == count
    airborne = j[:, FEET, 1].min(axis=1) > 0.03
    assert count_peaks(airborne.astype(float), 0.5, 0.5) == count
    travelled = j[-1, 0, 2] - j[0, 0, 2]
    assert (travelled > 0.4 * count) if direction == "forward" else (abs(travelled) < 0.3)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_punch_count_matches_the_extensions(count):
    j = clip_of(Segment("punch", "left", count), seed=count).joints.astype(np.float64)
    forward = forward_vector(j[:1])[0]
    reach = (j[:, L_WRIST] - j[:, 0]) @ forward
    assert count_peaks(reach, 0.3, 0.45) == count
    other = (j[:, R_WRIST] - j[:, 0]) @ forward
    assert other.max() < 0.4  # the right fist stays in guard


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("side", ["left", "right"])
def test_kick_count_and_side(count, side):
    j = clip_of(Segment("kick", side, count), seed=count).joints.astype(np.float64)
    kicking, standing = (10, 11) if side == "left" else (11, 10)
    reach = (j[:, kicking] - j[:, 0]) @ forward_vector(j[:1])[0]
    assert count_peaks(reach, 0.3, 0.55) == count
    assert j[:, kicking, 1].max() > 0.3
    assert j[:, standing, 1].max() < 0.05


@pytest.mark.parametrize("count", [1, 2, 3])
def test_squat_count_matches_the_dips(count):
    j = clip_of(Segment("squat", count=count), seed=count).joints
    depth = j[0, 0, 1] - j[:, 0, 1]
    assert count_peaks(depth, 0.1, 0.25) == count
    assert np.linalg.norm(j[:, FEET][-1] - j[:, FEET][0], axis=-1).max() < 0.02  # feet stay


@pytest.mark.parametrize("count", [1, 2])
def test_raise_count_matches_the_lifts(count):
    j = clip_of(Segment("raise", "right", count), seed=count).joints
    above_head = j[:, R_WRIST, 1] - j[:, 15, 1]
    assert count_peaks(above_head, -0.2, 0.1) == count
    assert (j[:, L_WRIST, 1] < j[:, L_SHOULDER, 1]).all()


@pytest.mark.parametrize("stand_up", [False, True])
def test_sitting_down_and_standing_up(stand_up):
    j = clip_of(Segment("sit", stand_up=stand_up)).joints
    standing = j[0, 0, 1]
    assert j[:, 0, 1].min() < standing - 0.3  # pelvis down to seat height
    assert (j[-1, 0, 1] > standing - 0.05) == stand_up


def test_sequences_play_in_order():
    clip = clip_of(Segment("walk", frames=60), Segment("wave", "right", 2))
    j = clip.joints
    (walk_start, walk_end), (wave_start, _) = clip.spans
    assert walk_end > wave_start  # consecutive segments overlap (crossfade)
    assert j[walk_end - 1, 0, 2] - j[walk_start, 0, 2] > 1.0
    raised = np.flatnonzero(j[:, R_WRIST, 1] > j[:, R_SHOULDER, 1])
    assert raised.min() > walk_end - 10
    # no pops: the pelvis moves smoothly across the boundary
    step = np.linalg.norm(np.diff(j[:, 0], axis=0), axis=-1)
    assert step.max() < 0.15


# --- captions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "segment, must, must_not",
    [
        (Segment("wave", "right", 2), [("right",), ("twice", "two")], ["left"]),
        (Segment("wave", "both", 3), [("both",), ("three",)], ["left", "right"]),
        (Segment("kick", "left", 3), [("left",), ("three",)], ["right"]),
        (Segment("punch", "right", 1), [("right",)], ["two", "twice", "three"]),
        (
            Segment("jump", direction="forward", count=2),
            [("forward", "ahead"), ("two", "twice")],
            [],
        ),
        (Segment("squat", count=3), [("squat",), ("three",)], []),
        (Segment("turn", "left"), [("left",)], ["right", "around", "180", "half"]),
        (Segment("turn", "right", angle=180), [("right",), ("around", "180", "half")], ["left"]),
        (Segment("circle", direction="clockwise"), [("clockwise",)], ["counter", "anti"]),
        (Segment("circle"), [("counter", "anti")], []),
        (Segment("walk", speed="slow"), [("slow",)], ["quick", "fast"]),
        (Segment("walk", speed="fast"), [("quick", "fast", "brisk")], ["slow"]),
        (Segment("walk", direction="backward"), [("backward",)], []),
        (Segment("sidestep", "left"), [("left",), ("side",)], ["right"]),
        (Segment("sit", stand_up=True), [("sit", "seat"), ("up",)], []),
    ],
)
def test_captions_state_the_parameters(segment, must, must_not):
    for seed in range(4):
        for caption in clip_of(segment, seed=seed).captions:
            for alternatives in must:
                assert any(word in caption for word in alternatives), caption
            for word in must_not:
                assert word not in caption, caption


def test_sequence_captions_keep_the_order():
    clip = clip_of(Segment("walk"), Segment("turn", "left"), seed=4)
    for caption in clip.captions:
        joiner = caption.find("then") if "then" in caption else caption.find("after that")
        assert 0 < joiner < caption.index("left")


def test_invalid_segments_are_rejected():
    with pytest.raises(SpecError, match="unknown synthetic action"):
        Segment("fly")
    with pytest.raises(SpecError, match="side"):
        Segment("wave", side="up")
    with pytest.raises(SpecError, match="count"):
        Segment("walk", count=2)
    with pytest.raises(SpecError, match="angle"):
        Segment("turn", angle=45)


# --- the corpus folder ------------------------------------------------------------------------


def test_generate_corpus_writes_the_humanml3d_layout(tmp_path):
    calls = []
    report = generate_corpus(tmp_path / "a", 30, seed=3, progress=calls.append)
    root = tmp_path / "a"
    assert sum(calls) == 30 and report.num == 30
    ids = [f"{i:06d}" for i in range(30)]
    for name in ("train", "val", "test", "all"):
        assert (root / f"{name}.txt").is_file()
    assert sorted((root / "all.txt").read_text().split()) == ids
    split_ids = [
        i for name in ("train", "val", "test") for i in (root / f"{name}.txt").read_text().split()
    ]
    assert sorted(split_ids) == ids
    for clip_id in ids:
        features = np.load(root / "new_joint_vecs" / f"{clip_id}.npy")
        joints = np.load(root / "new_joints" / f"{clip_id}.npy")
        assert features.shape[1] == 263 and MIN_FRAMES - 1 <= features.shape[0] <= MAX_FRAMES - 1
        assert joints.shape == (features.shape[0], 22, 3)
        lines = (root / "texts" / f"{clip_id}.txt").read_text().splitlines()
        assert len(lines) == 3 and all(line.count("#") == 3 for line in lines)
    assert np.load(root / "Mean.npy").shape == (263,) and np.load(root / "Std.npy").shape == (263,)
    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest["num"] == 30 and manifest["seed"] == 3 and manifest["version"] >= 1
    clips = [json.loads(line) for line in (root / "synthetic_clips.jsonl").read_text().splitlines()]
    assert [c["id"] for c in clips] == ids
    assert sum(manifest["actions"].values()) == sum(len(c["segments"]) for c in clips)
    assert set(manifest["actions"]) <= set(VOCABULARY)
    assert "30 clips" in str(report)

    # the same (num, seed) gives byte-identical files
    generate_corpus(tmp_path / "b", 30, seed=3)
    files_a = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b
    for rel in files_a:
        assert (root / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


@pytest.mark.slow
def test_parallel_corpus_equals_serial_corpus(tmp_path):
    generate_corpus(tmp_path / "serial", 70, seed=1, workers=1)
    generate_corpus(tmp_path / "parallel", 70, seed=1, workers=2)
    serial = sorted(p.relative_to(tmp_path / "serial") for p in (tmp_path / "serial").rglob("*"))
    for rel in serial:
        a, b = tmp_path / "serial" / rel, tmp_path / "parallel" / rel
        assert a.is_dir() or a.read_bytes() == b.read_bytes(), rel
