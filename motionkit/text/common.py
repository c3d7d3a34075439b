"""Helpers shared by the text encoders: caption checks and local checkpoint folders (torch-free)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from motionkit.errors import MotionkitError


def check_captions(captions: Sequence[str]) -> list[str]:
    """``captions`` as a list; ``TypeError`` for a single string or items that are not strings."""
    if isinstance(captions, str):
        raise TypeError("text encoders take a list of captions, not a single string")
    out = list(captions)
    bad = [type(c).__name__ for c in out if not isinstance(c, str)]
    if bad:
        raise TypeError(f"captions must be strings, got {bad[0]}")
    return out


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def resolve_model_dir(
    path: str | os.PathLike[str] | None,
    *,
    encoder: str,
    model_types: tuple[str, ...],
    how_to_get: str,
) -> Path:
    """The folder of a Hugging Face checkpoint, checked before anything heavy is imported.

    Args:
        path: the configured folder (``--text-encoder.path``).
        encoder: the text encoder's registry name, for messages.
        model_types: accepted ``model_type`` values of its ``config.json``.
        how_to_get: the sentence telling how to obtain the weights, ending the messages.

    Raises:
        MotionkitError: no path, not a folder, no readable ``config.json``, or another model type.
    """
    if path is None or not str(path).strip():
        raise MotionkitError(f"the {encoder} text encoder needs local weights: {how_to_get}")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise MotionkitError(f"{encoder} text encoder: {folder} is not a folder; {how_to_get}")
    config = folder / "config.json"
    if not config.is_file():
        raise MotionkitError(
            f"{encoder} text encoder: {folder} has no config.json, so it is not a downloaded "
            f"checkpoint; {how_to_get}"
        )
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise MotionkitError(
            f"{encoder} text encoder: {config} is unreadable ({first_line(exc)}); {how_to_get}"
        ) from None
    if model_type not in model_types:
        raise MotionkitError(
            f"{encoder} text encoder: {folder} holds a {model_type!r} model, expected "
            f"{' or '.join(repr(t) for t in model_types)}; {how_to_get}"
        )
    return folder
