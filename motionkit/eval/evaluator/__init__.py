"""The standard HumanML3D / KIT-ML text-motion evaluator (Guo et al., CVPR 2022), loaded safely.

* ``networks``: the movement, motion and text encoders in the official state-dict layout.
* ``words``: caption processing (sos/eos/unk padding to 22, GloVe + 15-class POS one-hots) and
  ``tag_caption`` for free text.
* ``official``: ``load_evaluator`` (official folder, ``finest.tar`` or converted folder) and
  ``convert_official`` (safetensors + JSON), reading no code from the files.
* ``safe_pickle``: the unpickler that resolves no globals, used for the GloVe word lists.
"""

from motionkit.eval.evaluator.networks import (
    CONTACT_DIMS,
    MAX_MOTION_LENGTH,
    UNIT_LENGTH,
    EvaluatorDims,
    EvaluatorNetworks,
)
from motionkit.eval.evaluator.official import (
    OfficialEvaluator,
    convert_official,
    load_evaluator,
    read_glove,
    read_official_checkpoint,
)
from motionkit.eval.evaluator.safe_pickle import PlainDataUnpickler, load_plain_pickle
from motionkit.eval.evaluator.words import (
    CAPTION_TOKENS,
    MAX_WORDS,
    POS_CLASSES,
    VIP_WORDS,
    CaptionBatch,
    TaggedCaption,
    WordVectorizer,
    pad_caption,
    tag_caption,
    tokens_from_line,
)

__all__ = [
    "CAPTION_TOKENS",
    "CONTACT_DIMS",
    "MAX_MOTION_LENGTH",
    "MAX_WORDS",
    "POS_CLASSES",
    "UNIT_LENGTH",
    "VIP_WORDS",
    "CaptionBatch",
    "EvaluatorDims",
    "EvaluatorNetworks",
    "OfficialEvaluator",
    "PlainDataUnpickler",
    "TaggedCaption",
    "WordVectorizer",
    "convert_official",
    "load_evaluator",
    "load_plain_pickle",
    "pad_caption",
    "read_glove",
    "read_official_checkpoint",
    "tag_caption",
    "tokens_from_line",
]
