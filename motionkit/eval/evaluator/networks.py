"""Networks of the standard text-motion evaluator (Guo et al., CVPR 2022, "Generating Diverse and
Natural 3D Human Motions from Text"), laid out so that the official ``text_mot_match`` weights load
with ``load_state_dict(strict=True)``.

Three modules, named as in the official checkpoint:

``movement_encoder`` (official ``MovementConvEncoder``)
    ``main``: Conv1d(D-4 -> 512, k4 s2 p1), Dropout, LeakyReLU(0.2), Conv1d(512 -> 512, k4 s2 p1),
    Dropout, LeakyReLU(0.2); ``out_net``: Linear(512 -> 512). Normalised features without the 4
    foot-contact dims (259 HumanML3D, 247 KIT-ML); time shrinks by the unit length 4.
``motion_encoder`` (official ``MotionEncoderBiGRUCo``)
    ``input_emb``: Linear(512 -> 1024); ``gru``: bidirectional GRU(1024); ``output_net``:
    Linear(2048 -> 1024), LayerNorm, LeakyReLU(0.2), Linear(1024 -> 512); ``hidden``: the
    learned initial state ``(2, 1, 1024)``. Reads ``length // 4`` movement steps.
``text_encoder`` (official ``TextEncoderBiGRUCo``)
    ``pos_emb``: Linear(15 -> 300) added to the 300-d GloVe vector; ``input_emb``:
    Linear(300 -> 512); ``gru``: bidirectional GRU(512); ``output_net``: Linear(1024 -> 512),
    LayerNorm, LeakyReLU(0.2), Linear(512 -> 512); ``hidden``: ``(2, 1, 512)``.

Both GRUs read packed sequences, so only the first ``length`` steps count; the embedding is the
concatenated last forward and backward hidden states through ``output_net``.

Differences from the official wrapper (results are the same): outputs keep the input row order
(the official ``get_co_embeddings`` returns rows sorted by descending motion length), and the
batch need not be sorted by caption length. Motion padding follows the official evaluation, which
pads every motion with zeros to ``max_motion_length = 196`` frames: frames at and after ``length``
are ignored and each row is computed as if zero-padded to ``max(196, length)`` frames, so a row's
embedding does not depend on the rest of its batch or on how far it was padded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from motionkit.errors import MotionkitError

#: Feature dims the official movement encoder drops: the 4 foot contacts at the end.
CONTACT_DIMS = 4
#: Frames of motion per movement-encoder step (two stride-2 convolutions).
UNIT_LENGTH = 4
#: Every motion of the official evaluation is zero-padded to this many frames.
MAX_MOTION_LENGTH = 196
#: Slope of every LeakyReLU of the evaluator.
LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class EvaluatorDims:
    """Widths of the evaluator (defaults: the official HumanML3D one; ``feature_dim`` 251 KIT)."""

    feature_dim: int = 263
    dim_word: int = 300
    dim_pos_ohot: int = 15
    dim_text_hidden: int = 512
    dim_coemb_hidden: int = 512
    dim_movement_enc_hidden: int = 512
    dim_movement_latent: int = 512
    dim_motion_hidden: int = 1024

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_state_dicts(cls, state: dict[str, dict[str, torch.Tensor]]) -> EvaluatorDims:
        """Widths read off the official ``{movement,motion,text}_encoder`` state dicts."""
        try:
            conv = state["movement_encoder"]["main.0.weight"]
            return cls(
                feature_dim=int(conv.shape[1]) + CONTACT_DIMS,
                dim_word=int(state["text_encoder"]["pos_emb.weight"].shape[0]),
                dim_pos_ohot=int(state["text_encoder"]["pos_emb.weight"].shape[1]),
                dim_text_hidden=int(state["text_encoder"]["input_emb.weight"].shape[0]),
                dim_coemb_hidden=int(state["text_encoder"]["output_net.3.weight"].shape[0]),
                dim_movement_enc_hidden=int(conv.shape[0]),
                dim_movement_latent=int(state["movement_encoder"]["main.3.weight"].shape[0]),
                dim_motion_hidden=int(state["motion_encoder"]["input_emb.weight"].shape[0]),
            )
        except (KeyError, IndexError, AttributeError, TypeError) as exc:
            raise MotionkitError(
                f"not an evaluator state dict: cannot read its widths ({type(exc).__name__}: {exc})"
            ) from None


def _co_embedding_head(hidden: int, out: int) -> nn.Sequential:
    """``output_net``: Linear(2H -> H), LayerNorm(H), LeakyReLU(0.2), Linear(H -> out)."""
    return nn.Sequential(
        nn.Linear(2 * hidden, hidden),
        nn.LayerNorm(hidden),
        nn.LeakyReLU(LEAKY_SLOPE),
        nn.Linear(hidden, out),
    )


class MovementEncoder(nn.Module):
    """Official ``MovementConvEncoder``: ``(B, T, D-4)`` -> ``(B, T // 4, latent)``."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv1d(input_size, hidden_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(LEAKY_SLOPE),
        )
        self.out_net = nn.Linear(output_size, output_size)

    def forward(self, x: torch.Tensor, padded_frames: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(B, T, D-4)``. ``padded_frames`` (``(B,)``, optional): the number of frames
        each row would have in the official zero-padded batch; first-layer outputs past
        ``padded_frames // 2`` are zeroed, as the second convolution's padding would be there."""
        h = self.main[0:3](x.transpose(1, 2))
        if padded_frames is not None:
            steps = torch.arange(h.shape[-1], device=h.device)
            keep = steps[None, :] < (padded_frames.to(h.device) // 2)[:, None]
            h = h * keep[:, None, :].to(h.dtype)
        h = self.main[3:6](h)
        return self.out_net(h.transpose(1, 2))


class _BiGRUCoEncoder(nn.Module):
    """Shared part of the two co-embedding encoders: packed BiGRU from a learned initial state."""

    hidden: nn.Parameter
    gru: nn.GRU
    output_net: nn.Sequential

    def _encode(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch = inputs.shape[0]
        packed = pack_padded_sequence(
            inputs, lengths.detach().cpu().long(), batch_first=True, enforce_sorted=False
        )
        start = self.hidden.expand(-1, batch, -1).contiguous()
        _, last = self.gru(packed, start)  # (2, B, H): last forward and backward states
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class MotionEncoder(_BiGRUCoEncoder):
    """Official ``MotionEncoderBiGRUCo``: movements ``(B, S, latent)`` + steps -> ``(B, out)``."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.input_emb = nn.Linear(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = _co_embedding_head(hidden_size, output_size)
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_size))

    def forward(self, movements: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        return self._encode(self.input_emb(movements), steps)


class TextEncoder(_BiGRUCoEncoder):
    """Official ``TextEncoderBiGRUCo``: word vectors + POS one-hots + lengths -> ``(B, out)``."""

    def __init__(self, word_size: int, pos_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.pos_emb = nn.Linear(pos_size, word_size)
        self.input_emb = nn.Linear(word_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = _co_embedding_head(hidden_size, output_size)
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_size))

    def forward(
        self, word_embs: torch.Tensor, pos_ohot: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        return self._encode(self.input_emb(word_embs + self.pos_emb(pos_ohot)), lengths)


def _as_float(x: torch.Tensor | np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(
        device=device, dtype=torch.float32
    )


def _as_lengths(
    lengths: torch.Tensor | np.ndarray | list[int], batch: int, what: str
) -> torch.Tensor:
    out = torch.as_tensor(np.asarray(lengths) if not isinstance(lengths, torch.Tensor) else lengths)
    if out.ndim != 1 or out.shape[0] != batch or out.dtype.is_floating_point or out.is_complex():
        raise MotionkitError(
            f"{what} lengths must be {batch} integers (one per row), got shape "
            f"{tuple(out.shape)} of {out.dtype}"
        )
    return out.detach().cpu().long()


class EvaluatorNetworks(nn.Module):
    """The three evaluator networks; ``state_dict`` keys are ``<official module>.<official key>``.

    Always in eval mode (dropout off). ``embed_text`` and ``embed_motion`` run without gradients and
    return ``(B, dim_coemb_hidden)`` float32 tensors in the input row order.
    """

    def __init__(self, dims: EvaluatorDims | None = None) -> None:
        super().__init__()
        self.dims = dims = dims or EvaluatorDims()
        if dims.feature_dim <= CONTACT_DIMS:
            raise MotionkitError(f"feature_dim must exceed {CONTACT_DIMS}, got {dims.feature_dim}")
        self.movement_encoder = MovementEncoder(
            dims.feature_dim - CONTACT_DIMS, dims.dim_movement_enc_hidden, dims.dim_movement_latent
        )
        self.text_encoder = TextEncoder(
            dims.dim_word, dims.dim_pos_ohot, dims.dim_text_hidden, dims.dim_coemb_hidden
        )
        self.motion_encoder = MotionEncoder(
            dims.dim_movement_latent, dims.dim_motion_hidden, dims.dim_coemb_hidden
        )
        self.eval()

    def train(self, mode: bool = True) -> EvaluatorNetworks:
        """Stays in eval mode: these are frozen, pretrained scoring networks."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.text_encoder.hidden.device

    def load_official(self, state: dict[str, dict[str, torch.Tensor]], where: str) -> None:
        """Strictly load ``{"movement_encoder": sd, "text_encoder": sd, "motion_encoder": sd}``."""
        for name in ("movement_encoder", "text_encoder", "motion_encoder"):
            module: nn.Module = getattr(self, name)
            try:
                module.load_state_dict(state[name], strict=True)
            except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
                first = str(exc).strip().splitlines()
                detail = " ".join(line.strip() for line in first[:3]) if first else repr(exc)
                raise MotionkitError(
                    f"{where}: {name} weights do not match the official evaluator layout: "
                    f"{detail[:400]}"
                ) from None

    @torch.no_grad()
    def embed_text(
        self,
        word_embs: torch.Tensor | np.ndarray,
        pos_ohot: torch.Tensor | np.ndarray,
        lengths: torch.Tensor | np.ndarray | list[int],
    ) -> torch.Tensor:
        """``word_embs (B, L, 300)``, ``pos_ohot (B, L, 15)``, ``lengths (B,)`` (sos..eos
        inclusive, 1 <= length <= L) -> ``(B, 512)``; tokens past ``length`` are ignored."""
        d = self.dims
        words, pos = _as_float(word_embs, self.device), _as_float(pos_ohot, self.device)
        if words.ndim != 3 or words.shape[-1] != d.dim_word:
            raise MotionkitError(
                f"word_embs must be (B, L, {d.dim_word}), got shape {tuple(words.shape)}"
            )
        if pos.shape != (*words.shape[:2], d.dim_pos_ohot):
            raise MotionkitError(
                f"pos_ohot must be (B, L, {d.dim_pos_ohot}) = {(*words.shape[:2], d.dim_pos_ohot)},"
                f" got shape {tuple(pos.shape)}"
            )
        lens = _as_lengths(lengths, words.shape[0], "caption")
        if len(lens) and (int(lens.min()) < 1 or int(lens.max()) > words.shape[1]):
            raise MotionkitError(
                f"caption lengths must be in 1..{words.shape[1]} (the padded token count), got "
                f"{int(lens.min())}..{int(lens.max())}"
            )
        if words.shape[0] == 0:
            return torch.zeros(0, d.dim_coemb_hidden, device=self.device)
        return self.text_encoder(words, pos, lens)

    @torch.no_grad()
    def embed_motion(
        self,
        motions: torch.Tensor | np.ndarray,
        lengths: torch.Tensor | np.ndarray | list[int],
    ) -> torch.Tensor:
        """``motions (B, T, D)``: features normalised with the evaluator's mean/std, all ``D``
        dims (263 / 251, contacts included: the encoder drops the last 4); ``lengths (B,)`` in
        frames, ``4 <= length <= T``. -> ``(B, 512)``; the GRU reads ``length // 4`` steps."""
        d = self.dims
        x = _as_float(motions, self.device)
        if x.ndim != 3 or x.shape[-1] != d.feature_dim:
            raise MotionkitError(
                f"this evaluator scores {d.feature_dim}-d features; got motions of shape "
                f"{tuple(x.shape)} (expected (B, T, {d.feature_dim}), normalised with the "
                "evaluator's mean/std)"
            )
        lens = _as_lengths(lengths, x.shape[0], "motion")
        if x.shape[0] == 0:
            return torch.zeros(0, d.dim_coemb_hidden, device=self.device)
        if int(lens.min()) < UNIT_LENGTH or int(lens.max()) > x.shape[1]:
            raise MotionkitError(
                f"motion lengths must be in {UNIT_LENGTH}..{x.shape[1]} frames (the padded "
                f"length), got {int(lens.min())}..{int(lens.max())}"
            )
        # zero every frame from `length` on and pad to the official 196 frames (or the longest)
        used = int(lens.max())
        valid = (torch.arange(used)[None, :] < lens[:, None]).to(self.device)[..., None]
        kept = x[:, :used, : d.feature_dim - CONTACT_DIMS]
        if not torch.isfinite(kept).logical_or(~valid).all():
            raise MotionkitError("motions contain NaN or infinite values within their lengths")
        padded = torch.clamp(lens, min=MAX_MOTION_LENGTH)
        body = kept.new_zeros(x.shape[0], int(padded.max()), kept.shape[-1])
        body[:, :used] = torch.where(valid, kept, torch.zeros((), device=self.device))
        movements = self.movement_encoder(body, padded)
        return self.motion_encoder(movements, lens // UNIT_LENGTH)
