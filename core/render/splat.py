"""Z-buffered point splatting: ONE ``scatter_reduce('amin')`` on int64 keys per batch.

Each kept point covers an n x n patch of (supersampled) pixels, n from its projected spacing,
so close-ups have no holes. The key ``(depth << 32) | point`` makes the minimum both the
nearest depth and the winning point's index. A final (2r+1)^2 minimum filter on depth
(``fill_radius`` r) grows every splat by r pixels in image space, which is far cheaper than
larger patches per point; patches are sized to need it (see ``HandRenderer``).

The buffer carries a margin of ``max_size`` pixels on every side, and patches are clamped into
it, so off-image points need no masks: candidate pixels are one add per patch offset.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

_DEPTH_SCALE = 32.0  # depth quantum 1/32 mm
_NO_HIT = torch.iinfo(torch.int64).max
_LOW_MASK = (1 << 32) - 1


@dataclass
class SplatResult:
    """Winner per supersampled pixel."""

    winner: torch.Tensor    # (B, Hs, Ws) int64 index into the packed points, -1 where empty
    depth: torch.Tensor     # (B, Hs, Ws) float32 mm of the nearest point, +inf where empty
    covered: torch.Tensor   # (B, Hs, Ws) bool


def splat_points(
    u: torch.Tensor,
    v: torch.Tensor,
    depth: torch.Tensor,
    batch_index: torch.Tensor,
    size_px: torch.Tensor,
    batch: int,
    height: int,
    width: int,
    max_size: int,
    fill_radius: int = 1,
) -> SplatResult:
    """Splat K packed points into B depth buffers of height x width.

    u, v: (K,) float pixel coordinates (centres at integers); depth: (K,) mm > 0;
    batch_index: (K,) int64; size_px: (K,) int64 patch side in [1, max_size].
    """
    k = u.shape[0]
    device = u.device
    pad = max_size
    hp, wp = height + 2 * pad, width + 2 * pad
    keys = (depth * _DEPTH_SCALE).to(torch.int64).clamp(0, (1 << 30)) << 32
    keys = keys | torch.arange(k, device=device, dtype=torch.int64)
    base = batch_index * (hp * wp)

    pixel_chunks, key_chunks = [], []
    counts = torch.bincount(size_px, minlength=max_size + 1).tolist() if k else []
    for n, count in enumerate(counts):
        if n == 0 or count == 0:
            continue
        # One index_select per patch size, then one broadcast add for all n*n offsets.
        idx = torch.nonzero(size_px == n).squeeze(1) if count < k else None
        gu, gv, gb, gk = (u, v, base, keys) if idx is None else (
            u.index_select(0, idx), v.index_select(0, idx), base.index_select(0, idx), keys.index_select(0, idx))
        x0 = (torch.floor(gu - (n - 1) * 0.5 + 0.5) + pad).clamp(0, wp - n).to(torch.int64)
        y0 = (torch.floor(gv - (n - 1) * 0.5 + 0.5) + pad).clamp(0, hp - n).to(torch.int64)
        start = gb + y0 * wp + x0
        if n == 1:
            pixel_chunks.append(start)
            key_chunks.append(gk)
            continue
        steps = torch.arange(n, device=device, dtype=torch.int64)
        offsets = (steps[:, None] * wp + steps[None, :]).reshape(-1)  # (n*n,)
        pixel_chunks.append((start[:, None] + offsets[None, :]).reshape(-1))
        key_chunks.append(gk[:, None].expand(-1, n * n).reshape(-1))
    buffer = torch.full((batch * hp * wp,), _NO_HIT, dtype=torch.int64, device=device)
    if pixel_chunks:
        buffer.scatter_reduce_(0, torch.cat(pixel_chunks), torch.cat(key_chunks), reduce="amin", include_self=True)
    buffer = buffer.view(batch, hp, wp)[:, pad : pad + height, pad : pad + width]
    hit = buffer != _NO_HIT
    depth_map = torch.where(hit, (buffer >> 32).to(torch.float32) / _DEPTH_SCALE, torch.tensor(float("inf"), device=device))
    winner = torch.where(hit, buffer & _LOW_MASK, torch.full_like(buffer, -1))
    if fill_radius > 0:
        window = 2 * fill_radius + 1
        neg, where = F.max_pool2d(-depth_map[:, None], window, stride=1, padding=fill_radius, return_indices=True)
        depth_map = -neg[:, 0]
        winner = winner.reshape(batch, -1).gather(1, where.reshape(batch, -1)).view(batch, height, width)
    covered = torch.isfinite(depth_map)
    winner = torch.where(covered, winner, torch.full_like(winner, -1))
    return SplatResult(winner=winner, depth=depth_map, covered=covered)
