"""Text encoders: captions -> per-token features, a mask and a pooled sentence vector.

Built in (``motionkit list text_encoders``): ``learned`` (default; a word vocabulary and a small
transformer trained with the generator), ``minilm`` (all-MiniLM-L6-v2, bundled with
``motionkit[text]``), ``t5`` (ScaMo's Flan-T5 encoder) and ``clip`` (T2M-GPT's CLIP text tower),
the last two from local folders. The contract is ``motionkit.text.base``; importing this package
and the config modules (``learned``, ``minilm``, ``pretrained``) is torch-free.
"""

from __future__ import annotations

from motionkit.text.base import TextEncoder, TextFeatures

__all__ = ["TextEncoder", "TextFeatures"]
