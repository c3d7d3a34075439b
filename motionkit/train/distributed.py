"""Data-parallel training across processes (``torchrun``), used by ``train.loop.fit``.

``torchrun --nproc-per-node N -m motionkit train ...`` starts N copies of the command with
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set; ``setup`` joins them into one process group
(gloo on CPU, NCCL on GPU, one GPU per process). Every rank draws the same global batch from the
same seeded sampler and keeps its contiguous slice (``shard``), so the data order, the sampler
state in checkpoints and the result do not depend on the number of processes: a run trained on
two processes equals one trained on one with the same ``--batch-size`` (the global batch), and a
checkpoint of either resumes on the other. Only rank 0 writes (run folder, metrics,
checkpoints) and shows progress.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from motionkit.errors import MotionkitError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise MotionkitError(f"environment variable {name}={value!r} is not an integer") from None


def world() -> World:
    """The world as the launcher (torchrun, SLURM via torchrun) described it in the environment."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return World(
            torch.distributed.get_rank(),
            torch.distributed.get_world_size(),
            _env_int("LOCAL_RANK", 0),
        )
    return World(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))


def setup(device: str) -> World:
    """Join the process group when started by torchrun (a no-op for one process).

    ``device`` is the training option (auto, cpu, cuda): NCCL with one GPU per process
    (``LOCAL_RANK``) when CUDA is used, else gloo.
    """
    here = world()
    if not here.distributed or torch.distributed.is_initialized():
        return here
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise MotionkitError(
                f"WORLD_SIZE={here.size} but {name} is not set; start distributed runs with "
                "torchrun --nproc-per-node N -m motionkit train ..."
            )
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(here.local_rank)
    torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")
    return world()


def device_for(device: torch.device) -> torch.device:
    """One GPU per process: ``cuda`` becomes ``cuda:LOCAL_RANK`` in a distributed run."""
    if device.type == "cuda" and device.index is None and world().distributed:
        return torch.device("cuda", world().local_rank)
    return device


def barrier() -> None:
    if world().distributed:
        torch.distributed.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (writing what it writes: token exports, vocabularies), then
    the other ranks run it and find the files ready."""
    here = world()
    if here.distributed and not here.main:
        torch.distributed.barrier()
    yield
    if here.distributed and here.main:
        torch.distributed.barrier()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any (e.g. a stop signal seen by one)."""
    if not world().distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item() > 0)


def total(count: float, device: torch.device) -> float:
    """The sum of ``count`` over ranks."""
    if not world().distributed:
        return count
    value = torch.tensor([float(count)], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(value)
    return float(value.item())


def shard(batch: Any, rank: int, size: int) -> Any:
    """Rank ``rank``'s contiguous slice (of ``size``) of a batch: tensors and lists are cut along
    their first dimension, dicts and tuples recursively, anything else is kept whole."""
    if size == 1:
        return batch
    if isinstance(batch, torch.Tensor | list):
        rows = len(batch)
        if rows % size:
            raise MotionkitError(
                f"a batch of {rows} does not split over {size} processes; choose a --batch-size "
                f"divisible by {size}"
            )
        part = rows // size
        return batch[rank * part : (rank + 1) * part]
    if isinstance(batch, dict):
        return {k: shard(v, rank, size) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return tuple(shard(v, rank, size) for v in batch)
    return batch


# --------------------------------------------------------------------------- FSDP (--fsdp)


def fully_shard_model(model: torch.nn.Module) -> None:
    """Shard ``model`` over the ranks with FSDP2 (``torch.distributed.fsdp.fully_shard``).

    Each attention and feed-forward block is its own unit (gathered just before its forward and
    freed after it), so is a trainable text encoder (the generator calls it outside its own
    forward), and the root holds the rest. Units are applied bottom-up, as FSDP2 requires.
    """
    from torch.distributed.fsdp import fully_shard

    def trainable(module: torch.nn.Module) -> bool:
        return any(p.requires_grad for p in module.parameters())

    text_encoder = getattr(model, "text_encoder", None)
    for module in reversed(list(model.modules())):
        if module is model or not trainable(module):
            continue
        kind = type(module).__name__
        if module is text_encoder or "Attention" in kind or "FeedForward" in kind:
            fully_shard(module)
    fully_shard(model)


def _fsdp_options() -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True)


def _trainable_names(model: torch.nn.Module) -> list[str]:
    return [name for name, p in model.named_parameters() if p.requires_grad]


def full_states(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Whole (unsharded, on the CPU) model and optimiser states of an FSDP model, the latter in
    ``optimizer.state_dict()``'s layout (parameters numbered in order), so that the checkpoint
    is the same whether it was written with or without FSDP. A collective: every rank calls it."""
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    weights = get_model_state_dict(model, options=_fsdp_options())
    named = get_optimizer_state_dict(model, optimizer, options=_fsdp_options())
    if "state" not in named:  # ranks other than 0 receive nothing with cpu_offload
        return weights, {}
    index = {name: i for i, name in enumerate(_trainable_names(model))}
    state = {index[name]: values for name, values in named["state"].items()}
    groups = [{**g, "params": [index[n] for n in g["params"]]} for g in named["param_groups"]]
    return weights, {"state": state, "param_groups": groups}


def load_full_optimizer_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Load a checkpoint's optimiser state (numbered layout) into the optimiser of a sharded
    model; every rank reads the whole state and keeps its shard."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    names = _trainable_names(model)
    named = {
        "state": {names[int(i)]: values for i, values in state["state"].items()},
        "param_groups": [
            {**g, "params": [names[int(i)] for i in g["params"]]} for g in state["param_groups"]
        ],
    }
    set_optimizer_state_dict(
        model, optimizer, named, options=StateDictOptions(full_state_dict=True)
    )


def shutdown() -> None:
    """Leave the process group (a process that exits while gloo's threads still run aborts)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
