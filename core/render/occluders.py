"""Random occluders over the hand: ellipses and rectangles filled with a colour, a texture or
another part of the image, pasted onto composited training crops (labels unchanged).

Zhao et al. (CVPR 2025) name object occlusion among the factors that close the synthetic-to-real
gap of hand pose. With ``OccluderConfig.probability`` per sample, one or two shapes cover together
at most ``hand_fraction[1]`` of the hand's area: each is centred on a hand pixel (drawn with the
coverage mask as weights) and its area is its share of that budget, so the hand keeps most of its
pixels and the occluder always lands on it. Every draw comes from the sample's own generator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.render.backgrounds import BackgroundSource
from core.render.scene import NUM_BACKGROUND_DRAWS

SHAPE_DRAWS = 8  # uniforms per shape besides its centre and texture draws


@dataclass(frozen=True)
class OccluderConfig:
    """How often and how much the hand is occluded (``probability`` 0 turns it off)."""

    probability: float = 0.0
    two_fraction: float = 0.5                       # occluded samples with two shapes (else one)
    hand_fraction: tuple[float, float] = (0.05, 0.3)  # all shapes' area / the hand's area
    aspect: tuple[float, float] = (0.3, 3.0)        # shape length / width, log-uniform
    texture_fraction: float = 0.4                   # fill: a background texture (photo or procedural)
    image_fraction: float = 0.3                     # fill: another part of the same image; else a colour

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"occluder probability must be in [0, 1], got {self.probability}")
        low, high = self.hand_fraction
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"occluder hand_fraction must be a range within (0, 1], got {self.hand_fraction}")
        if self.texture_fraction + self.image_fraction > 1.0:
            raise ValueError("occluder texture_fraction + image_fraction must be <= 1")


def shape_alpha(size: int, centre: torch.Tensor, half_axes: tuple[float, float], angle: float,
                ellipse: bool) -> torch.Tensor:
    """(size, size) coverage in [0, 1] of a rotated ellipse or rectangle with an anti-aliased edge
    (about one pixel wide); ``centre`` (2,) is (x, y) in pixels, pixel centres at integers."""
    coords = torch.arange(size, dtype=torch.float32)
    dx = coords[None, :] - float(centre[0])
    dy = coords[:, None] - float(centre[1])
    cos, sin = math.cos(angle), math.sin(angle)
    along, across = cos * dx + sin * dy, -sin * dx + cos * dy
    a, b = half_axes
    if ellipse:
        radius = ((along / a).square() + (across / b).square()).sqrt()
        inside = (1.0 - radius) * math.sqrt(a * b)  # ~ signed distance to the edge, pixels
    else:
        inside = torch.minimum(a - along.abs(), b - across.abs())
    return (inside + 0.5).clamp(0.0, 1.0)


def _half_axes(area: float, aspect: float, ellipse: bool) -> tuple[float, float]:
    """Half-axes (a, b) of a shape of ``area`` px^2 with a / b = ``aspect``."""
    b = math.sqrt(area / ((math.pi if ellipse else 4.0) * aspect))
    return aspect * b, b


class Occluders:
    """Pastes occluders onto composited images: ``occluders(images, coverage, generators)``.

    images (B, 3, S, S) in [0, 1]; coverage (B, 1, S, S) the hand's mask; one generator per
    sample. Textures come from ``backgrounds`` (the synthetic stream's own source). Samples left
    without occluders are returned bit for bit; with probability 0 nothing is drawn.
    """

    def __init__(self, config: OccluderConfig, backgrounds: BackgroundSource) -> None:
        self.config = config
        self.backgrounds = backgrounds

    def __call__(self, images: torch.Tensor, coverage: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
        if self.config.probability <= 0.0:
            return images
        out = images.clone()
        cover = coverage.detach().float().cpu()
        for row, g in enumerate(generators):
            if float(torch.rand(1, generator=g)) < self.config.probability:
                out[row] = self._occlude(out[row], cover[row, 0], g)
        return out

    def _occlude(self, image: torch.Tensor, coverage: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """One image (3, S, S) with its 1-2 shapes pasted; coverage (S, S) on the CPU."""
        c = self.config
        hand_area = float(coverage.sum())
        count = 2 if float(torch.rand(1, generator=g)) < c.two_fraction else 1
        budget = c.hand_fraction[0] + (c.hand_fraction[1] - c.hand_fraction[0]) * float(torch.rand(1, generator=g))
        if hand_area < 4.0:  # no hand in the crop: nothing to occlude
            return image
        size = image.shape[-1]
        for _ in range(count):
            u = torch.rand(SHAPE_DRAWS, generator=g)
            texture_draws = torch.rand(1, NUM_BACKGROUND_DRAWS, generator=g)
            flat = int(torch.multinomial(coverage.flatten(), 1, generator=g))
            centre = torch.tensor([flat % size, flat // size], dtype=torch.float32) + (u[6:8] - 0.5)
            ellipse = bool(u[0] < 0.5)
            aspect = c.aspect[0] * (c.aspect[1] / c.aspect[0]) ** float(u[1])
            half_axes = _half_axes(budget * hand_area / count, aspect, ellipse)
            alpha = shape_alpha(size, centre, half_axes, float(u[2]) * math.pi, ellipse).to(image.device, image.dtype)
            fill = self._fill(image, float(u[3]), u[4:6], texture_draws)
            image = image * (1.0 - alpha) + fill * alpha
        return image

    def _fill(self, image: torch.Tensor, kind: float, u: torch.Tensor, texture_draws: torch.Tensor) -> torch.Tensor:
        """What a shape shows (3, S, S): a texture, the image shifted by a quarter to three
        quarters of its side (another part of it), or a colour from ``texture_draws``."""
        c, size = self.config, image.shape[-1]
        if kind < c.texture_fraction:
            return self.backgrounds(texture_draws, size)[0].to(image.device, image.dtype)
        if kind < c.texture_fraction + c.image_fraction:
            shift = [int(size * (0.25 + 0.5 * float(v))) for v in u]
            return torch.roll(image, shifts=shift, dims=(-2, -1))
        colour = texture_draws[0, :3].to(image.device, image.dtype)
        return colour.view(3, 1, 1).expand_as(image)
