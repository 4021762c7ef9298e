"""``HandFinderNet``: says of one square window of a photo whether a hand is framed in it, where
that hand's box is, and which side it is (no pretrained weights).

A window is resampled to ``crop_size`` px; four stride-2 stages (the last three with a residual
block) bring it to (C, crop/16, crop/16), which is flattened (the heads need to know where in
the window the hand is) into one hidden layer and three linear heads. For crops (B, 3, c, c)
RGB in [0, 1] it returns:

- ``score`` (B,): logit of how well the window frames a hand (0 below IoU 0.25 with every
  hand's box, 1 from IoU 0.7, ``train.hand_finder.loss``);
- ``box`` (B, 3): where the hand's box is relative to the window: (centre - window centre) /
  window side for x and y, and log(box side / window side) (``core.finder.windows``);
- ``side`` (B,): logit that the hand is a left one.

A window classifier learns in minutes on 2 CPU cores where a dense detector over the whole
photo (centre heatmaps, or every hand cell voting for its centre) stayed at a few percent of
held-out hands found after 40 minutes (``docs/results.md``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.finder.config import HandFinderConfig


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Residual(nn.Module):
    """Two 3x3 convolutions with a skip: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.a = _conv(channels, channels)
        self.b = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


class HandFinderNet(nn.Module):
    """See the module docstring; ``forward`` returns ``(score, box, side)``."""

    kind = "dvae-hands/hand-finder-v3"

    def __init__(self, config: HandFinderConfig = HandFinderConfig()) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        cin = 3
        for i, cout in enumerate(config.widths):
            layers.append(_conv(cin, cout, stride=2))
            if i >= 1:
                layers.append(_Residual(cout))
            cin = cout
        self.features = nn.Sequential(*layers)
        cells = (config.crop_size // 16) ** 2
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(cin * cells, config.hidden), nn.ReLU(inplace=True))
        self.score = nn.Linear(config.hidden, 1)
        self.box = nn.Linear(config.hidden, 3)
        self.side = nn.Linear(config.hidden, 1)

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """crops (B, 3, c, c) RGB in [0, 1] -> score (B,), box (B, 3), side (B,) (module docstring)."""
        h = self.hidden(self.features((crops - 0.5) / 0.25))
        return self.score(h)[:, 0], self.box(h), self.side(h)[:, 0]
