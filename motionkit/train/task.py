"""The small protocol a training stage implements so that one loop (``train.loop.fit``) drives it.

A task owns its model, its data and its loss; the loop owns the optimiser, the schedule, gradient
clipping and accumulation, logging, validation timing, checkpoints and resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch


class Task(Protocol):
    """One training stage as the loop sees it.

    Attributes:
        label: shown on the progress bar (``"training tokenizer"``).
        unit: what ``count`` counts, for the logged throughput (``"frames"``, ``"tokens"``).
        model: the module whose trainable parameters are optimised and checkpointed.
        device: where batches and the model live.
    """

    label: str
    unit: str
    model: torch.nn.Module
    device: torch.device

    # Optional: ``best_metric = ("lu", "min")`` names the validation metric whose best value
    # keeps its checkpoint (RUN/checkpoints/best.safetensors); ``distributable = False`` refuses
    # torchrun (a loss that couples the whole batch); ``units(batch)`` is how many units the
    # loss averages over, weighting the ranks of a distributed step (default: equal shares).

    def next_batch(self) -> Any:
        """The next training batch, drawn from the task's own seeded sampler."""
        ...

    def count(self, batch: Any) -> int:
        """How many ``unit`` the batch holds (for ``<unit>_per_s`` in the log)."""
        ...

    def loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """Scalar loss to minimise and its logged parts (detached floats)."""
        ...

    def validate(self) -> dict[str, float]:
        """Validation metrics (the model is put back in training mode by the loop)."""
        ...

    def before_training(self) -> None:
        """Run once before step 0 of a new run (e.g. initialise codebooks from data)."""
        ...

    def sampler_state(self) -> dict[str, Any]:
        """JSON-serialisable state of the data sampler, saved with each checkpoint."""
        ...

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        """Restore ``sampler_state`` on resume so the data order continues exactly."""
        ...


class SeededSampling:
    """Mixin for tasks that draw every batch from ``self.rng`` (a NumPy ``Generator``): its state
    is the sampler state saved with checkpoints, and there is nothing to do before training."""

    rng: Any

    def before_training(self) -> None:
        return None

    def sampler_state(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
