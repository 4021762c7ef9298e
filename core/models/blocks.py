"""Small building blocks shared by the dVAE's networks.

GroupNorm rather than BatchNorm throughout: batches mix labelled, 2D-only and unlabelled
images, step 2 freezes parts of the model, and the GUI runs single images; GroupNorm behaves
the same in all of these (no running statistics to drift or to forget to freeze).
"""
from __future__ import annotations

import torch
from torch import nn


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= ``groups`` that divides ``channels``."""
    g = min(groups, channels)
    while channels % g:
        g -= 1
    return nn.GroupNorm(g, channels)


class ResidualBlock(nn.Module):
    """Pre-activation-free residual block: conv-norm-act-conv-norm + shortcut, then act.

    (B, c_in, H, W) -> (B, c_out, H / stride, W / stride).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, groups: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.norm1 = group_norm(c_out, groups)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = group_norm(c_out, groups)
        self.act = nn.SiLU()
        if stride != 1 or c_in != c_out:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), group_norm(c_out, groups)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        return self.act(h + self.shortcut(x))


def mlp(d_in: int, d_out: int, hidden: int, layers: int) -> nn.Sequential:
    """``layers`` hidden Linear+SiLU layers of width ``hidden``, then a Linear to ``d_out``."""
    mods: list[nn.Module] = []
    d = d_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.SiLU()]
        d = hidden
    mods.append(nn.Linear(d, d_out))
    return nn.Sequential(*mods)


class GaussianHead(nn.Module):
    """Linear map to the mean and log-variance of a diagonal Gaussian: (B, d_in) -> 2 x (B, d)."""

    def __init__(self, d_in: int, d: int, logvar_min: float, logvar_max: float) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, 2 * d)
        self.logvar_min = logvar_min
        self.logvar_max = logvar_max
        # start near the prior's scale so early KL terms are moderate
        nn.init.zeros_(self.linear.bias)
        with torch.no_grad():
            self.linear.weight[d:].mul_(0.1)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.linear(h).chunk(2, dim=-1)
        return mu, logvar.clamp(self.logvar_min, self.logvar_max)
