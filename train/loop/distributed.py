"""Several processes (GPUs or nodes) under ``torchrun``: process-group setup from env vars.

``torchrun --nproc_per_node=N -m train.fit ...`` sets RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT; ``DistContext.from_env()`` joins the group when WORLD_SIZE > 1
(NCCL on CUDA, gloo on CPU) and is a no-op single-process context otherwise.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job. ``rank 0`` writes logs and checkpoints."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls, device: str = "cpu") -> "DistContext":
        """Read torchrun's env vars; join the process group if WORLD_SIZE > 1 and not yet joined."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(local_rank)
            dist.init_process_group(backend=backend)
        return cls(rank=rank, local_rank=local_rank, world_size=world_size)

    def device(self, device: str) -> torch.device:
        """``"cuda"`` becomes this process's GPU (``cuda:LOCAL_RANK``); others pass through."""
        if device == "cuda" and self.enabled:
            return torch.device("cuda", self.local_rank)
        return torch.device(device)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def shutdown(self) -> None:
        """Leave the process group cleanly; call after the DDP-wrapped objects are deleted.

        A gloo worker thread releases each finished collective's tensors, which needs the GIL.
        If the process group is torn down implicitly (the DDP reducer holding its last reference
        is garbage collected), its destructor joins those threads while holding the GIL, which
        deadlocks. A barrier first lets every pending release finish.
        """
        if self.enabled and dist.is_initialized():
            dist.barrier()
            gc.collect()
            dist.destroy_process_group()

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (a picklable value, e.g. RNG state tensors), in rank order."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def mean_over_ranks(self, values: torch.Tensor) -> torch.Tensor:
        """Average a tensor over ranks (for logging losses; not used for gradients)."""
        if not self.enabled:
            return values
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values / self.world_size
