"""Image networks: the image encoder q(z | x), the image decoder p(x | z) and the
content-tag encoder q(z_content | background, appearance)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.models.blocks import GaussianHead, ResidualBlock, group_norm, mlp
from core.models.config import CONTENT, DVAEConfig


def mean_colour(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3) mean colour, for the colour paths (``DVAEConfig.colour_paths``)."""
    return image.mean(dim=(2, 3))


class ImageEncoder(nn.Module):
    """ResNet-style q(z | x) over ALL latent blocks.

    (B, 3, S, S) in [0, 1] -> mu (B, D), logvar (B, D), D = ``config.latent_dim``. With
    ``config.colour_paths`` the head also sees the image's mean colour (B, 3).
    """

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__()
        widths = config.encoder_widths[-config.num_stages:]
        self.stem = nn.Sequential(
            nn.Conv2d(3, config.encoder_stem, 3, padding=1, bias=False),
            group_norm(config.encoder_stem, config.norm_groups),
            nn.SiLU(),
        )
        stages = []
        c = config.encoder_stem
        resolution = config.image_size
        for w in widths:
            resolution //= 2
            stages.append(ResidualBlock(c, w, stride=2, groups=config.norm_groups))
            if resolution <= config.encoder_deep_upto:
                stages.append(ResidualBlock(w, w, groups=config.norm_groups))
            c = w
        self.stages = nn.Sequential(*stages)
        self.flatten = nn.Flatten()
        self.colour_path = config.colour_paths
        self.head = GaussianHead(c * 16 + (3 if self.colour_path else 0), config.latent_dim, config.logvar_min,
                                 config.logvar_max)
        self.stage_widths = {config.image_size >> (k + 1): w for k, w in enumerate(widths)}  # resolution -> channels

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar, _ = self.forward_with_feature(image, 0)
        return mu, logvar

    def forward_with_feature(self, image: torch.Tensor, resolution: int
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``forward``'s mu, logvar (B, D) and the last stage output of side ``resolution``,
        (B, ``stage_widths[resolution]``, r, r) (None for 0 or a side no stage has)."""
        x = image * 2.0 - 1.0
        h = self.stem(x)
        feature = None
        for stage in self.stages:
            h = stage(h)
            if h.shape[-1] == resolution:
                feature = h
        h = self.flatten(h)  # (B, C * 4 * 4)
        if self.colour_path:
            h = torch.cat([h, mean_colour(x)], dim=-1)
        mu, logvar = self.head(h)
        return mu, logvar, feature


class ImageDecoder(nn.Module):
    """p(x | z): (B, D) -> pixel means (B, 3, S, S) in [0, 1].

    A linear layer to 4x4, then per doubling a 4x4 stride-2 transposed conv (+ a residual 3x3
    block at low resolutions, where it is cheap), then a 3x3 conv to RGB and a sigmoid. With
    ``config.colour_paths`` a linear map of z to a 4x4 RGB map, upsampled bilinearly, is added
    to the pre-sigmoid output (the stages end in GroupNorm, which normalises away each image's
    per-group mean).
    """

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__()
        n = config.num_stages
        widths = config.decoder_widths[-(n + 1):]
        self.start_channels = widths[0]
        self.fc = nn.Linear(config.latent_dim, widths[0] * 16)
        self.start_norm = nn.Sequential(group_norm(widths[0], config.norm_groups), nn.SiLU())
        stages: list[nn.Module] = []
        resolution = 4
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            resolution *= 2
            layers: list[nn.Module] = [
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                group_norm(c_out, config.norm_groups),
                nn.SiLU(),
            ]
            if resolution <= config.decoder_residual_upto:
                layers.append(ResidualBlock(c_out, c_out, groups=config.norm_groups))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.to_rgb = nn.Conv2d(widths[-1], 3, 3, padding=1)
        self.coarse_colour: nn.Linear | None = None
        if config.colour_paths:
            self.coarse_colour = nn.Linear(config.latent_dim, 3 * 4 * 4)
            nn.init.zeros_(self.coarse_colour.weight)  # starts as no change to the output
            nn.init.zeros_(self.coarse_colour.bias)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) -> pre-sigmoid pixel values (B, 3, S, S)."""
        h = self.fc(z).view(z.shape[0], self.start_channels, 4, 4)
        out = self.to_rgb(self.stages(self.start_norm(h)))
        if self.coarse_colour is not None:
            coarse = self.coarse_colour(z).view(z.shape[0], 3, 4, 4)
            out = out + F.interpolate(coarse, size=out.shape[-2:], mode="bilinear", align_corners=False)
        return out

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z))


class ContentEncoder(nn.Module):
    """q(z_content | y_content), the content tag being the background image and appearance.

    background (B, 3, S, S) in [0, 1], appearance (B, A) -> mu, logvar (B, d_content). With
    ``config.colour_paths`` the head also sees the background's mean colour (B, 3).
    """

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for w in config.content_widths[-config.num_stages:]:
            layers += [nn.Conv2d(c, w, 4, stride=2, padding=1, bias=False), group_norm(w, config.norm_groups), nn.SiLU()]
            c = w
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.appearance = mlp(config.appearance_dim, config.mlp_hidden, config.mlp_hidden, 1)
        d = config.layout.size(CONTENT)
        self.colour_path = config.colour_paths
        self.head = GaussianHead(c * 16 + config.mlp_hidden + (3 if self.colour_path else 0), d, config.logvar_min,
                                 config.logvar_max)
        self.act = nn.SiLU()

    def forward(self, background: torch.Tensor, appearance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = background * 2.0 - 1.0
        parts = [self.convs(x), self.act(self.appearance(appearance))]
        if self.colour_path:
            parts.append(mean_colour(x))
        return self.head(torch.cat(parts, dim=-1))
