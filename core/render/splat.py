"""Z-buffered point splatting: ONE ``scatter_reduce('amin')`` on int64 keys per batch.

Each kept point covers an n x n patch of (supersampled) pixels, n from its projected spacing,
so close-ups have no holes. The key ``(depth << 32) | point`` makes the minimum both the
nearest depth and the winning point's index. Resolving then applies a (2r+1)^2 minimum filter
(``fill_radius`` r), which grows every splat by r pixels in image space (far cheaper than larger
patches per point; patches are sized to need it, see ``HandRenderer``), and reduces the
supersamples: coverage is the share of filled supersamples, colour comes from the nearest
point among them (one pooling pass of (s + 2r)^2 windows).

The buffer carries a margin of ``max_size`` pixels on every side, and patches are clamped into
it, so off-image points need no masks: candidate pixels are one add per patch offset.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

_DEPTH_SCALE = 32.0  # depth quantum 1/32 mm
_NO_HIT = torch.iinfo(torch.int64).max
_LOW_MASK = (1 << 32) - 1


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
    workspace: Workspace | None = None,
) -> "ZBuffer":
    """Splat K packed points into B supersampled depth buffers of height x width.

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

    # Candidates go straight into two preallocated arrays (no concatenation copies).
    counts = torch.bincount(size_px, minlength=max_size + 1).tolist() if k else []
    total = sum(n * n * c for n, c in enumerate(counts))
    workspace = workspace or Workspace()
    pixels = workspace.get("pixels", total, torch.int64, device)
    candidate_keys = workspace.get("keys", total, torch.int64, device)
    at = 0
    for n, count in enumerate(counts):
        if n == 0 or count == 0:
            continue
        # One index_select per patch size, then one broadcast add for all n*n offsets.
        idx = torch.nonzero(size_px == n).squeeze(1) if count < k else None
        gu, gv, gb, gk = (u, v, base, keys) if idx is None else (
            u.index_select(0, idx), v.index_select(0, idx), base.index_select(0, idx), keys.index_select(0, idx))
        x0 = (torch.floor(gu - ((n - 1) * 0.5 - 0.5 - pad))).clamp_(0, wp - n).to(torch.int64)
        y0 = (torch.floor(gv - ((n - 1) * 0.5 - 0.5 - pad))).clamp_(0, hp - n).to(torch.int64)
        start = gb + y0 * wp + x0
        steps = torch.arange(n, device=device, dtype=torch.int64)
        offsets = (steps[:, None] * wp + steps[None, :]).reshape(-1)  # (n*n,)
        span = slice(at, at + count * n * n)
        pixels[span].view(count, n * n).copy_(start[:, None] + offsets[None, :])  # add(out=) is slow here
        candidate_keys[span].view(count, n * n).copy_(gk[:, None].expand(-1, n * n))
        at += count * n * n
    buffer = workspace.get("zbuffer", batch * hp * wp, torch.int64, device).fill_(_NO_HIT)
    if total:
        buffer.scatter_reduce_(0, pixels, candidate_keys, reduce="amin", include_self=True)
    return ZBuffer(buffer.view(batch, hp, wp), pad, height, width)


class Workspace:
    """Reusable scratch memory: large tensors allocated fresh every batch cost page faults
    (the CPU allocator returns them to the system), about as much as the work done in them."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A 1-D tensor of ``numel`` elements (contents undefined), reused across calls."""
        buffer = self._buffers.get(name)
        if buffer is None or buffer.numel() < numel or buffer.dtype != dtype or buffer.device != device:
            buffer = torch.empty(int(numel * 1.25) + 16, dtype=dtype, device=device)
            self._buffers[name] = buffer
        return buffer[:numel]


@dataclass
class ZBuffer:
    """The splatted keys of B supersampled images, with a margin of ``pad`` pixels."""

    keys: torch.Tensor  # (B, height + 2 pad, width + 2 pad) int64; _NO_HIT where empty
    pad: int
    height: int
    width: int

    def resolve(self, supersample: int, fill_radius: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Apply the fill and reduce the supersamples.

        Returns depth (B, 1, H, W) mm (inf: empty), winner (B, H*W) packed point (-1: empty) and
        coverage (B, 1, H, W) in [0, 1]. Output pixel i's colour comes from the smallest key in
        supersampled rows/columns [s*i - r, s*i + s - 1 + r] (the union of the filled windows of
        its samples), taken as strided minima: no pooling indices, no full-size filtered copy.
        """
        p, r, s = self.pad, fill_radius, supersample
        hs, ws = self.height, self.width
        h, w = hs // s, ws // s
        window = self.keys[:, p - r : p + hs + r, p - r : p + ws + r]  # the margin holds r extra
        rows = window[:, 0 : s * h : s]
        for d in range(1, s + 2 * r):
            rows = torch.minimum(rows, window[:, d : d + s * h : s])  # (B, h, ws + 2r)
        nearest = rows[:, :, 0 : s * w : s]
        for d in range(1, s + 2 * r):
            nearest = torch.minimum(nearest, rows[:, :, d : d + s * w : s])  # (B, h, w)
        empty = nearest == _NO_HIT
        winner = torch.where(empty, torch.full_like(nearest, -1), nearest & _LOW_MASK).reshape(nearest.shape[0], -1)
        depth = (nearest >> 32).to(torch.float32) / _DEPTH_SCALE
        depth = torch.where(empty, torch.tensor(float("inf"), device=depth.device), depth)[:, None]

        # Coverage: share of the samples within r of a hit (a dilation of the hit mask).
        hit = window != _NO_HIT
        grown = hit[:, 0:hs]
        for d in range(1, 2 * r + 1):
            grown = grown | hit[:, d : d + hs]
        dilated = grown[:, :, 0:ws]
        for d in range(1, 2 * r + 1):
            dilated = dilated | grown[:, :, d : d + ws]
        coverage = dilated[:, 0::s, 0::s].to(torch.float32)
        for dy in range(s):
            for dx in range(s):
                if dy or dx:
                    coverage = coverage + dilated[:, dy::s, dx::s]
        return depth, winner, (coverage / (s * s))[:, None]

    def depth_at(self, x: torch.Tensor, y: torch.Tensor, fill_radius: int) -> torch.Tensor:
        """Filled depth (B, J) mm (inf: empty) at supersampled pixels x, y (B, J) int64."""
        batch, hp, wp = self.keys.shape
        flat = self.keys.reshape(batch, -1)
        best = None
        for dy in range(-fill_radius, fill_radius + 1):
            for dx in range(-fill_radius, fill_radius + 1):
                xx = (x + dx + self.pad).clamp(0, wp - 1)
                yy = (y + dy + self.pad).clamp(0, hp - 1)
                key = flat.gather(1, yy * wp + xx)
                best = key if best is None else torch.minimum(best, key)
        depth = (best >> 32).to(torch.float32) / _DEPTH_SCALE
        return torch.where(best == _NO_HIT, torch.tensor(float("inf"), device=depth.device), depth)
