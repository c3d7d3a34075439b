"""Visualisation: 3-D stick-figure animations (GIF/MP4) and single-pose pictures (PNG).

``from motionkit.viz.motion import load_motion`` reads a motion file;
``from motionkit.viz.render import render, plot_pose`` draws it. The package does not re-export
``render`` itself, which would hide the ``motionkit.viz.render`` module behind the function.
Importing this package is cheap; matplotlib is imported only when something is drawn.
"""

from __future__ import annotations

from motionkit.viz.motion import Motion, RenderError, load_motion
from motionkit.viz.render import plot_pose, render_frames

__all__ = ["Motion", "RenderError", "load_motion", "plot_pose", "render_frames"]
