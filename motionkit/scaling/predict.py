"""Turn a fitted ``ScalingFit`` into a recommended run at a compute budget."""

from __future__ import annotations

import math
from typing import Any

from motionkit.backbones.common import SCAMO_SIZES
from motionkit.scaling.accounting import paper_flops, paper_params
from motionkit.scaling.fit import ScalingFit

#: Real codebook sizes of ``motionkit.quantizers.fsq.SCAMO_LEVELS`` (products of the levels).
FSQ_PRESET_SIZES: dict[str, int] = {
    "2^8": 240,
    "2^9": 512,
    "2^10": 1000,
    "2^11": 1920,
    "2^12": 4375,
    "2^14": 15360,
    "2^16": 64000,
}

#: Motion tokens per training sequence assumed for the step count (50 codes + END).
TOKENS_PER_SEQUENCE = 50
DEFAULT_BATCH_SIZE = 256


def _nearest_log(target: float, options: dict[str, float]) -> str:
    return min(options, key=lambda k: abs(math.log(options[k]) - math.log(max(target, 1e-300))))


def nearest_model(non_vocab: float) -> str:
    """The ``SCAMO_SIZES`` name whose paper-unit ``Nnv`` is nearest (in log) to ``non_vocab``."""
    nnv = {name: paper_params(layers, dim, 1)[0] for name, (layers, _, dim) in SCAMO_SIZES.items()}
    return _nearest_log(non_vocab, nnv)


def nearest_vocab(vocab_params: float, dim: int) -> str:
    """The FSQ preset whose real size is nearest (in log) to ``V = Nv / (2 d)``."""
    return _nearest_log(vocab_params / (2.0 * dim), dict(FSQ_PRESET_SIZES))


def predict(
    fit: ScalingFit,
    flops: float,
    batch_size: int = DEFAULT_BATCH_SIZE,
    tokens_per_sequence: int = TOKENS_PER_SEQUENCE,
    z: float = 1.96,
) -> dict[str, Any]:
    """The compute-optimal run at ``flops`` according to ``fit``.

    Returns a dict with the optimal ``non_vocab`` (Eq 12), ``vocab`` (Eq 11) and ``tokens``
    (Eq 13), the predicted ``loss`` (Eq 14) with ``loss_interval`` (bootstrap band of the line,
    ``z`` sigmas; zero width when the fit carries no covariance) and ``loss_prediction_interval``
    (adding the points' residual scatter), the nearest ScaMo ``model`` preset, the nearest FSQ
    ``vocab_preset`` for ``V = Nv / (2 d)`` with that preset's width (and ``vocab_preset_eq10``,
    the same from ``Nv`` given by the Nv~Nnv law at the optimal ``Nnv``), ``compute_check`` (the
    budget the three laws imply, ``3 (Nnv + Nv) D``, over ``flops``), ``max_steps`` (``D`` over
    ``batch_size * tokens_per_sequence``) and the ``command`` that trains it.
    """
    if flops <= 0:
        raise ValueError(f"flops must be positive, got {flops}")
    if batch_size < 1 or tokens_per_sequence < 1:
        raise ValueError("batch_size and tokens_per_sequence must be at least 1")
    nnv = float(fit["non_vocab"].fit(flops))
    nv = float(fit["vocab"].fit(flops))
    tokens = float(fit["tokens"].fit(flops))
    loss_law = fit["loss"]
    loss = float(loss_law.fit(flops))
    half = z * float(loss_law.line_std(flops))
    resid = loss_law.resid_std if math.isfinite(loss_law.resid_std) else 0.0
    half_pred = z * math.hypot(half / z if z else 0.0, resid)
    model = nearest_model(nnv)
    layers, _, dim = SCAMO_SIZES[model]
    vocab_preset = nearest_vocab(nv, dim)
    out: dict[str, Any] = {
        "flops": float(flops),
        "non_vocab": nnv,
        "vocab": nv,
        "tokens": tokens,
        "loss": loss,
        "loss_interval": (loss - half, loss + half),
        "loss_prediction_interval": (loss - half_pred, loss + half_pred),
        "compute_check": paper_flops(nnv, nv, tokens) / flops,
        "model": model,
        "model_non_vocab": paper_params(layers, dim, 1)[0],
        "vocab_size": nv / (2.0 * dim),
        "vocab_preset": vocab_preset,
    }
    if "vocab_vs_non_vocab" in fit.laws:
        nv10 = float(fit["vocab_vs_non_vocab"].fit(nnv))
        out["vocab_eq10"] = nv10
        out["vocab_preset_eq10"] = nearest_vocab(nv10, dim)
    steps = max(1, math.ceil(tokens / (batch_size * tokens_per_sequence)))
    out["batch_size"] = batch_size
    out["tokens_per_sequence"] = tokens_per_sequence
    out["max_steps"] = steps
    out["command"] = (
        f"motionkit train --quantizer fsq:{vocab_preset} "
        f"--backbone prefix-lm:{model} --max-steps {steps} --batch-size {batch_size}"
    )
    return out


def predict_for_sweep(fit: ScalingFit, flops: float, sweep: dict[str, Any]) -> dict[str, Any]:
    """The compute-optimal run at ``flops`` among the shapes of a finished sweep.

    ``sweep`` is the sweep's ``sweep.json`` (``motionkit scaling sweep``): its models, vocabularies,
    batch size, tokens per step and tokenizer runs. The model whose paper-unit ``Nnv`` is nearest
    (in log) to the optimum and the vocabulary nearest to ``V = Nv / (2 d)`` are chosen; the run
    trains for the budget, ``D = flops / (3 (Nnv + Nv))`` of the chosen shape, and the ``command``
    trains it with the sweep's data, tokenizer and training options.
    """
    out = predict(fit, flops)
    shapes = {}
    for model in sweep["models"]:
        layers, dim = int(model["layers"]), int(model["dim"])
        shapes[str(model["name"])] = (float(paper_params(layers, dim, 1)[0]), model)
    name = _nearest_log(out["non_vocab"], {k: v[0] for k, v in shapes.items()})
    nnv, model = shapes[name]
    dim = int(model["dim"])
    sizes = {"x".join(map(str, v)): float(math.prod(v)) for v in sweep["vocabs"]}
    vocab_name = _nearest_log(out["vocab"] / (2.0 * dim), sizes)
    nv = 2.0 * sizes[vocab_name] * dim
    tokens = flops / (3.0 * (nnv + nv))
    per_step = float(sweep["tokens_per_step"][vocab_name])
    steps = max(1, math.ceil(tokens / per_step))
    args = [
        "motionkit train --stage generator",
        f"--tokenizer {sweep['tokenizers'][vocab_name]}",
        f"--data {sweep['data']}",
        f"--backbone.dim {dim} --backbone.layers {model['layers']} "
        f"--backbone.heads {model['heads']}",
        f"--max-steps {steps} --eval-every {steps} --batch-size {sweep['batch_size']}",
        f"--seed {sweep['seed']}",
        *(f"--{k.replace('_', '-')} {v}" for k, v in sorted(sweep.get("train", {}).items())),
    ]
    out.update(
        model=name,
        model_non_vocab=nnv,
        vocab_preset=vocab_name,
        vocab_size=sizes[vocab_name],
        model_vocab=nv,
        model_tokens=tokens,
        batch_size=int(sweep["batch_size"]),
        tokens_per_step=per_step,
        max_steps=steps,
        command=" ".join(args),
    )
    for key in ("vocab_eq10", "vocab_preset_eq10", "tokens_per_sequence"):
        out.pop(key, None)
    return out
