"""The decoding options shared by ``motionkit generate`` and ``motionkit eval``.

``@sampling_options`` adds ``--greedy --temperature --top-k --top-p --cfg-scale --min-tokens
--max-tokens`` to a command and hands it one ``sampling`` argument (a ``Sampling``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from motionkit.cli.types import FINITE

_OPTIONS = (
    click.option("--greedy", is_flag=True, help="Take the most likely token at every step."),
    click.option(
        "--temperature", type=FINITE, default=1.0, show_default=True, help="Sampling temperature."
    ),
    click.option("--top-k", default=0, show_default=True, help="Keep the k likeliest (0: all)."),
    click.option(
        "--top-p", type=FINITE, default=1.0, show_default=True, help="Nucleus mass (1: all)."
    ),
    click.option(
        "--cfg-scale", type=FINITE, default=1.0, show_default=True, help="Classifier-free guidance."
    ),
    click.option("--min-tokens", default=1, show_default=True, help="Refuse END before this."),
    click.option("--max-tokens", type=int, default=None, help="Force END after this many."),
)


def sampling_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a click callback: the options above become its ``sampling`` argument."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        greedy: bool,
        temperature: float,
        top_k: int,
        top_p: float,
        cfg_scale: float,
        min_tokens: int,
        max_tokens: int | None,
        **kwargs: Any,
    ) -> Any:
        from motionkit.generate import Sampling

        sampling = Sampling(
            greedy=greedy,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            cfg_scale=cfg_scale,
            min_tokens=min_tokens,
            max_tokens=max_tokens,
        )
        return command(*args, sampling=sampling, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
