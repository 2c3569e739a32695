"""Parallelism, applied from outside the model: one process, DDP, or FSDP2 under `torchrun`.

The only module that imports `torch.distributed`. A `Parallel` says which rank this is, wraps a model for the
chosen strategy, averages numbers across ranks, and gathers full state dicts for checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class Parallel:
    """This process's place in the run: rank, world size, device, and the sharding strategy."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    strategy: str = "single"  # single | ddp | fsdp

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as the strategy trains it (DDP wrapper, FSDP2-sharded in place, or as is)."""
        model.to(self.device)
        if not self.distributed:
            return model
        if self.strategy == "fsdp":
            from torch.distributed.fsdp import fully_shard

            for block in getattr(model, "blocks", []):
                fully_shard(block)  # shard per transformer block: all-gathers overlap the previous block
            fully_shard(model)
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over ranks (a copy; the input is untouched)."""
        out = value.detach().clone()
        if self.distributed:
            dist.all_reduce(out, op=dist.ReduceOp.SUM)
            out /= self.world_size
        return out

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's value of a picklable object, on every rank."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    @property
    def sharded(self) -> bool:
        return self.strategy == "fsdp" and self.distributed

    def full_state_dict(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The unsharded, unwrapped state dict on every rank, as CPU copies: on a CPU `.cpu()` alone would return
        the parameters themselves, which change as training goes on (and did under `ema_state_dict`'s swap)."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
            return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
        return {k: v.detach().to("cpu", copy=True) for k, v in unwrap(model).state_dict().items()}

    def load_full_state_dict(self, model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
        """Load an unsharded state dict into the (possibly sharded or wrapped) model."""
        if self.strategy == "fsdp" and self.distributed:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

            set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True))
            return
        unwrap(model).load_state_dict(state)

    def optimizer_state(self, model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer's state, unsharded (every rank takes part under FSDP)."""
        if self.strategy == "fsdp" and self.distributed:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
            return get_optimizer_state_dict(model, opt, options=opts)
        return opt.state_dict()

    def load_optimizer_state(self, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        """Load an unsharded optimizer state saved by `optimizer_state`."""
        if self.strategy == "fsdp" and self.distributed:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(model, opt, state, options=StateDictOptions(full_state_dict=True))
            return
        opt.load_state_dict(state)

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """A CPU copy of the whole tensor (gathered from shards when `t` is an FSDP2 DTensor)."""
    return (t.full_tensor() if hasattr(t, "full_tensor") else t).detach().cpu()


def load_full_tensor(target: torch.Tensor, full: torch.Tensor) -> None:
    """Copy a whole tensor into `target`, keeping only this rank's shard when `target` is a DTensor."""
    if hasattr(target, "device_mesh"):
        from torch.distributed.tensor import distribute_tensor

        full = distribute_tensor(full.to(target.device), target.device_mesh, target.placements)
    target.copy_(full)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP wrapper (FSDP2 shards in place, so it is its own module)."""
    return getattr(model, "module", model)


def from_environment(strategy: str = "ddp") -> Parallel:
    """The process group `torchrun` describes in the environment, or a single process without it.

    gloo on CPUs, NCCL on GPUs; DDP or FSDP2 on either (FSDP2 on CPUs is for tests: it proves sharded
    training and checkpoints without a GPU).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if world == 1:
        return Parallel(device=device)
    if cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if strategy not in ("ddp", "fsdp"):
        raise ValueError(f"strategy {strategy!r}: use ddp or fsdp")
    return Parallel(rank, world, local, device, strategy)
