"""Validate the scaling laws at CPU scale: sweep, fit, predict beyond the sweep, train, compare.

    python benchmarks/scaling_validation.py [--work /tmp/scaling-validation] [--factor 5]

1. A synthetic corpus of 4,000 clips (``motionkit data synth --num 4000``) and one FSQ 8,6,5
   tokenizer (240 codes).
2. A sweep (``motionkit scaling sweep``) of six prefix-LM shapes from 32 wide x 2 layers to
   128 x 4, each trained once to 1e12 FLOPs (6 N D) with a constant learning rate and twelve
   log-spaced validations, so each run's curve gives Lu at every smaller budget as well.
3. The fit (``motionkit scaling fit``) on the lower envelope of those curves above ``--min-flops``.
4. The prediction (``motionkit scaling predict --sweep``) at ``--factor`` times the largest compute
   of the envelope: the optimal Nnv and its nearest shape in the sweep, the tokens, Lu.
5. That run trained, plus (``--neighbours``) the next smaller and larger shapes at the same
   budget, to check that the predicted shape is the best of the three.

Writes ``benchmarks/results/scaling_validation.{json,md}``, the fit's figure
(``scaling_validation_fit.png``) and the extrapolation figure (``scaling_validation.png``), and
copies both figures to ``docs/assets/scaling/`` for the scaling page. Every run is resumable:
run the script again after an interruption and finished runs are kept.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC_ASSETS = ROOT / "docs" / "assets" / "scaling"

MODELS = (
    {"name": "d32l2", "dim": 32, "layers": 2, "heads": 2},
    {"name": "d48l2", "dim": 48, "layers": 2, "heads": 4},
    {"name": "d64l2", "dim": 64, "layers": 2, "heads": 4},
    {"name": "d64l4", "dim": 64, "layers": 4, "heads": 4},
    {"name": "d96l4", "dim": 96, "layers": 4, "heads": 4},
    {"name": "d128l4", "dim": 128, "layers": 4, "heads": 4},
)


def grid_toml(data: Path) -> str:
    lines = [
        f'data = "{data}"',
        "budgets = [1e12]",
        "batch_size = 64",
        "tokenizer_steps = 800",
        "evals = 12",
        "seed = 0",
        "",
        "[train]",
        "warmup_steps = 10",
        "lr = 1e-3",
        "",
    ]
    for model in MODELS:
        lines += ["[[models]]", *(f"{k} = {json.dumps(v)}" for k, v in model.items()), ""]
    lines += ["[[vocabs]]", "levels = [8, 6, 5]", ""]
    return "\n".join(lines)


def final_val(run: Path) -> dict:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("split") == "val"][-1]


def plot_validation(curves, points, fit, checks, out_png: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from motionkit.io import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(8, 5.5))
    cmap = plt.get_cmap("viridis")
    for i, curve in enumerate(curves):
        ax.plot(curve.flops, curve.loss, color=cmap(i / max(1, len(curves) - 1)), lw=1,
                alpha=0.6, label=Path(curve.model).name.split("-")[0])  # fmt: skip
    ax.scatter([p.flops for p in points], [p.loss for p in points], s=14, color="k", zorder=3,
               label="envelope (fitted)")  # fmt: skip
    law = fit["loss"]
    high = max(c["flops"] for c in checks) * 1.2
    grid = np.logspace(np.log10(min(p.flops for p in points)), np.log10(high), 100)
    line = np.asarray(law.fit(grid))
    band = 1.96 * np.hypot(np.asarray(law.line_std(grid)), law.resid_std)
    ax.plot(grid, line, "k--", lw=1.2, label=f"fit: Lu = {law.fit.slope:.3f} log10 C + "
            f"{law.fit.intercept:.2f}")  # fmt: skip
    ax.fill_between(grid, line - band, line + band, color="grey", alpha=0.25, lw=0)
    for check in checks:
        marker = "*" if check["predicted_shape"] else "o"
        ax.scatter(check["flops"], check["lu"], marker=marker, s=160 if marker == "*" else 50,
                   color="crimson", zorder=4, label=f"measured {check['model']}")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("training compute C (paper FLOPs, 3 (Nnv + Nv) D)")
    ax.set_ylabel("normalised validation loss Lu")
    ax.set_title("Scaling law fitted on the sweep, checked beyond it")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(out_png, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/scaling-validation"))
    parser.add_argument("--factor", type=float, default=5.0)
    parser.add_argument("--min-flops", type=float, default=3e10)
    parser.add_argument("--neighbours", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    from motionkit.bench import environment
    from motionkit.data.humanml3d import ensure_synthetic_corpus
    from motionkit.scaling.fit import compute_optimal_envelope, fit_all, isoflop_from_curves
    from motionkit.scaling.plots import plot_fit
    from motionkit.scaling.predict import predict_for_sweep
    from motionkit.scaling.sweep import Grid, Job, Launcher, read_curve, run_sweep

    started = time.perf_counter()
    work = args.work.resolve()
    data = work / "synthetic-n4000"
    ensure_synthetic_corpus(data, 4000, 0)
    grid_file = work / "grid.toml"
    grid_file.write_text(grid_toml(data))
    sweep = work / "sweep"
    rows = run_sweep(Grid.load(grid_file), sweep)
    sweep_s = time.perf_counter() - started
    curves = [read_curve(sweep / "runs" / row["run"]) for row in rows]
    # as 'motionkit scaling fit RUNS --min-flops' does: the envelope over the observed range
    shortest = min(float(c.flops[-1]) for c in curves)
    points = compute_optimal_envelope(curves, n_grid=30, min_flops=args.min_flops)
    try:  # the IsoFLOP view of the same curves, inside the range every run covers
        iso = isoflop_from_curves(curves, 12, min_flops=args.min_flops, max_flops=shortest)
    except ValueError:
        iso = []
    fit = fit_all(points, n_boot=1000, seed=0)
    largest = max(float(c.flops[-1]) for c in curves)  # the largest compute of the sweep
    target = args.factor * largest
    plan = json.loads((sweep / "sweep.json").read_text())
    prediction = predict_for_sweep(fit, target, plan)

    # the predicted shape (and optionally its neighbours) trained at the target budget
    names = [m["name"] for m in MODELS]
    chosen = names.index(prediction["model"])
    picks = [chosen]
    if args.neighbours:
        picks = [i for i in (chosen - 1, chosen, chosen + 1) if 0 <= i < len(names)]
    checks = []
    for index in picks:
        model = MODELS[index]
        alt = predict_for_sweep(fit, target, {**plan, "models": [model]})
        run = work / "validation" / f"{model['name']}-{target:.2e}"
        cmd = alt["command"].split()
        job_args = tuple(cmd[cmd.index("--backbone.dim") :])
        Launcher().run(
            [Job("generator", str(data), ("--tokenizer", plan["tokenizers"]["8x6x5"],
                                          *job_args), str(run), alt["max_steps"])],
            work, lambda n=1: None,
        )  # fmt: skip
        val = final_val(run)
        logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        rate = [r["tokens_per_s"] for r in logged if r.get("split") == "train"][-1]
        predicted = float(fit["loss"].fit(val["paper_flops"]))
        checks.append({
            "model": model["name"], "predicted_shape": index == chosen,
            "steps": alt["max_steps"], "flops": val["paper_flops"], "lu": val["lu"],
            "predicted_lu": predicted,
            "relative_error": abs(val["lu"] - predicted) / abs(predicted),
            "seconds": val["tokens_seen"] / rate,  # training time, also for a reused run
            "tokens_seen": val["tokens_seen"],
        })  # fmt: skip

    # how often the runs saw each training token: the laws assume fresh data
    from motionkit.tokenizer.export import tokens_for

    tokens, _ = tokens_for(Path(plan["tokenizers"]["8x6x5"]), data)
    train_ids = set((data / "train.txt").read_text().split())
    # mirrored copies (HumanML3D's M-prefixed ids) count as training data of their clip
    unique = sum(min(len(t), 49) + 1 for k, t in tokens.items()
                 if k in train_ids or (k.startswith("M") and k[1:] in train_ids))  # fmt: skip
    for check in checks:
        check["epochs"] = check["tokens_seen"] / unique
    fit_png = args.results / "scaling_validation_fit.png"
    val_png = args.results / "scaling_validation.png"
    plot_fit(fit, points, fit_png, curves=curves)
    plot_validation(curves, points, fit, checks, val_png)
    DOC_ASSETS.mkdir(parents=True, exist_ok=True)
    for png in (fit_png, val_png):
        shutil.copyfile(png, DOC_ASSETS / png.name)
    winners = []
    for p in points:
        name = Path(p.model).name.split("-")[0]
        if not winners or winners[-1][0] != name:
            winners.append([name, p.flops, p.flops])
        winners[-1][2] = p.flops
    record = {
        "environment": environment(),
        "sweep_seconds": sweep_s,
        "sweep": rows,
        "envelope_points": len(points),
        "envelope_range": [min(p.flops for p in points), largest],
        "envelope_winners": winners,
        "isoflop_minima": [{"flops": p.flops, "lu": p.loss, "non_vocab": p.non_vocab} for p in iso],
        "shortest_run_flops": shortest,
        "fit": fit.to_dict(),
        "target_flops": target,
        "largest_flops": largest,
        "prediction": {k: v for k, v in prediction.items() if k != "command"},
        "command": prediction["command"],
        "checks": checks,
        "train_tokens": unique,
    }
    from motionkit.io import atomic_write_text

    atomic_write_text(args.results / "scaling_validation.json", json.dumps(record, indent=2))
    atomic_write_text(args.results / "scaling_validation.md", markdown(record, fit))
    print(markdown(record, fit))


def markdown(record: dict, fit) -> str:
    pred = record["prediction"]
    lines = [
        "# Scaling laws at CPU scale: fitted on a sweep, checked beyond it",
        "",
        "`python benchmarks/scaling_validation.py --neighbours` on "
        f"{record['environment']['machine']} ({record['environment']['cpus']} CPUs), commit "
        f"{record['environment'].get('git_commit', '?')[:10]}.",
        "",
        "Synthetic corpus of 4,000 clips, FSQ 8,6,5 (240 codes), six prefix-LM shapes each "
        "trained once to 1e12 FLOPs (6 N D) with a constant learning rate "
        + (
            f"({record['sweep_seconds'] / 60:.0f} min). "
            if record["sweep_seconds"] > 60
            else "(trained by an earlier invocation and reused). "
        )
        + "Compute below is in paper units, "
        "3 (Nnv + Nv) D.",
        "",
        "| run | steps | paper FLOPs | final Lu |",
        "|---|---|---|---|",
        *(
            f"| {r['run']} | {r['steps']} | {r['paper_flops']:.3g} | {r['lu']:.3f} |"
            for r in record["sweep"]
        ),
        "",
        f"Envelope: {record['envelope_points']} points from {record['envelope_range'][0]:.3g} to "
        f"{record['envelope_range'][1]:.3g} FLOPs; won in turn by "
        + ", ".join(f"{w} ({a:.2g}-{b:.2g})" for w, a, b in record["envelope_winners"])
        + ".",
        "",
        "```",
        fit.summary(),
        "```",
        "",
        f"Prediction at {record['target_flops']:.3g} FLOPs "
        f"({record['target_flops'] / record['largest_flops']:.1f}x the largest compute of the "
        f"sweep): Nnv {pred['non_vocab']:.3g} -> shape {pred['model']} "
        f"(Nnv {pred['model_non_vocab']:.3g}), {pred['max_steps']} steps, Lu "
        f"{pred['loss']:.3f} (95% band of the line {pred['loss_interval'][0]:.3f} .. "
        f"{pred['loss_interval'][1]:.3f}; with the points' scatter "
        f"{pred['loss_prediction_interval'][0]:.3f} .. {pred['loss_prediction_interval'][1]:.3f}).",
        "",
        f"Training tokens in the corpus (train split and any mirrored copies, END included): "
        f"{record['train_tokens']:,}.",
        "",
        "| shape | predicted optimum | paper FLOPs | epochs | measured Lu | predicted Lu | error "
        "| time |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {c['model']} | {'yes' if c['predicted_shape'] else ''} | {c['flops']:.3g} | "
            f"{c['epochs']:.1f} | {c['lu']:.3f} | {c['predicted_lu']:.3f} | "
            f"{100 * c['relative_error']:.1f}% | "
            f"{c['seconds']:.0f} s |"
            for c in record["checks"]
        ),
        "",
        "## Where the laws hold at this scale, and where not",
        "",
        *analysis(record),
        "",
        "![fit](scaling_validation_fit.png)",
        "",
        "![validation](scaling_validation.png)",
        "",
    ]
    return "\n".join(lines)


def analysis(record: dict) -> list[str]:
    """What the numbers say, written from the record (not by hand)."""
    checks = record["checks"]
    best = min(checks, key=lambda c: c["lu"])
    chosen = next(c for c in checks if c["predicted_shape"])
    frontier = min(r["lu"] for r in record["sweep"])
    gain = frontier - best["lu"]
    decades = math.log10(record["target_flops"] / record["largest_flops"])
    slope = record["fit"]["laws"]["loss"]["fit"]["slope"]
    iso = record["isoflop_minima"]
    smallest = min(r["paper_non_vocab"] for r in record["sweep"])
    lines = [
        f"* **Shape.** The predicted shape {chosen['model']} is "
        + ("the best" if best is chosen else f"not the best ({best['model']} is)")
        + f" of the {len(checks)} shapes trained at the target budget.",
        f"* **Loss.** The frontier improved by {gain:.3f} in Lu over the "
        f"{decades:.2f} decades from the sweep's largest budget to the target, "
        f"{gain / decades:.2f} per decade, while the law fitted on the sweep says "
        f"{-slope:.2f} per decade: the measured Lu is "
        f"{100 * chosen['relative_error']:.0f}% short of the prediction (aim: 3%).",
        f"* **Why.** The corpus holds {record['train_tokens']:,} training tokens; the runs at the "
        f"target saw them {min(c['epochs'] for c in checks):.0f} to "
        f"{max(c['epochs'] for c in checks):.0f} times. ScaMo's laws are fitted where every "
        "token is new; here the curves bend as the data repeats, and a law of the form "
        "Lu = a log10 C + b fitted on the steep part overshoots. The log law holds over the "
        f"sweep's own range (R² {record['fit']['laws']['loss']['fit']['r2']:.2f}) but not three "
        "times beyond it.",
    ]
    if iso and all(abs(p["non_vocab"] - iso[0]["non_vocab"]) < 1e-6 * iso[0]["non_vocab"]
                   for p in iso):  # fmt: skip
        lines.append(
            "* **Size laws.** Inside the range every run covers, the IsoFLOP minima sit at the "
            f"smallest shape (Nnv {smallest:.3g}) at every budget: the optimum lies at or below "
            "the grid, so the Nnv, Nv and D laws here rest on the envelope's last points, where "
            "only the largest runs reach; treat their exponents as unmeasured at this scale."
        )
    lines.append(
        "* **What would make it hold.** Fresh data for every token (a corpus of about "
        f"{int(max(c['tokens_seen'] for c in checks)):,} tokens, or budgets small enough that "
        "no run repeats its data) and a grid whose smallest shape sits below the optimum."
    )
    return lines


if __name__ == "__main__":
    main()
