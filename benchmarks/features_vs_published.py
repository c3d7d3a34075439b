"""Joints -> HumanML3D features: the published per-clip extraction vs motionkit, in one run.

    python benchmarks/features_vs_published.py --published PATH/TO/HumanML3D [--repeats 3]

``--published`` is a local checkout of the HumanML3D repository (Guo et al., CVPR 2022) holding
``motion_representation.py``, ``common/quaternion.py``, ``common/skeleton.py`` and
``paramUtil.py``; nothing of it ships with motionkit. The published ``process_file`` (its
uniform skeleton, floor, facing, foot contacts, IK and feature assembly, torch on the CPU for the
quaternion helpers, as its notebook runs it) is timed one clip at a time, the strategy of its
dataset script, against ``motionkit.motion.extract_features`` one clip at a time and
``extract_features_many`` (clips grouped by length and batched), alternating, medians of
``--repeats`` runs. The clips are real motion: the Bandai sample's BVH files retargeted to the
22-joint skeleton at 20 fps, plus the HumanML3D sample's joints (``../shared/data``).

Every clip's features are compared with the published ones, group by group; the maximum absolute
difference is recorded (the aim is <= 1e-5). Writes
``benchmarks/results/features_vs_published.{json,md}``.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np
from machine import cpu_name, usable_cpus

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
PUBLISHED_FILES = (
    "motion_representation.py",
    "common/quaternion.py",
    "common/skeleton.py",
    "paramUtil.py",
)
PUBLISHED = "published process_file, one clip at a time"
BATCHED = "motionkit extract_features_many, default threads"
#: The constants its script sets before calling ``process_file`` (SMPL 22-joint skeleton).
PUBLISHED_CONSTANTS = {
    "l_idx1": 5,
    "l_idx2": 8,
    "fid_r": [8, 11],
    "fid_l": [7, 10],
    "face_joint_indx": [2, 1, 17, 16],
}


def fail(message: str) -> None:
    print(f"Error: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_published(folder: Path) -> types.SimpleNamespace:
    """``process_file`` of the published script, with the globals its ``__main__`` block sets."""
    missing = [f for f in PUBLISHED_FILES if not (folder / f).is_file()]
    if missing:
        fail(
            f"{folder} lacks {', '.join(missing)}: pass a checkout of the HumanML3D repository "
            "(github.com/EricGuo5513/HumanML3D, with its paramUtil.py)"
        )
    import torch

    from motionkit.motion import SMPL22

    if not hasattr(np, "float"):  # the published helpers call np.finfo(np.float) on import
        np.float = float  # type: ignore[attr-defined]
    sys.path.insert(0, str(folder))
    quaternion = __import__("common.quaternion", fromlist=["*"])
    skeleton = __import__("common.skeleton", fromlist=["Skeleton"])
    params = __import__("paramUtil")
    namespace: dict[str, object] = {"np": np, "torch": torch, "Skeleton": skeleton.Skeleton}
    namespace.update({k: v for k, v in vars(quaternion).items() if not k.startswith("__")})
    namespace.update(PUBLISHED_CONSTANTS)
    namespace["n_raw_offsets"] = torch.from_numpy(np.asarray(params.t2m_raw_offsets))
    namespace["kinematic_chain"] = params.t2m_kinematic_chain
    # The published target offsets are clip 000021's first-frame bones (SMPL22.offsets).
    namespace["tgt_offsets"] = torch.from_numpy(np.asarray(SMPL22.offsets)).float()
    tree = ast.parse((folder / "motion_representation.py").read_text())
    wanted = {"uniform_skeleton", "process_file"}
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    if {f.name for f in functions} != wanted:
        fail(f"{folder / 'motion_representation.py'} does not define {sorted(wanted)}")
    code = compile(ast.Module(body=functions, type_ignores=[]), "motion_representation", "exec")
    exec(code, namespace)  # the user's local checkout, run to be measured
    digests = {
        f: hashlib.sha256((folder / f).read_bytes()).hexdigest()[:12] for f in PUBLISHED_FILES
    }
    return types.SimpleNamespace(process_file=namespace["process_file"], sha256=digests)


def load_clips() -> tuple[list[np.ndarray], str]:
    """Real clips as float32 joints ``(T, 22, 3)``: the Bandai BVH files and HumanML3D joints."""
    from motionkit.motion.bvh import read_bvh
    from motionkit.motion.retarget import detect_skeleton, get_joint_map, retarget

    bandai, sample = SHARED / "bandai_dataset1", SHARED / "humanml3d_sample" / "new_joints"
    if not bandai.is_dir() or not sample.is_dir():
        fail(f"the real clips are read from {SHARED} (bandai_dataset1, humanml3d_sample)")
    clips = []
    for path in sorted(bandai.rglob("*.bvh")):
        motion = read_bvh(path)
        joints = retarget(motion, get_joint_map(detect_skeleton(motion) or "bandai"), fps=20.0)
        clips.append(joints.astype(np.float32))
    bandai_count = len(clips)
    clips += [np.load(p).astype(np.float32) for p in sorted(sample.glob("*.npy"))]
    what = (
        f"{bandai_count} Bandai BVH clips retargeted to 22 joints at 20 fps and "
        f"{len(clips) - bandai_count} HumanML3D sample clips"
    )
    return clips, what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--published", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    from motionkit.motion import extract_features, extract_features_many, feature_slices

    published = load_published(args.published.expanduser().resolve())
    clips, what = load_clips()
    frames = sum(len(c) - 1 for c in clips)

    def run_published() -> list[np.ndarray]:
        return [published.process_file(c.copy(), 0.002)[0] for c in clips]

    def run_one_at_a_time() -> list[np.ndarray]:
        return [extract_features(c) for c in clips]

    strategies = {
        PUBLISHED: run_published,
        "motionkit extract_features, one clip at a time": run_one_at_a_time,
        "motionkit extract_features_many, 1 thread": lambda: extract_features_many(
            clips, workers=1
        ),
        BATCHED: lambda: extract_features_many(clips),
    }
    outputs = {name: run() for name, run in strategies.items()}  # warm-up and the numbers
    times: dict[str, list[float]] = {name: [] for name in strategies}
    for _ in range(args.repeats):
        for name, run in strategies.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)

    # Frame 0 is compared apart: the repository's skeleton.py leaves frame 0's root rotation at
    # the facing (its identity line is commented out), while the released new_joint_vecs were
    # made with the identity there, which motionkit follows (checked below on the sample clips).
    reference = outputs[PUBLISHED]
    exact = [extract_features(c.astype(np.float64), published_float32=False) for c in clips]
    slices = feature_slices()

    def largest(results: list[np.ndarray], against: list[np.ndarray]) -> dict[str, float]:
        return {
            group: max(
                float(np.abs(np.float64(a[1:, s]) - np.float64(b[1:, s])).max())
                for a, b in zip(results, against, strict=True)
            )
            for group, s in slices.items()
        }  # fmt: skip

    differences = {
        name: largest(out, reference) for name, out in outputs.items() if name != PUBLISHED
    }
    to_float64 = {name: largest(out, exact) for name, out in outputs.items()}
    shipped_dir = SHARED / "humanml3d_sample" / "new_joint_vecs"
    sample = clips[-len(list(shipped_dir.parent.joinpath("new_joints").glob("*.npy"))) :]
    names = sorted(p.stem for p in (shipped_dir.parent / "new_joints").glob("*.npy"))
    frame0 = {"motionkit": 0.0, "published repository code": 0.0}
    for name, clip in zip(names, sample, strict=True):
        shipped = np.load(shipped_dir / f"{name}.npy")[0]
        frame0["motionkit"] = max(
            frame0["motionkit"], float(np.abs(extract_features(clip)[0] - shipped).max())
        )
        ours = published.process_file(clip.copy(), 0.002)[0][0]
        frame0["published repository code"] = max(
            frame0["published repository code"], float(np.abs(ours - shipped).max())
        )
    base = statistics.median(times[PUBLISHED])
    rows = []
    for name, samples in times.items():
        median = statistics.median(samples)
        diff = differences.get(name)
        rows.append({
            "strategy": name, "median_s": median, "frames_per_s": frames / median,
            "speedup": base / median,
            "max_abs_difference": None if diff is None else max(diff.values()),
            "max_abs_difference_to_float64": max(to_float64[name].values()),
        })  # fmt: skip
    import os
    import platform

    import scipy
    import torch

    record = {
        "benchmark": "features_vs_published",
        "command": "python benchmarks/features_vs_published.py --published HumanML3D "
        + " ".join(a for a in sys.argv[1:] if not a.startswith("--published") and
                   a != str(args.published)),
        "clips": len(clips),
        "feature_frames": frames,
        "data": what,
        "published_sha256": published.sha256,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {usable_cpus()} cores, {cpu_name()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "results": rows,
        "differences_by_group": differences,
        "differences_to_float64_by_group": to_float64,
        "frame0_max_abs_difference_to_shipped": frame0,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "features_vs_published.json").write_text(json.dumps(record, indent=2) + "\n")
    worst = max(max(d.values()) for d in differences.values())
    lines = [
        "# Joints -> features: the published per-clip extraction vs motionkit",
        "",
        f"`{record['command'].strip()}` on {record['machine']}; numpy {record['numpy']}, "
        f"torch {record['torch']} ({record['torch_threads']} threads) for the published helpers; "
        f"load average before {record['load_average']}. {len(clips)} clips ({what}), "
        f"{frames:,} feature frames; medians of {args.repeats} alternating runs in one process. "
        f"Published files (SHA-256 prefixes): "
        + ", ".join(f"`{k}` {v}" for k, v in published.sha256.items())
        + ".",
        "",
        "| strategy | median s | frames/s | speed-up | max abs difference to published | "
        "max abs difference to float64 |",
        "|---|---|---|---|---|---|",
        *(f"| {r['strategy']} | {r['median_s']:.3f} | {r['frames_per_s']:,.0f} | "
          f"{r['speedup']:.1f}x | "
          f"{'-' if r['max_abs_difference'] is None else format(r['max_abs_difference'], '.1e')} | "
          f"{r['max_abs_difference_to_float64']:.1e} |"
          for r in rows),
        "",
        "Differences are over feature frames 1.. of every clip; the float64 column is each "
        "float32 computation against the same extraction in float64 (its own rounding). "
        "Largest difference to the published features per group (batched): "
        + ", ".join(f"{g} {v:.1e}" for g, v in differences[BATCHED].items())
        + f". Aim <= 1e-5: {'met' if worst <= 1e-5 else 'NOT met'}"
        + ("" if worst <= 1e-5 else
           f" (the published code's own float32 rounding reaches "
           f"{max(to_float64[PUBLISHED].values()):.1e}, in "
           f"{max(to_float64[PUBLISHED], key=to_float64[PUBLISHED].get)})") + ".",
        "",
        "Frame 0: the repository's `common/skeleton.py` keeps frame 0's root rotation at the "
        "facing (its identity line is commented out), the released `new_joint_vecs` use the "
        "identity there, and motionkit follows the released data. Largest frame-0 difference to "
        "the released features of the HumanML3D sample clips: "
        + ", ".join(f"{k} {v:.1e}" for k, v in frame0.items()) + ".",
        "",
    ]  # fmt: skip
    (args.out / "features_vs_published.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
