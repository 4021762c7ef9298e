"""``HandFinderNet``: the hand finder's fully convolutional network (no pretrained weights).

A small ResNet-style backbone (strides 2..32) and a feature-pyramid upsampling path back to the
output stride s, then 1x1 heads, all dense: every hand pixel is trained, not only a centre cell
(a CenterNet centre heatmap stayed at its prior for 600 steps on 2 CPU cores; these heads learn
in a few hundred). For an input (B, 3, H, W), H and W multiples of 32, each is (B, C, H/s, W/s):

- ``coverage`` (C=1): logit that the cell shows a hand (or its forearm);
- ``side`` (C=1): logit that the cell's hand is a left one;
- ``vector`` (C=2): (box centre - cell centre) / box side, x and y: where the cell's hand is;
- ``size`` (C=1): log of the cell's hand's box side in input pixels.

``core.finder.boxes.decode_votes`` turns them into boxes: hand cells vote for their centres.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.finder.config import HandFinderConfig

COVERAGE_PRIOR = 0.1  # hands cover about a tenth of a training canvas


def _conv(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _Residual(nn.Module):
    """Two 3x3 convolutions with a skip: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.a = _conv(channels, channels)
        self.b = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


class HandFinderNet(nn.Module):
    """See the module docstring; ``forward`` returns ``(coverage, side, vector, size)``."""

    kind = "dvae-hands/hand-finder-v2"

    def __init__(self, config: HandFinderConfig = HandFinderConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        self.stages = nn.ModuleList()
        cin = 3
        for i, cout in enumerate(w):
            layers = [_conv(cin, cout, stride=2)]
            if i >= 1:
                layers.append(_Residual(cout))
            self.stages.append(nn.Sequential(*layers))
            cin = cout
        h = config.head_width
        self.output_level = int(math.log2(config.stride)) - 1  # stage index of the output stride
        self.lateral = nn.ModuleList([nn.Conv2d(w[i], h, 1) for i in range(self.output_level, len(w))])
        self.smooth = nn.ModuleList([_conv(h, h) for _ in range(self.output_level, len(w) - 1)])
        self.trunk = _conv(h, h)
        self.coverage = nn.Conv2d(h, 1, 1)
        self.side = nn.Conv2d(h, 1, 1)
        self.vector = nn.Conv2d(h, 2, 1)
        self.size = nn.Conv2d(h, 1, 1)
        nn.init.constant_(self.coverage.bias, -math.log((1 - COVERAGE_PRIOR) / COVERAGE_PRIOR))
        nn.init.constant_(self.size.bias, math.log(config.input_size / 4))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """images (B, 3, H, W) RGB in [0, 1] -> (coverage, side, vector, size), see the module docstring."""
        x = (images - 0.5) / 0.25
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        top = self.lateral[-1](features[-1])
        for i in range(len(self.lateral) - 2, -1, -1):
            skip = self.lateral[i](features[self.output_level + i])
            top = self.smooth[i](skip + F.interpolate(top, size=skip.shape[-2:], mode="nearest"))
        y = self.trunk(top)
        return self.coverage(y), self.side(y), self.vector(y), self.size(y)
