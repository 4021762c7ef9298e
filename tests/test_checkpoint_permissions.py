"""Checkpoints are created with the permissions of any other file (mode 0o666 less the umask)."""
from __future__ import annotations

import os
import stat

import pytest
import torch

from core.checkpoint import CheckpointMeta, save_checkpoint

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_saved_checkpoint_has_the_mode_the_umask_allows(tmp_path, umask, mode):
    path = tmp_path / "run" / "last.safetensors"
    previous = os.umask(umask)
    try:
        save_checkpoint(path, {"w": torch.zeros(2)}, CheckpointMeta(kind="test", config={}))
        save_checkpoint(path, {"w": torch.ones(2)}, CheckpointMeta(kind="test", config={}))  # replacing keeps it
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert [p.name for p in path.parent.iterdir()] == ["last.safetensors"]  # no temporary file left behind
