"""Two CPU processes (gloo) train the toy problem under DDP: same weights on both ranks, equal
to one process training on both ranks' batches together, only rank 0 writes checkpoints, and
phases with frozen parameters keep the ranks in step."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.trainer_toys import ToyModel, make_toy_trainer, toy_objective, weights
from train.loop.checkpointing import load_model_state, read_trainer_meta
from train.loop.optim import OptimizerConfig
from train.loop.schedule import Phase, PhasedRun
from train.loop.sources import IndexedBatches
from train.loop.trainer import TrainerConfig

STEPS = 12
BATCH_PER_RANK = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    try:
        trainer = make_toy_trainer(Path(out_dir) / "ckpt", max_steps=STEPS, rank=rank, world_size=world_size,
                                   batch_size=BATCH_PER_RANK, dropout=0.0, optimizer="sgd", lr=0.1)
        assert trainer.dist.world_size == world_size and trainer.dist.rank == rank
        for _ in trainer.steps():
            pass
        torch.save(weights(trainer), Path(out_dir) / f"rank{rank}.pt")

        # two phases, the second training only the last layer (frozen parameters under DDP)
        run = make_phased_run(Path(out_dir) / "phased", rank, world_size)
        for _ in run.steps():
            pass
        torch.save(weights_of(run.model), Path(out_dir) / f"phased_rank{rank}.pt")
        dist_ctx = trainer.dist
        del trainer, run  # DDP-wrapped models go before the process group
        dist_ctx.shutdown()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_train_as_one_big_batch(tmp_path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), f"{key} differs between ranks"

    # One process on the concatenation of both ranks' batches takes the same SGD steps
    # (DDP averages the two ranks' gradients of equal-sized batch means).
    single = make_toy_trainer(max_steps=STEPS, batch_size=2 * BATCH_PER_RANK, dropout=0.0, optimizer="sgd", lr=0.1)
    shards = IndexedBatches(lambda k: _toy(k), rank=0, world_size=1)
    single.data_source = single.data = _pairs(shards)
    for _ in single.steps():
        pass
    for key, value in weights(single).items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-5, atol=1e-6)

    phased0 = torch.load(tmp_path / "phased_rank0.pt")
    phased1 = torch.load(tmp_path / "phased_rank1.pt")
    for key in phased0:
        assert torch.equal(phased0[key], phased1[key]), f"{key} differs between ranks after two phases"
    assert torch.equal(phased0["net.0.weight"], phased_first_layer(tmp_path))

    meta = read_trainer_meta(tmp_path / "ckpt" / "last.safetensors")
    assert meta["world_size"] == 2 and meta["step"] == STEPS
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["last.safetensors"]


def make_phased_run(run_dir: Path, rank: int, world_size: int) -> PhasedRun:
    torch.manual_seed(7)
    model = ToyModel(dropout=0.0)
    phases = [
        Phase("all", 4, toy_objective, lambda: IndexedBatches(_toy, rank, world_size),
              lambda m, lr: [{"params": list(m.parameters()), "lr": lr}]),
        Phase("last", 4, toy_objective, lambda: IndexedBatches(_toy, rank, world_size),
              lambda m, lr: [{"params": list(m.net[-1].parameters()), "lr": lr}]),
    ]
    return PhasedRun(model, phases, OptimizerConfig(lr=1e-2, warmup_steps=0),
                     TrainerConfig(log_every=2, checkpoint_every=0), run_dir)


def phased_first_layer(tmp_path: Path) -> torch.Tensor:
    """The first layer as the first phase left it (rank 0 wrote that phase's checkpoint)."""
    return load_model_state(tmp_path / "phased" / "checkpoints" / "all" / "last.safetensors")["net.0.weight"]


def weights_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _toy(index: int) -> tuple[torch.Tensor, torch.Tensor]:
    from tests.trainer_toys import toy_batch

    return toy_batch(index, BATCH_PER_RANK)


def _pairs(source: IndexedBatches):
    """Batches k*2 and k*2+1 (what ranks 0 and 1 see at step k), concatenated."""
    while True:
        (x0, y0), (x1, y1) = next(source), next(source)
        yield torch.cat([x0, x1]), torch.cat([y0, y1])
