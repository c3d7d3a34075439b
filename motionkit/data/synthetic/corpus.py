"""Clips and corpora: the sequencer that strings segments together, and the corpus writer.

``generate_clip`` renders a ``ClipSpec`` (random unless
given): every segment's primitive produces a ``Track``,
consecutive tracks overlap by ``OVERLAP`` frames and crossfade there (smoothstep weights), short
clips are padded to ``MIN_FRAMES`` by holding the first and last pose, a little smooth noise
is added to the upper body, and the result is posed (``body.pose_joints``) and captioned.

``generate_corpus`` writes ``num`` clips in the HumanML3D layout (``motionkit.data.layout``):
features from ``motionkit.motion.features.extract_features``, joints recovered from the features
(as HumanML3D ships them), three captions per clip, a random train/val/test split, statistics of
the train split, and two extra files: ``synthetic.json`` (generator version, seed, counts per
action) and ``synthetic_clips.jsonl`` (each clip's segments, one JSON object per line). Clip
``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so a corpus is reproducible byte
for byte and any clip can be regenerated alone.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path

import numpy as np

from motionkit.data.synthetic.actions import PRIMITIVES
from motionkit.data.synthetic.body import COLUMN, Track, pose_joints
from motionkit.data.synthetic.captions import caption_clip
from motionkit.data.synthetic.curves import smooth_noise, smoothstep
from motionkit.data.synthetic.spec import (
    MIN_FRAMES,
    OVERLAP,
    ClipSpec,
    Segment,
    Style,
    resolve_frames,
    sample_clip,
)
from motionkit.io import atomic_write_text

#: Bump when the same (num, seed) would produce different clips.
GENERATOR_VERSION = 1
MANIFEST = "synthetic.json"
CLIP_LIST = "synthetic_clips.jsonl"

# Upper-body parameters that wander a little (degrees of peak deviation): posture noise.
_NOISE = {
    "spine_lean": 1.5,
    "spine_roll": 1.0,
    "spine_twist": 2.0,
    "neck_pitch": 3.0,
    "neck_yaw": 4.0,
    "shoulder_flex_l": 3.0,
    "shoulder_flex_r": 3.0,
    "shoulder_abd_l": 2.0,
    "shoulder_abd_r": 2.0,
    "elbow_l": 4.0,
    "elbow_r": 4.0,
}
_NOISE_COLUMNS = [COLUMN[name] for name in _NOISE]
_NOISE_SCALE = np.array(list(_NOISE.values()))


@dataclass(frozen=True)
class SyntheticClip:
    """A generated clip.

    Attributes:
        joints: ``(T, 22, 3)`` float32 positions in metres: y up, the floor at y = 0, the root
            at the XZ origin and the heading +Z (left side +X) at frame 0.
        captions: three different sentences describing the clip.
        spec: the segments (frames resolved) and the style it was rendered from.
        spans: ``(start, end)`` frames of each segment in ``joints`` (overlapping by
            ``OVERLAP`` frames where segments crossfade).
    """

    joints: np.ndarray
    captions: list[str]
    spec: ClipSpec
    spans: tuple[tuple[int, int], ...] = field(default=())

    @property
    def frames(self) -> int:
        return len(self.joints)


def _sequence(tracks: Sequence[Track]) -> tuple[Track, list[tuple[int, int]]]:
    """Concatenate tracks, overlapping consecutive ones by ``OVERLAP`` frames (crossfaded)."""
    out = Track.empty(sum(t.frames for t in tracks) - OVERLAP * (len(tracks) - 1))
    fade_in = smoothstep((np.arange(OVERLAP) + 0.5) / OVERLAP)
    spans = []
    start = 0
    for i, track in enumerate(tracks):
        weight = np.ones(track.frames)
        if i > 0:
            weight[:OVERLAP] = fade_in
        if i < len(tracks) - 1:
            weight[-OVERLAP:] = 1.0 - fade_in
        stop = start + track.frames
        for target, source in zip(out.states(), track.states(), strict=True):
            target[start:stop] += source * weight.reshape(-1, *([1] * (source.ndim - 1)))
        for target, source in zip(out.rates(), track.rates(), strict=True):
            target[start:stop] += source
        spans.append((start, stop))
        start = stop - OVERLAP
    return out, spans


def _hold(track: Track, before: int, after: int) -> Track:
    """Pad a track by holding its first pose ``before`` and its last pose ``after`` frames."""
    out = Track.empty(before + track.frames + after)
    for target, source in zip(out.states(), track.states(), strict=True):
        target[:] = np.pad(source, [(before, after)] + [(0, 0)] * (source.ndim - 1), mode="edge")
    for target, source in zip(out.rates(), track.rates(), strict=True):
        target[before : before + track.frames] = source  # no turning or flying while held
    return out


def _as_spec(
    rng: np.random.Generator, spec: ClipSpec | Segment | Sequence[Segment] | None
) -> ClipSpec:
    if spec is None:
        return sample_clip(rng)
    if isinstance(spec, Segment):
        spec = (spec,)
    if not isinstance(spec, ClipSpec):
        spec = ClipSpec(tuple(spec), Style.sample(rng))
    if not spec.segments:
        raise ValueError("a clip needs at least one segment")
    return replace(spec, segments=tuple(resolve_frames(s, rng) for s in spec.segments))


def generate_clip(
    rng: np.random.Generator,
    spec: ClipSpec | Segment | Sequence[Segment] | None = None,
) -> SyntheticClip:
    """Render one clip.

    Args:
        rng: the source of every random choice (the same generator state gives the same clip).
        spec: what to show: ``None`` samples a random clip of 40-196 frames; a segment or a list
            of segments is rendered with a random style (segments without ``frames`` get a
            typical duration); a ``ClipSpec`` fixes the style too.
    """
    spec = _as_spec(rng, spec)
    tracks = [PRIMITIVES[s.action](s, spec.style, rng) for s in spec.segments]
    track, spans = _sequence(tracks)
    missing = max(0, MIN_FRAMES - track.frames)
    before = int(rng.integers(missing + 1)) if missing else 0
    track = _hold(track, before, missing - before)
    spans = [(a + before, b + before) for a, b in spans]
    noise = smooth_noise(rng, track.frames, len(_NOISE_COLUMNS), period=30.0)
    track.values[:, _NOISE_COLUMNS] += noise * _NOISE_SCALE
    joints = pose_joints(track).astype(np.float32)
    captions = caption_clip(spec, rng)
    return SyntheticClip(joints, captions, spec, tuple(spans))


@dataclass
class SynthReport:
    """What ``generate_corpus`` wrote."""

    out: Path
    num: int
    seed: int
    frames: int
    actions: dict[str, int]
    splits: dict[str, int]

    def __str__(self) -> str:
        hours = self.frames / 20 / 3600
        actions = ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items()))
        splits = ", ".join(f"{k} {v}" for k, v in self.splits.items())
        return (
            f"synthetic corpus at {self.out}: {self.num} clips (seed {self.seed}), "
            f"{self.frames} frames ({hours:.2f} h)\n  splits: {splits}\n  actions: {actions}"
        )

    def __rich__(self) -> str:
        from rich.markup import escape

        return escape(str(self))


def _write_clips(out: Path, seed: int, indices: Sequence[int]) -> list[dict]:
    """Render, extract and write clips ``indices`` of a corpus; return their manifest rows."""
    from motionkit.data import layout
    from motionkit.motion.features import extract_features_many

    clips = [generate_clip(np.random.default_rng([seed, i])) for i in indices]
    # One batch per chunk (the chunks already run in parallel processes).
    features = extract_features_many([clip.joints for clip in clips], workers=1)
    rows = []
    for i, clip, feats in zip(indices, clips, features, strict=True):
        clip_id = f"{i:06d}"
        layout.write_clip(out, clip_id, feats, clip.captions)
        rows.append({"id": clip_id, "frames": clip.frames, **clip.spec.to_dict()})
    return rows


def _chunks(num: int, size: int) -> list[range]:
    return [range(start, min(start + size, num)) for start in range(0, num, size)]


def default_workers() -> int:
    """Worker processes for ``generate_corpus``: the CPUs this process may use, at most 8."""
    from motionkit.io import usable_cpus

    return usable_cpus(8)


def generate_corpus(
    out: str | Path,
    num: int,
    seed: int = 0,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    progress: Callable[[int], object] | None = None,
    workers: int | None = None,
) -> SynthReport:
    """Write ``num`` synthetic clips in the HumanML3D layout to ``out`` (see the module doc).

    Args:
        out: dataset folder (created if needed; existing clips of the same ids are replaced).
        num: number of clips; ids are ``000000``, ``000001``, ...
        seed: corpus seed; clip ``i`` is drawn from ``default_rng([seed, i])``.
        val_fraction: share of the val split (random, by seed).
        test_fraction: share of the test split (random, by seed).
        progress: called with the number of clips just written, as they are written.
        workers: processes rendering clips in parallel (default: the usable CPUs, at most 8;
            corpora under 64 clips use one). The files do not depend on it. Workers are
            forked where the platform allows (spawned elsewhere, where a calling script needs
            the usual ``if __name__ == "__main__":`` guard).
    """
    from motionkit.data import layout

    out = Path(out)
    if num < 1:
        raise ValueError(f"num must be at least 1, got {num}")
    workers = default_workers() if workers is None else max(1, workers)
    chunks = _chunks(num, 16)
    rows: list[dict] = []
    if workers == 1 or num < 64:
        for chunk in chunks:
            rows += _write_clips(out, seed, chunk)
            if progress is not None:
                progress(len(chunk))
    else:
        # fork where the platform has it: workers need only numpy, and scripts calling this
        # then need no ``if __name__ == "__main__"`` guard
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=context) as pool:
            for chunk, done in zip(
                chunks, pool.map(_write_clips, repeat(out), repeat(seed), chunks), strict=True
            ):
                rows += done
                if progress is not None:
                    progress(len(chunk))
    ids = [row["id"] for row in rows]
    splits = layout.split_ids(
        ids, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
    )
    layout.write_splits(out, splits)
    layout.write_stats(out)
    actions = Counter(s["action"] for row in rows for s in row["segments"])
    variants = Counter(Segment(**s).label for row in rows for s in row["segments"])
    frames = sum(row["frames"] for row in rows)
    manifest = {
        "generator": "motionkit.data.synthetic",
        "version": GENERATOR_VERSION,
        "num": num,
        "seed": seed,
        "fps": 20,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "frames": frames,
        "splits": {name: len(v) for name, v in splits.items()},
        "actions": dict(sorted(actions.items())),
        "variants": dict(sorted(variants.items())),
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    atomic_write_text(out / CLIP_LIST, "".join(json.dumps(row) + "\n" for row in rows))
    return SynthReport(
        out, num, seed, frames, dict(actions), {name: len(v) for name, v in splits.items()}
    )
