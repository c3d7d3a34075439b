"""The ``t5`` and ``clip`` text encoder configs: the peers' pretrained encoders, from local folders.

* ``t5``: ScaMo's conditioning (REFERENCE.md §2): the frozen Flan-T5-XL encoder, word-level
  ``last_hidden_state`` (2048-d), truncated to 150 tokens; ``pooled`` = mean over valid tokens.
* ``clip``: T2M-GPT's conditioning: the frozen CLIP ViT-B/32 text tower (512-d); ``features`` =
  ``last_hidden_state`` (77 tokens at most), ``pooled`` = the projected EOT embedding
  (``CLIPTextModelWithProjection.text_embeds``, i.e. ``clip.encode_text``) when the checkpoint has
  a text projection, else ``CLIPTextModel``'s ``pooler_output``.

Nothing is downloaded at run time: ``path`` (``--text-encoder.path DIR``) names a folder holding
a Hugging Face download (``config.json``, weights, tokenizer files). Both need ``transformers``
(``pip install 'motionkit[text]'``). Encoders are frozen and cache each caption's output
(``motionkit.text.frozen``).

Torch-free at import; ``build`` imports ``motionkit.text.hf``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from motionkit.config.fields import option
from motionkit.registry import text_encoders
from motionkit.text.common import resolve_model_dir

if TYPE_CHECKING:
    from motionkit.text.hf import CLIPTextEncoder, T5TextEncoder

T5_HOW_TO_GET = (
    "download google/flan-t5-xl on a connected machine (hf download google/flan-t5-xl "
    "--local-dir DIR) and pass --text-encoder.path DIR"
)
CLIP_HOW_TO_GET = (
    "download openai/clip-vit-base-patch32 on a connected machine (hf download "
    "openai/clip-vit-base-patch32 --local-dir DIR) and pass --text-encoder.path DIR"
)


def _check_common(max_tokens: int, dtype: str) -> None:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")


@text_encoders.register("t5")
@dataclass(frozen=True)
class T5EncoderConfig:
    """Frozen Flan-T5 encoder, word-level features (ScaMo); weights from a local folder."""

    path: str | None = option(
        None, help="folder of a T5 download, e.g. google/flan-t5-xl (config.json, weights)"
    )
    max_tokens: int = option(150, help="longest caption in tokens, </s> included (ScaMo: 150)")
    dtype: Literal["float32", "bfloat16", "float16"] = option(
        "float32", help="weight dtype of the encoder; outputs are float32 either way"
    )
    cache: bool = option(True, help="keep each caption's output in memory (the model is frozen)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"max_tokens": 32}}

    def __post_init__(self) -> None:
        _check_common(self.max_tokens, self.dtype)

    def build(
        self, captions: list[str] | None = None, run_dir: Path | None = None
    ) -> T5TextEncoder:
        """The frozen encoder of the checkpoint in ``path``; ``captions``, ``run_dir`` unused.

        Raises:
            MotionkitError: no usable folder at ``path``, or transformers is missing.
        """
        folder = resolve_model_dir(
            self.path, encoder="t5", model_types=("t5",), how_to_get=T5_HOW_TO_GET
        )
        from motionkit.text.hf import load_t5

        return load_t5(folder, max_tokens=self.max_tokens, dtype=self.dtype, cache=self.cache)


@text_encoders.register("clip")
@dataclass(frozen=True)
class CLIPEncoderConfig:
    """Frozen CLIP text tower (T2M-GPT); weights from a local folder."""

    path: str | None = option(
        None, help="folder of a CLIP download, e.g. openai/clip-vit-base-patch32"
    )
    max_tokens: int = option(77, help="longest caption in tokens, start and end included")
    projection: bool = option(
        True, help="pooled = projected EOT embedding (clip.encode_text) when the weights have it"
    )
    dtype: Literal["float32", "bfloat16", "float16"] = option(
        "float32", help="weight dtype of the encoder; outputs are float32 either way"
    )
    cache: bool = option(True, help="keep each caption's output in memory (the model is frozen)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"max_tokens": 32}}

    def __post_init__(self) -> None:
        _check_common(self.max_tokens, self.dtype)
        if self.max_tokens < 2:
            raise ValueError(f"max_tokens must be at least 2 (start, end), got {self.max_tokens}")

    def build(
        self, captions: list[str] | None = None, run_dir: Path | None = None
    ) -> CLIPTextEncoder:
        """The frozen text tower of the checkpoint in ``path``; ``captions``, ``run_dir`` unused.

        Raises:
            MotionkitError: no usable folder at ``path``, or transformers is missing.
        """
        folder = resolve_model_dir(
            self.path,
            encoder="clip",
            model_types=("clip", "clip_text_model"),
            how_to_get=CLIP_HOW_TO_GET,
        )
        from motionkit.text.hf import load_clip

        return load_clip(
            folder,
            max_tokens=self.max_tokens,
            projection=self.projection,
            dtype=self.dtype,
            cache=self.cache,
        )
