"""``motionkit train``: resolve a run configuration from defaults, a file and options; train.

``motionkit train --quantizer fsq --levels 8,8,8,6,5`` works as written: options of the chosen
components map onto their config fields (see ``motionkit.config.run``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from motionkit.cli import console
from motionkit.config.run import (
    CONFIG_FILENAME,
    DEFAULT_STAGE,
    RunConfig,
    prepare_run_dir,
    resolve_run_config,
    stages,
)
from motionkit.errors import MotionkitError, TrainingInterrupted
from motionkit.io import check_output, first_missing_ancestor, remove_added


@click.command(
    "train",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.option(
    "--stage",
    type=click.Choice(sorted(stages())),
    default=None,
    help=f"What to train (default: the config file's stage, else {DEFAULT_STAGE}: the "
    "tokenizer, then the generator).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML or JSON file with defaults (a saved config.json works); explicit options win.",
)
@click.option("--preset", help="Preset applied to every section, e.g. 'tiny' for a quick run.")
@click.option("--quantizer", help="Quantizer name, optionally NAME:PRESET (e.g. fsq, fsq:2^14).")
@click.option("--dataset", help="Dataset name, optionally NAME:PRESET.")
@click.option("--backbone", help="Generator backbone, optionally NAME:PRESET (e.g. prefix-lm:44M).")
@click.option("--text-encoder", help="Text encoder name, optionally NAME:PRESET (e.g. learned).")
@click.option(
    "--data",
    "data_root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Dataset folder in the HumanML3D layout (default: the synthetic corpus).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run directory (default: runs/STAGE-TIMESTAMP).",
)
@click.option("--dry-run", is_flag=True, help="Resolve, print and (with --out) save the config.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out from its last save (its config.json; options may raise "
    "--max-steps).",
)
@click.pass_context
def train(
    ctx: click.Context,
    stage: str | None,
    config_file: Path | None,
    preset: str | None,
    quantizer: str | None,
    dataset: str | None,
    backbone: str | None,
    text_encoder: str | None,
    data_root: Path | None,
    out: Path | None,
    dry_run: bool,
    resume: bool,
) -> None:
    """Train a stage. Component options follow the component they belong to:

    \b
      motionkit train --quantizer fsq --levels 8,8,8,6,5 --data DIR
      motionkit train --stage generator --tokenizer RUN --backbone prefix-lm --data DIR
      motionkit train --quantizer vq --codebook-size 512 --train.lr 1e-4
      motionkit train --config exp.toml --preset tiny --dry-run

    Without --stage both stages train, the tokenizer then the generator, into RUN/tokenizer
    and RUN/generator. A field name shared by two sections is qualified with the section
    (--quantizer.dim 256, --backbone.dim 512). 'motionkit list --options NAME' shows a
    component's options.
    """
    args = list(ctx.args)
    if data_root is not None:
        dataset = dataset or _dataset_for_folder(data_root)
        args += ["--dataset.root", str(data_root)]
    if resume:
        if out is None or not (out / CONFIG_FILENAME).is_file():
            raise MotionkitError("--resume needs --out pointing at a run with a config.json")
        chosen = (config_file, preset, quantizer, dataset, stage, data_root, backbone, text_encoder)
        if any(chosen):
            raise MotionkitError(
                "--resume takes the run's own config; only options like --max-steps may change"
            )
        config_file = out / CONFIG_FILENAME
    config = resolve_run_config(
        stage,
        choices={
            "quantizer": quantizer,
            "dataset": dataset,
            "backbone": backbone,
            "text_encoder": text_encoder,
        },
        config_file=config_file,
        args=args,
        preset=preset,
    )
    if out is not None:
        check_output(out, folder=True)
    if config.stage == "generator":
        config = _with_absolute_tokenizer(config, out)
    if dry_run:
        console.out.print_json(config.to_json())
        if out is not None:
            path = prepare_run_dir(out, config)
            console.err.print(f"saved {path}")
        return
    from motionkit.train import distributed

    here = distributed.setup(config["train"].device)
    try:
        _train_in(config, out, resume, here)
        distributed.barrier()  # no rank leaves while another still talks to it
    finally:
        distributed.shutdown()


def _train_in(config: RunConfig, out: Path | None, resume: bool, here: Any) -> None:
    """Train ``config`` into ``out`` as this process of ``here`` (the world of processes)."""
    from motionkit.train import distributed
    from motionkit.train.checkpoint import checkpoint_step

    if out is None and here.distributed:
        raise MotionkitError("a distributed run needs --out (every process must use one folder)")
    run_dir = out or Path("runs") / f"{config.stage}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not resume:
        started = ("model.safetensors", "metrics.jsonl", "tokenizer", "generator")
        if any((run_dir / name).exists() for name in started):
            raise MotionkitError(
                f"{run_dir} already holds a training run; pass --resume to continue it or "
                "choose a new --out (nothing was changed)"
            )
    distributed.barrier()  # every rank checked before rank 0 writes
    saved_config = (run_dir / CONFIG_FILENAME).read_bytes() if resume else None
    created = first_missing_ancestor(run_dir)  # what a failed run removes again
    existing = set(os.listdir(run_dir)) if created is None and run_dir.is_dir() else set()
    if here.main:
        if resume:
            from motionkit.provenance import record_environment

            config.save(run_dir)  # a raised --max-steps is part of the run from now on
            record_environment(run_dir)  # appended: the original record stays
        else:
            prepare_run_dir(run_dir, config, environment=True)
        console.err.print(f"run directory: {run_dir}")
    distributed.barrier()
    trainer = stages()[config.stage].trainer()
    from_checkpoint = resume
    if resume and config.stage != "pipeline" and checkpoint_step(run_dir) is None:
        # killed before its first checkpoint: nothing to continue, so it starts again in place
        from_checkpoint = False
        distributed.barrier()
        if here.main:
            (run_dir / "metrics.jsonl").unlink(missing_ok=True)
            console.err.print("no checkpoint yet: training starts again from step 0")
        distributed.barrier()
    try:
        metrics = trainer(config, run_dir, resume=from_checkpoint)
    except TrainingInterrupted as exc:
        raise TrainingInterrupted(
            f"stopped by {exc.signal_name} after step {exc.step}; the checkpoint is saved: "
            f"continue with  motionkit train --out {run_dir} --resume",
            exc.step,
            exc.signal_name,
        ) from None
    except MotionkitError:
        if saved_config is not None and here.main:  # a refused resume leaves the run as it was
            from motionkit.io import atomic_write_bytes

            atomic_write_bytes(run_dir / CONFIG_FILENAME, saved_config)
        elif here.main and not here.distributed:  # refused before any weights: leave no run
            _discard_unstarted(run_dir, created, existing)
        raise
    if here.main:
        from motionkit.card import write_model_card

        try:  # the run is trained: a card that cannot be written is a warning, not a failure
            write_model_card(run_dir)
        except OSError as exc:
            console.err.print(f"Warning: MODEL_CARD.md not written: {exc.strerror or exc}")
    if metrics and here.main:
        console.out.print_json(data={"run": str(run_dir), **metrics})


def _dataset_for_folder(root: Path) -> str:
    """``kit`` for a folder of 251-d features, else ``humanml3d``."""
    import numpy as np

    from motionkit.data.layout import DatasetError
    from motionkit.motion.skeleton import KIT21

    first = next(iter(sorted((root / "new_joint_vecs").glob("*.npy"))), None)
    if first is None:
        raise MotionkitError(
            f"{root} has no new_joint_vecs/*.npy; is it a HumanML3D-layout folder?"
        )
    try:
        shape = np.load(first, mmap_mode="r", allow_pickle=False).shape
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(
            f"{first} is not a readable .npy array ({reason}); replace it or remove the clip"
        ) from None
    if len(shape) != 2:
        raise DatasetError(f"{first} has shape {shape}; features must be (frames, dims)")
    return "kit" if shape[-1] == KIT21.feature_dim else "humanml3d"


def _discard_unstarted(run_dir: Path, created: Path | None, existing: set[str]) -> None:
    """Remove what a run that failed before writing any weights added: the folders it created,
    else the files it added to a folder that was there."""
    if not run_dir.is_dir() or any(run_dir.rglob("*.safetensors")):
        return  # weights were saved: the run can be resumed
    remove_added(run_dir, created, existing)


def _with_absolute_tokenizer(config: RunConfig, out: Path | None) -> RunConfig:
    """Check the generator's tokenizer run before anything is written, and record it as an
    absolute path so the run keeps working from any directory."""
    import dataclasses
    from types import MappingProxyType

    from motionkit.generator.model import resolve_tokenizer

    written = config["generator"].tokenizer
    found = resolve_tokenizer(out or Path("."), written)
    sections = dict(config.sections)
    sections["generator"] = dataclasses.replace(config["generator"], tokenizer=str(found.resolve()))
    return RunConfig(config.stage, MappingProxyType(sections), config.names)
