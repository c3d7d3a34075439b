"""``motionkit generate RUN "caption" --out DIR``: text to motion files with a trained generator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from motionkit.cli import console
from motionkit.cli.sampling_options import sampling_options

if TYPE_CHECKING:
    from motionkit.generate import Sampling


@click.command("generate")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("prompts", nargs=-1)
@click.option(
    "--prompts",
    "prompt_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="UTF-8 text file with one caption per line (blank lines ignored).",
)
@click.option("--num", default=1, show_default=True, help="Samples per caption.")
@click.option("--seed", default=0, show_default=True, help="Seed of the first sample (+1 each).")
@sampling_options
@click.option("--gif/--no-gif", default=True, show_default=True, help="Render a GIF per sample.")
@click.option("--bvh/--no-bvh", default=True, show_default=True, help="Write a BVH per sample.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (must not hold generated motion already).",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to run (auto: cuda when available).",
)
def generate(
    run: Path,
    prompts: tuple[str, ...],
    prompt_file: Path | None,
    num: int,
    seed: int,
    sampling: Sampling,
    gif: bool,
    bvh: bool,
    out: Path,
    device: str,
) -> None:
    """Generate motion for captions with the generator of RUN (a pipeline or generator run).

    \b
      motionkit generate runs/demo "a person walks forward and turns left" --num 4 --out samples
      motionkit generate runs/demo --prompts captions.txt --top-k 50 --cfg-scale 2 --out samples

    Per sample: NNN.joints.npy, NNN.features.npy, NNN.bvh, NNN.gif; index.json lists the prompt,
    seed, settings and length of each.
    """
    from motionkit.errors import MotionkitError
    from motionkit.generate import generate as run_generate
    from motionkit.generator.model import load_generator
    from motionkit.train.loop import pick_device

    captions = [p for p in prompts]
    if prompt_file is not None:
        try:
            text = prompt_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise MotionkitError(f"{prompt_file} is not UTF-8 text; save it as UTF-8") from None
        captions += [line.strip() for line in text.splitlines() if line.strip()]
    if not captions or any(not c.strip() for c in captions):
        raise MotionkitError("give at least one non-empty caption, or --prompts FILE")
    loaded = load_generator(run, pick_device(device))
    motions = run_generate(
        loaded, captions, num=num, seed=seed, settings=sampling, out=out, gif=gif, bvh=bvh
    )
    for motion in motions:
        console.out.print(
            f"{motion.files.get('gif', motion.files['joints'])}: {motion.num_frames} frames "
            f"({motion.num_frames / motion.fps:.1f} s), seed {motion.seed}: {motion.prompt}"
        )
    console.err.print(f"wrote {len(motions)} samples and index.json to {out}")
