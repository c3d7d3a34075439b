"""Latent quantizers: FSQ, EMA VQ and residual VQ built in; more through plugins.

Every quantizer maps latents ``(B, T, D)`` to quantized latents ``(B, T, D)`` and int64 indices
``(B, T)`` (one codebook) or ``(B, T, Q)`` (``Q`` residual codebooks); see
``motionkit.quantizers.base``. Importing this package (and the config modules ``fsq``, ``vq``,
``rvq``) is torch-free; ``motionkit.quantizers.adapter`` holds the torch side.
"""

from __future__ import annotations

from motionkit.errors import ConfigError
from motionkit.quantizers.base import Quantizer, QuantizerOutput

__all__ = ["Quantizer", "QuantizerOutput", "resolve_dim"]


def resolve_dim(name: str, configured: int | None, given: int | None) -> int:
    """The latent width ``D`` a quantizer is built with.

    Args:
        name: the quantizer's registry name, used in messages.
        configured: ``dim`` from the quantizer's config (``--quantizer.dim``), or ``None``.
        given: the width the model hands over at build time, or ``None``.

    Raises:
        ConfigError: neither is set, they disagree, or the width is not a positive integer.
    """
    if configured is None and given is None:
        raise ConfigError(f"{name} needs the latent width: pass dim or set --quantizer.dim")
    if configured is not None and given is not None and configured != given:
        raise ConfigError(
            f"{name}: --quantizer.dim is {configured} but the model's latent width is {given}; "
            "drop --quantizer.dim or make the two agree"
        )
    dim = given if given is not None else configured
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ConfigError(f"{name}: the latent width must be a positive integer, got {dim!r}")
    return dim
