"""``HandFinderNet``: the hand finder's fully convolutional network (no pretrained weights).

A small ResNet-style backbone (strides 2..32) and a feature-pyramid upsampling path back to the
output stride, then 1x1 heads. Shapes for an input (B, 3, H, W), H and W multiples of 32:

- ``heatmap``: (B, 2, H/s, W/s) logits of a hand centre per cell; channel 0 right, 1 left;
- ``size``: (B, 1, H/s, W/s) log of the box side in input pixels;
- ``offset``: (B, 2, H/s, W/s) sub-cell position (x, y) of the centre in [0, 1) cells;
- ``mask``: (B, 1, H/s, W/s) logits of hand coverage: an auxiliary output trained densely on
  the renders' coverage (every hand pixel teaches the features, not only the centre cell);
  finding hands does not read it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.finder.config import HandFinderConfig

# Focal-loss detectors start the heatmap bias at a low prior (CenterNet: -2.19 = logit(0.1)).
HEATMAP_PRIOR = 0.1
RIGHT, LEFT = 0, 1


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
    """See the module docstring; ``forward`` returns ``(heatmap, size, offset, mask)``."""

    kind = "dvae-hands/hand-finder-v1"

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
        levels = int(math.log2(config.stride))  # stage index of the output stride (2 for 4, 3 for 8)
        self.output_level = levels - 1
        self.lateral = nn.ModuleList([nn.Conv2d(w[i], h, 1) for i in range(self.output_level, len(w))])
        self.smooth = nn.ModuleList([_conv(h, h) for _ in range(self.output_level, len(w) - 1)])
        self.trunk = _conv(h, h)
        self.heatmap = nn.Conv2d(h, 2, 1)
        self.size = nn.Conv2d(h, 1, 1)
        self.offset = nn.Conv2d(h, 2, 1)
        self.mask = nn.Conv2d(h, 1, 1)
        nn.init.constant_(self.heatmap.bias, -math.log((1 - HEATMAP_PRIOR) / HEATMAP_PRIOR))
        nn.init.constant_(self.size.bias, math.log(config.input_size / 4))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """images (B, 3, H, W) RGB in [0, 1] -> heatmap logits (B, 2, h, w), log side (B, 1, h, w),
        offset (B, 2, h, w), coverage logits (B, 1, h, w) with h = H / stride."""
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
        return self.heatmap(y), self.size(y), torch.sigmoid(self.offset(y)), self.mask(y)
