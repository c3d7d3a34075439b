"""Throughput of HumanML3D feature extraction (joints -> 263-d features) and recovery, in frames/s.

Usage: python benchmarks/features_throughput.py [--repeats N]
       [--out benchmarks/results/features_throughput.json]

Cases: one long clip (2,000 poses) and a batch of 64 clips of 196 poses (the HumanML3D maximum
length), each in float32 and float64, with ``extract_features`` (published float32 arithmetic,
the default) and ``recover_from_ric``. The motion is synthetic (smooth random joint rotations of
the SMPL22 reference skeleton walking and turning), so no dataset is needed. Best and median of N
runs are recorded with the command line, library versions and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
from machine import cpu_name, time_call

from motionkit.motion import SMPL22, extract_features, forward_kinematics_chains, recover_from_ric
from motionkit.motion import quaternion as quat


def synthetic_motion(batch: tuple[int, ...], frames: int, seed: int = 0) -> np.ndarray:
    """Positions ``(*batch, frames, 22, 3)`` in metres: a turning walk with swinging joints."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / SMPL22.fps
    axes = quat.normalize(rng.normal(size=(*batch, 1, 22, 3)))
    angle = 0.3 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, size=(*batch, 1, 22, 1)) * t)
    q = np.concatenate([np.cos(angle / 2), np.sin(angle / 2) * axes], -1)
    yaw = 0.2 * t[..., 0]
    q[..., 0, :] = np.concatenate([np.cos(yaw), 0 * yaw, np.sin(yaw), 0 * yaw], -1)
    root = np.concatenate([np.sin(yaw), 0.9 + 0 * yaw, 1.2 * t[..., 0]], -1)
    return forward_kinematics_chains(q, np.broadcast_to(root, (*batch, frames, 3)), SMPL22)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/features_throughput.json")
    )
    args = parser.parse_args()
    cases = {"single_clip_2000": ((), 2000), "batch_64x196": ((64,), 196)}
    rows = []
    for case, (batch, frames) in cases.items():
        for dtype in (np.float32, np.float64):
            joints = synthetic_motion(batch, frames).astype(dtype)
            features = extract_features(joints)
            poses = joints[..., 0, 0].size
            for op, fn, count in (
                ("extract_features", lambda j=joints: extract_features(j), poses),
                ("recover_from_ric", lambda f=features: recover_from_ric(f), features[..., 0].size),
            ):
                best, median = time_call(fn, args.repeats)
                row = {
                    "case": case,
                    "op": op,
                    "dtype": np.dtype(dtype).name,
                    "frames": int(count),
                    "best_s": round(best, 5),
                    "median_s": round(median, 5),
                    "frames_per_s_best": round(count / best),
                    "frames_per_s_median": round(count / median),
                }
                rows.append(row)
                print(
                    f"{case:17s} {op:17s} {row['dtype']:8s} {row['frames_per_s_median']:>10,} "
                    f"frames/s (median of {args.repeats})"
                )
    result = {
        "benchmark": "features_throughput",
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "cpu": cpu_name(),
        "threads": "numpy default (no thread limits set)",
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
