"""The pose-guided image decoder p(x | z) (``DVAEConfig.decoder_pose_maps``).

The paper's decoder (``image_nets.ImageDecoder``) must learn from a 64-number vector where each
finger goes; on a CPU budget it draws mittens. This one is still a decoder of the whole latent,
but the pose and viewpoint blocks also reach it as pictures: the label decoders give the 3D
joints and side of the hand, which are framed like a training crop and drawn as limb, joint and
depth maps (``core.models.pose_maps``) that enter every decoder stage (a 1x1 projection added
to the stage's features). The content and free blocks modulate every stage (FiLM: GroupNorm's scale and shift),
so colours survive the normalisation. With ``decoder_compositing`` the output is a hand layer
(colour + alpha) over a background layer decoded from the content and free blocks alone, and the
alpha can be supervised with the renderer's coverage mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.models.blocks import ResidualBlock, group_norm
from core.models.config import POSE_BLOCKS, DVAEConfig
from core.models.pose_maps import NUM_MAPS, Framing, frame_keypoints, skeleton_maps


MAX_DRAWN_RESOLUTION = 64  # the skeleton maps are drawn at most this fine (cost, see ``maps``)
MAX_BACKGROUND_RESOLUTION = 32  # the background layer is decoded at most this fine, then upsampled


@dataclass
class DecodedImage:
    """What an image decoder returns: ``image`` (B, 3, S, S) in [0, 1]; with compositing also
    ``alpha`` (B, 1, S, S) in [0, 1], the hand layer's coverage, and the two layers ``hand`` and
    ``background`` (B, 3, S, S) in [0, 1] that ``image`` composites (None otherwise)."""

    image: torch.Tensor
    alpha: torch.Tensor | None = None
    hand: torch.Tensor | None = None
    background: torch.Tensor | None = None

    def with_background(self, background: torch.Tensor) -> torch.Tensor:
        """The hand layer composited over another ``background`` (B, 3, S, S); ``image`` for a
        decoder without compositing."""
        if self.alpha is None or self.hand is None:
            return self.image
        return self.alpha * self.hand + (1.0 - self.alpha) * background


def style_slices(config: DVAEConfig) -> list[slice]:
    """The latent blocks that carry appearance (every block but pose and viewpoint)."""
    return [config.layout.slice(n) for n in config.layout.names if n not in POSE_BLOCKS]


# Nearest x2 then a 3x3 convolution is a stride-2 transposed convolution whose 4x4 kernel is
# tied to the 3x3 one: along each axis, output 2m reads inputs m - 1, m with taps (a, b + c) and
# output 2m + 1 reads m, m + 1 with (a + b, c), (a, b, c) the 3x3 kernel's taps at offsets -1, 0, +1.
# Transposed-conv tap k (output 2i - 1 + k from input i) is row k of this matrix times (a, b, c).
_RESIZE_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


class ResizeConv(nn.Sequential):
    """Resize-convolution (Odena et al. 2016): nearest-neighbour x2, then a 3x3 convolution; every
    output pixel sees the same 3x3 kernel, so it cannot draw a checkerboard.

    (B, c_in, r, r) -> (B, c_out, 2r, 2r). Computed as the equivalent transposed convolution
    (``_RESIZE_TAPS``): 4 taps per output pixel and axis pair instead of 9, on the small input,
    the same numbers to float rounding. The parameters are the 3x3 convolution's (``[1]``)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1, bias=False))
        self._folded: tuple[tuple, torch.Tensor] | None = None  # (weight's identity, its fold) without autograd

    def folded_weight(self) -> torch.Tensor:
        """The equivalent transposed convolution's kernel (c_in, c_out, 4, 4); folded once per weight
        change when no gradient is needed (interactive decoding), on every call when training."""
        weight = self[1].weight  # (c_out, c_in, 3, 3)
        needs_grad = torch.is_grad_enabled() and weight.requires_grad
        key = (weight.data_ptr(), weight._version, weight.dtype, weight.device)
        if not needs_grad and self._folded is not None and self._folded[0] == key:
            return self._folded[1]
        taps = _RESIZE_TAPS.to(device=weight.device, dtype=weight.dtype)
        folded = torch.einsum("yk,xl,oikl->ioyx", taps, taps, weight)
        if not needs_grad:
            self._folded = (key, folded.detach())
        return folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, self.folded_weight(), stride=2, padding=1)


def upsampling(c_in: int, c_out: int, resize_conv: bool) -> nn.Module:
    """(B, c_in, r, r) -> (B, c_out, 2r, 2r): ``ResizeConv``, or with ``resize_conv`` off the free
    stride-2 transposed convolution of configs before version 3 (its four output phases have
    kernels of their own, which draws a 2-px grid)."""
    if resize_conv:
        return ResizeConv(c_in, c_out)
    return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False)


class PoseGuidedStage(nn.Module):
    """One doubling to ``resolution``: upsampling (``upsampling``) + a 1x1 projection of the
    skeleton maps, GroupNorm, FiLM, SiLU [+ a residual 3x3 block]. The 1x1 projection costs ~1/10
    of concatenating the maps before a 3x3 conv, and the next layers' 3x3 kernels mix them spatially.

    (B, c_in, r, r), projected maps (B, c_out, 2r, 2r) (``project``), style (B, d) -> (B, c_out, 2r, 2r).
    """

    def __init__(self, c_in: int, c_out: int, style_dim: int, residual: bool, groups: int,
                 resolution: int, resize_conv: bool) -> None:
        super().__init__()
        self.resolution = resolution
        self.up = upsampling(c_in, c_out, resize_conv)
        self.from_maps = nn.Conv2d(NUM_MAPS, c_out, 1, bias=False)
        self.norm = group_norm(c_out, groups)
        self.film = nn.Linear(style_dim, 2 * c_out)
        nn.init.zeros_(self.film.weight)  # starts as plain GroupNorm
        nn.init.zeros_(self.film.bias)
        self.act = nn.SiLU()
        self.residual = ResidualBlock(c_out, c_out, groups=groups) if residual else None

    def project(self, maps: torch.Tensor) -> torch.Tensor:
        """Skeleton maps (B, M, m, m) at any resolution -> their 1x1 projection (B, c_out, r, r),
        r = ``self.resolution``.

        Resampling is linear and per channel, so it commutes with the bias-free 1x1 projection:
        coarser stages pool the M maps first, finer stages project first and upsample c_out
        channels (fewer than M there), whichever moves fewer numbers."""
        drawn, resolution = maps.shape[-1], self.resolution
        if resolution < drawn:
            return self.from_maps(F.adaptive_avg_pool2d(maps, resolution))
        projected = self.from_maps(maps)
        if resolution == drawn:
            return projected
        return F.interpolate(projected, size=(resolution, resolution), mode="bilinear", align_corners=False)

    def forward(self, h: torch.Tensor, projected_maps: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.up(h) + projected_maps)
        gamma, beta = self.film(style)[:, :, None, None].chunk(2, dim=1)
        h = self.act(h * (1.0 + gamma) + beta)
        return h if self.residual is None else self.residual(h)


class BackgroundDecoder(nn.Module):
    """The background layer from the appearance blocks: (B, d) -> (B, 3, S, S) logits.

    Narrow (half the main decoder's widths) and decoded to min(S / 2, 32), then upsampled
    (bilinear):
    backgrounds are what a VAE blurs anyway, and the hand is what the budget is for. A coarse 4x4 colour map
    is added, as the plain decoder's colour path does.
    """

    def __init__(self, config: DVAEConfig, style_dim: int) -> None:
        super().__init__()
        n = config.decoder_stages
        stages = (min(config.output_size // 2, MAX_BACKGROUND_RESOLUTION) // 4).bit_length() - 1
        widths = [max(8, w // 2) for w in config.decoder_widths[-(n + 1):-1]][:stages + 1]
        self.start = widths[0]
        self.fc = nn.Linear(style_dim, widths[0] * 16)
        layers: list[nn.Module] = [group_norm(widths[0], config.norm_groups), nn.SiLU()]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                       group_norm(c_out, config.norm_groups), nn.SiLU()]
        layers.append(nn.Conv2d(widths[-1], 3, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.coarse_colour = nn.Linear(style_dim, 3 * 16)
        self.size = config.output_size

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        b = style.shape[0]
        low = self.body(self.fc(style).view(b, self.start, 4, 4))
        low = low + F.interpolate(self.coarse_colour(style).view(b, 3, 4, 4), size=low.shape[-2:], mode="bilinear",
                                  align_corners=False)
        return F.interpolate(low, size=(self.size, self.size), mode="bilinear", align_corners=False)


class PoseGuidedDecoder(nn.Module):
    """p(x | z) guided by the pose: z (B, D) and the 3D pose it decodes to (B, 21, 3) mm
    -> ``DecodedImage``. ``DVAE.decode_layers`` supplies the pose from its label decoders."""

    def __init__(self, config: DVAEConfig, framing: Framing = Framing()) -> None:
        super().__init__()
        n = config.decoder_stages
        widths = config.decoder_widths[-(n + 1):]
        self.framing = framing
        self.size = config.output_size
        self.style = style_slices(config)
        style_dim = sum(s.stop - s.start for s in self.style)
        self.start_channels = widths[0]
        self.fc = nn.Linear(config.latent_dim, widths[0] * 16)
        self.start_norm = nn.Sequential(group_norm(widths[0], config.norm_groups), nn.SiLU())
        stages, resolution = [], 4
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            resolution *= 2
            stages.append(PoseGuidedStage(c_in, c_out, style_dim, resolution <= config.decoder_residual_upto,
                                          config.norm_groups, resolution, config.decoder_resize_conv))
        self.stages = nn.ModuleList(stages)
        self.compositing = config.decoder_compositing
        self.to_output = nn.Conv2d(widths[-1], 4 if self.compositing else 3, 3, padding=1)
        self.background = BackgroundDecoder(config, style_dim) if self.compositing else None
        self.coarse_colour = None if self.compositing else nn.Linear(style_dim, 3 * 16)

    def maps(self, keypoints_3d: torch.Tensor) -> torch.Tensor:
        """(B, 21, 3) mm -> skeleton maps (B, NUM_MAPS, m, m), drawn once at m = min(S / 2, 64)
        (``skeleton_maps``: Gaussian limbs and joints, a depth map) for an S-pixel output.

        Fingers are a pixel or two apart at 32 px, at a quarter of the full-resolution cost; each
        stage pools them or upsamples their projection (bilinear) to its own resolution
        (``project``)."""
        uv, depth = frame_keypoints(keypoints_3d, self.size, self.framing)
        return skeleton_maps(uv, depth, self.size, min(self.size // 2, MAX_DRAWN_RESOLUTION), self.framing)

    def forward(self, z: torch.Tensor, keypoints_3d: torch.Tensor) -> DecodedImage:
        b = z.shape[0]
        style = torch.cat([z[:, s] for s in self.style], dim=-1)
        h = self.start_norm(self.fc(z).view(b, self.start_channels, 4, 4))
        drawn = self.maps(keypoints_3d)
        for stage in self.stages:
            h = stage(h, stage.project(drawn), style)
        out = self.to_output(h)
        if self.background is None:
            coarse = self.coarse_colour(style).view(b, 3, 4, 4)
            out = out + F.interpolate(coarse, size=out.shape[-2:], mode="bilinear", align_corners=False)
            return DecodedImage(torch.sigmoid(out))
        hand, alpha = torch.sigmoid(out[:, :3]), torch.sigmoid(out[:, 3:])
        background = torch.sigmoid(self.background(style))
        return DecodedImage(alpha * hand + (1.0 - alpha) * background, alpha, hand, background)
