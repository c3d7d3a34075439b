"""A procedurally generated, captioned motion corpus: motionkit's embedded default dataset.

Plausible human motions on the SMPL 22-joint skeleton of HumanML3D (reference bone lengths,
20 fps, y up, metres), built from joint rotations and a root trajectory and posed by forward
kinematics, with three captions each. The vocabulary (``VOCABULARY``): walking forwards or
backwards (slowly, normally, quickly), jogging, running, sidestepping left or right, turning
on the spot (90 or 180 degrees, left or right), walking a circle (clockwise or
counter-clockwise), jumping in place or forwards, waving (left, right or both hands), raising
one or both arms, punching, kicking, squatting (with counts), sitting down (and standing up
again), and sequences of up to three of these.

Modules: ``spec`` (segments, vocabulary, sampling), ``body`` (pose parameters, FK, feet on the
floor), ``curves`` (smooth curves), ``locomotion`` and ``actions`` (the primitives),
``captions`` (sentences), ``corpus`` (sequencing and writing a HumanML3D-layout folder).

Example::

    import numpy as np
    from motionkit.data.synthetic import Segment, generate_clip, generate_corpus

    clip = generate_clip(np.random.default_rng(0), [Segment("walk"), Segment("wave", "right", 2)])
    clip.joints.shape, clip.captions  # (T, 22, 3), ['a person walks forward, then waves ...']
    generate_corpus("data/synthetic", num=2000, seed=0)
"""

from motionkit.data.synthetic.corpus import (
    GENERATOR_VERSION,
    SyntheticClip,
    SynthReport,
    generate_clip,
    generate_corpus,
)
from motionkit.data.synthetic.spec import VOCABULARY, ClipSpec, Segment, SpecError, Style

__all__ = [
    "GENERATOR_VERSION",
    "VOCABULARY",
    "ClipSpec",
    "Segment",
    "SpecError",
    "Style",
    "SynthReport",
    "SyntheticClip",
    "generate_clip",
    "generate_corpus",
]
