"""The ``learned`` text encoder config: a word vocabulary plus a small transformer encoder.

Nothing to download: the vocabulary is built from the training captions (``motionkit.text.vocab``)
and saved with the run as ``text_vocab.json``; the encoder (token embedding + learned or sinusoidal
positions + a pre-norm ``torch.nn.TransformerEncoder``) is trained together with the generator.
``pooled`` is the output at the CLS position (the first token of every caption).

Torch-free at import; ``LearnedTextConfig.build`` imports ``motionkit.text.learned_model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from motionkit.config.fields import option
from motionkit.registry import text_encoders

if TYPE_CHECKING:
    from motionkit.text.learned_model import LearnedTextEncoder


@text_encoders.register("learned")
@dataclass(frozen=True)
class LearnedTextConfig:
    """Word vocabulary from the training captions + a small transformer trained with the model."""

    dim: int = option(256, help="width d of the token features and the pooled vector")
    layers: int = option(3, help="transformer encoder layers")
    heads: int = option(4, help="attention heads (must divide dim)")
    ff_mult: int = option(4, help="feed-forward width as a multiple of dim")
    dropout: float = option(0.1, help="dropout inside the transformer layers")
    max_tokens: int = option(128, help="longest caption in tokens, CLS included; longer is cut")
    positions: Literal["learned", "sinusoidal"] = option(
        "learned", help="position embedding: learned table or fixed sinusoids"
    )
    min_count: int = option(2, help="words seen fewer times in the training captions become UNK")
    max_vocab: int = option(10000, help="the most vocabulary entries, 3 special tokens included")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "dim": 32,
            "layers": 1,
            "heads": 2,
            "ff_mult": 2,
            "dropout": 0.0,
            "max_tokens": 32,
            "min_count": 1,
            "max_vocab": 1000,
        },
    }

    def __post_init__(self) -> None:
        for name in ("dim", "layers", "heads", "ff_mult", "min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide dim ({self.dim})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.max_vocab < 4:
            raise ValueError(f"max_vocab must be at least 4 (3 are special), got {self.max_vocab}")

    def build(
        self, captions: list[str] | None = None, run_dir: Path | None = None
    ) -> LearnedTextEncoder:
        """The encoder with the run's vocabulary (see ``motionkit.text.vocab.vocab_for_run``).

        Args:
            captions: the training captions; used when ``run_dir`` holds no ``text_vocab.json``.
            run_dir: the run folder: its vocabulary is loaded, or the new one is written there.

        Raises:
            MotionkitError: neither a vocabulary file nor captions, or an unreadable file.
        """
        from motionkit.text.learned_model import LearnedTextEncoder
        from motionkit.text.vocab import vocab_for_run

        vocab = vocab_for_run(captions, run_dir, min_count=self.min_count, max_size=self.max_vocab)
        return LearnedTextEncoder(
            vocab,
            dim=self.dim,
            layers=self.layers,
            heads=self.heads,
            ff_mult=self.ff_mult,
            dropout=self.dropout,
            max_tokens=self.max_tokens,
            positions=self.positions,
        )
