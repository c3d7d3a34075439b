"""Generator backbones: motion tokens + text features -> next-token logits, with a KV cache.

Built in (``motionkit.registry.backbones``):

* ``prefix-lm``: ScaMo's text-prefix LLaMA decoder (CVPR 2025), ``PrefixLMConfig``;
* ``decoder-only``: T2M-GPT's causal GPT with the pooled text as first token (CVPR 2023),
  ``DecoderOnlyConfig``;
* ``encoder-decoder``: a MotionGPT-style text encoder + cross-attending motion decoder (NeurIPS
  2023), ``EncoderDecoderConfig``.

The contract (shapes, vocabulary, ``start`` / ``step`` / ``select``) is in
``motionkit.backbones.base``. Importing this package and the config modules is torch-free; the
``*_model`` modules and ``motionkit.backbones.layers`` hold the torch side.
"""

from __future__ import annotations

from motionkit.backbones.base import Backbone, Vocabulary
from motionkit.backbones.common import SCAMO_SIZES, paper_params, swiglu_hidden
from motionkit.backbones.decoder_only import DecoderOnlyConfig
from motionkit.backbones.encoder_decoder import EncoderDecoderConfig
from motionkit.backbones.prefix_lm import PrefixLMConfig

__all__ = [
    "SCAMO_SIZES",
    "Backbone",
    "DecoderOnlyConfig",
    "EncoderDecoderConfig",
    "PrefixLMConfig",
    "Vocabulary",
    "paper_params",
    "swiglu_hidden",
]
