"""The disentangled VAE: all networks of the model and the deterministic pose construction.

Latent ``z`` (B, D) is the concatenation of the layout's blocks (default: pose 24, viewpoint 8,
content 24, free 8). Inference models (paper, graphical models):

- label encoders q(z_pose | y_pose), q(z_viewpoint | y_viewpoint), q(z_content | y_content);
- the image encoder q(z | x) over every block;

generative models: p(x | z) (image decoder) and p(y_i | z_i) (label decoders). The 3D pose is
constructed deterministically from the decoded canonical pose and viewpoint (``compose_pose_3d``).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from core.hand.canonical import rotation_from_6d
from core.models.config import CONTENT, POSE, VIEWPOINT, DVAEConfig
from core.models.gaussian import Gaussian
from core.hand.kinematics import MEAN_REFERENCE_MM
from core.models.heatmaps import KeypointHeatmapHead
from core.models.image_nets import ContentEncoder, ImageDecoder, ImageEncoder
from core.models.pose_guided import DecodedImage, PoseGuidedDecoder
from core.models.label_nets import AppearanceDecoder, PoseDecoder, PoseEncoder, ViewpointDecoder, ViewpointEncoder

# Written into checkpoints: a file of another kind is refused before its tensors are read.
MODEL_KIND = "dvae-hands/dvae-v1"


class Step(Enum):
    """The paper's two training steps."""

    DISENTANGLE = 1  # label encoders/decoders + image decoder learn the latent space
    EMBED = 2        # the image encoder is embedded into that space


def compose_pose_3d(
    canonical_pose: torch.Tensor,
    rotation: torch.Tensor,
    is_left: torch.Tensor,
    scale: torch.Tensor | float,
) -> torch.Tensor:
    """The paper's deterministic construction: 3D pose = R(viewpoint) @ canonical pose.

    ``viewpoint @ mirror_if_left(canonical_pose) * scale``, the convention of
    ``core.hand.canonical`` (its ``from_canonical`` without a root), in the input's dtype and
    differentiable.

    Args:
        canonical_pose: (B, 21, 3) scale-normalised right-hand canonical pose.
        rotation: (B, 3, 3) canonical -> camera rotation.
        is_left: (B,) bool (or a float in [0, 1], e.g. a predicted probability, rounded here).
        scale: (B,) or a float, mm per canonical unit (the wrist -> middle-MCP length).
    Returns:
        (B, 21, 3) root-relative keypoints (wrist at the origin) in the camera frame.
    """
    left = torch.as_tensor(is_left, device=canonical_pose.device).reshape(-1).expand(canonical_pose.shape[0])
    sign_x = 1.0 - 2.0 * (left > 0.5).to(canonical_pose.dtype)
    ones = torch.ones_like(sign_x)
    mirrored = canonical_pose * torch.stack([sign_x, ones, ones], dim=-1)[:, None, :]
    scale_t = torch.as_tensor(scale, dtype=canonical_pose.dtype, device=canonical_pose.device)
    scale_t = scale_t.reshape(-1).expand(canonical_pose.shape[0])
    return (mirrored @ rotation.transpose(1, 2)) * scale_t[:, None, None]


@dataclass
class DecodedLabels:
    """What the label decoders read from a latent (B = batch).

    canonical_pose: (B, 21, 3); rotation_6d: (B, 6); left_logit: (B,) positive = left hand;
    appearance: (B, A).
    """

    canonical_pose: torch.Tensor
    rotation_6d: torch.Tensor
    left_logit: torch.Tensor
    appearance: torch.Tensor

    @property
    def rotation(self) -> torch.Tensor:
        """(B, 3, 3) viewpoint rotation (Gram-Schmidt of the 6D output)."""
        return rotation_from_6d(self.rotation_6d)

    @property
    def is_left(self) -> torch.Tensor:
        """(B,) bool predicted handedness."""
        return self.left_logit > 0

    def pose_3d(self, scale: torch.Tensor | float, is_left: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 21, 3) root-relative 3D pose; handedness predicted unless ``is_left`` is given."""
        left = self.is_left if is_left is None else is_left
        return compose_pose_3d(self.canonical_pose, self.rotation, left, scale)


class DVAE(nn.Module):
    """All networks of the dVAE, built from a ``DVAEConfig``."""

    kind = MODEL_KIND

    def __init__(self, config: DVAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or DVAEConfig()
        self.layout = self.config.layout
        self.pose_encoder = PoseEncoder(self.config)
        self.viewpoint_encoder = ViewpointEncoder(self.config)
        self.content_encoder = ContentEncoder(self.config)
        self.pose_decoder = PoseDecoder(self.config)
        self.viewpoint_decoder = ViewpointDecoder(self.config)
        self.appearance_decoder = AppearanceDecoder(self.config)
        self.image_encoder = ImageEncoder(self.config)
        self.image_decoder: ImageDecoder | PoseGuidedDecoder = (
            PoseGuidedDecoder(self.config) if self.config.decoder_pose_maps else ImageDecoder(self.config))
        # training-only auxiliary head (built last: the other networks' initialisation is unchanged)
        size = self.config.keypoint_heatmap_size
        self.keypoint_head = (KeypointHeatmapHead(self.image_encoder.stage_widths[size], self.config.norm_groups)
                              if size else None)

    # ---- inference models ------------------------------------------------------------------
    def pose_posterior(self, canonical_pose: torch.Tensor) -> Gaussian:
        """q(z_pose | y_pose): canonical pose (B, 21, 3) -> Gaussian over (B, d_pose)."""
        return Gaussian(*self.pose_encoder(canonical_pose))

    def viewpoint_posterior(self, rotation_6d: torch.Tensor, is_left: torch.Tensor) -> Gaussian:
        """q(z_viewpoint | y_viewpoint): (B, 6), (B,) bool -> Gaussian over (B, d_viewpoint)."""
        return Gaussian(*self.viewpoint_encoder(rotation_6d, is_left))

    def encoder_view(self, image: torch.Tensor) -> torch.Tensor:
        """(B, C, S', S') -> (B, C, S, S), S = ``config.image_size``: what the encoders read. Larger
        images (a ``decoder_image_size`` model's training images) are area-resampled; an image of
        the encoders' size is returned as it is."""
        size = self.config.image_size
        if image.shape[-1] == size and image.shape[-2] == size:
            return image
        return F.interpolate(image, size=(size, size), mode="area")

    def content_posterior(self, background: torch.Tensor, appearance: torch.Tensor) -> Gaussian:
        """q(z_content | tag): background (B, 3, S, S) in [0, 1] (any larger side is resampled,
        ``encoder_view``), appearance (B, A)."""
        return Gaussian(*self.content_encoder(self.encoder_view(background), appearance))

    def image_posterior(self, image: torch.Tensor) -> Gaussian:
        """q(z | x): image (B, 3, S, S) in [0, 1] (any larger side is resampled, ``encoder_view``)
        -> Gaussian over all of z, (B, D)."""
        return Gaussian(*self.image_encoder(self.encoder_view(image)))

    def image_posterior_and_heatmaps(self, image: torch.Tensor) -> tuple[Gaussian, torch.Tensor]:
        """``image_posterior`` (the same values) and the auxiliary keypoint heatmaps (B, 21, r, r),
        r = ``config.keypoint_heatmap_size``, of the ``keypoint_head`` (training only)."""
        if self.keypoint_head is None:
            raise ValueError("this model has no keypoint heatmap head: set [model] keypoint_heatmap_size "
                             "(DVAEConfig.keypoint_heatmap_size) to build one")
        mu, logvar, feature = self.image_encoder.forward_with_feature(self.encoder_view(image),
                                                                      self.config.keypoint_heatmap_size)
        return Gaussian(mu, logvar), self.keypoint_head(feature)

    # ---- generative models -----------------------------------------------------------------
    def decode_image(self, z: torch.Tensor) -> torch.Tensor:
        """p(x | z) mean: (B, D) -> (B, 3, S, S) in [0, 1], S = ``config.output_size``."""
        return self.decode_layers(z).image

    def decode_layers(self, z: torch.Tensor, pose_gradient: bool = True) -> DecodedImage:
        """p(x | z) mean and, with compositing, the hand layer's alpha (B, 1, S, S).

        The pose-guided decoder also gets the 3D pose the label decoders read from z (predicted
        side of the hand, mean hand size), so the image loss reaches the pose and viewpoint
        blocks through the label decoders too; ``pose_gradient=False`` stops that path (when
        the label networks are frozen it would only cost time)."""
        if isinstance(self.image_decoder, ImageDecoder):
            return DecodedImage(self.image_decoder(z))
        with torch.set_grad_enabled(pose_gradient and torch.is_grad_enabled()):
            keypoints = self.decode_labels(z).pose_3d(MEAN_REFERENCE_MM)
        return self.image_decoder(z, keypoints)

    def decode_labels(self, z: torch.Tensor) -> DecodedLabels:
        """p(y_i | z_i) means from a full latent (B, D)."""
        blocks = self.layout.split(z)
        rotation_6d, left_logit = self.viewpoint_decoder(blocks[VIEWPOINT])
        return DecodedLabels(
            canonical_pose=self.pose_decoder(blocks[POSE]),
            rotation_6d=rotation_6d,
            left_logit=left_logit,
            appearance=self.appearance_decoder(blocks[CONTENT]),
        )

    # ---- latents from labels, and block bookkeeping -----------------------------------------
    def posterior_from_labels(
        self,
        canonical_pose: torch.Tensor,
        rotation_6d: torch.Tensor,
        is_left: torch.Tensor,
        content: Gaussian | None = None,
        has_content: torch.Tensor | None = None,
        rest: Gaussian | None = None,
    ) -> dict[str, Gaussian]:
        """q(z | labels), block by block in layout order: {name: Gaussian over (B, size)}.

        - pose: q(z_pose | y_pose) of ``canonical_pose`` (B, 21, 3);
        - viewpoint: q(z_viewpoint | y_viewpoint) of ``rotation_6d`` (B, 6) and ``is_left`` (B,) bool;
        - content: ``content`` (over (B, d_content), e.g. ``content_posterior`` of a content tag) on the
          rows where ``has_content`` (B,) bool is true (all rows when it is None), ``rest``'s content
          block on the others;
        - every other block (and content without ``content``): ``rest``'s block (``rest`` over
          (B, D), e.g. ``image_posterior``), or the prior N(0, I) without ``rest``.
        """
        pose = self.pose_posterior(canonical_pose)
        blocks = {POSE: pose, VIEWPOINT: self.viewpoint_posterior(rotation_6d, is_left)}
        for name in self.layout.names:
            if name in blocks:
                continue
            if rest is not None:
                block = rest[self.layout.slice(name)]
            else:
                zeros = pose.mu.new_zeros(pose.mu.shape[0], self.layout.size(name))
                block = Gaussian(zeros, zeros)
            if name == CONTENT and content is not None:
                if has_content is None:
                    block = content
                else:
                    rows = has_content.bool()[:, None]
                    block = Gaussian(torch.where(rows, content.mu, block.mu),
                                     torch.where(rows, content.logvar, block.logvar))
            blocks[name] = block
        return {name: blocks[name] for name in self.layout.names}

    def latent_from_labels(
        self,
        canonical_pose: torch.Tensor,
        rotation_6d: torch.Tensor,
        is_left: torch.Tensor,
        content: torch.Tensor | None = None,
        has_content: torch.Tensor | None = None,
        rest: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The latent z (B, D) that labels give: the means of ``posterior_from_labels``.

        Pose and viewpoint blocks: the label encoders' means for ``canonical_pose`` (B, 21, 3),
        ``rotation_6d`` (B, 6) and ``is_left`` (B,) bool. Content block: ``content`` (B, d_content)
        on the rows where ``has_content`` (B,) bool is true (all rows when None). Every other block
        (and content elsewhere) is ``rest``'s (B, D), or 0 (the prior mean) without ``rest``.
        """
        def mean_only(mu: torch.Tensor | None) -> Gaussian | None:
            return None if mu is None else Gaussian(mu, torch.zeros_like(mu))

        posteriors = self.posterior_from_labels(canonical_pose, rotation_6d, is_left, mean_only(content),
                                                has_content, mean_only(rest))
        return self.assemble({name: q.mu for name, q in posteriors.items()})

    def swap_blocks(self, z: torch.Tensor, other: torch.Tensor, names: Iterable[str]) -> torch.Tensor:
        """``z`` (B, D) with the blocks ``names`` taken from ``other`` (B, D); either may be (1, D)
        or (D,) and is broadcast. A new tensor: neither input changes. Swapping both ways is
        ``swap_blocks(z, other, names)`` and ``swap_blocks(other, z, names)``."""
        z, other = torch.broadcast_tensors(z, other)
        out = z.clone()
        for name in names:
            block = self.layout.slice(name)
            out[..., block] = other[..., block]
        return out

    def walk_block(self, start: torch.Tensor, end: torch.Tensor, name: str, steps: int) -> torch.Tensor:
        """(steps, D) latents: ``start`` (D,) with its block ``name`` going linearly to ``end``'s (D,)
        in ``steps`` steps, both ends included; every other block stays ``start``'s."""
        block = self.layout.slice(name)
        t = torch.linspace(0.0, 1.0, steps, device=start.device)[:, None]
        walk = start.repeat(steps, 1)
        walk[:, block] = (1 - t) * start[block] + t * end[block]
        return walk

    def assemble(self, blocks: dict[str, torch.Tensor], batch: int | None = None) -> torch.Tensor:
        """Concatenate named blocks in layout order into z (B, D); missing blocks are zeros
        (the prior mean)."""
        unknown = sorted(set(blocks) - set(self.layout.names))
        if unknown:
            raise KeyError(f"assemble: unknown latent blocks {unknown}; layout has {self.layout.names}")
        ref = next(iter(blocks.values())) if blocks else None
        if batch is None:
            if ref is None:
                raise ValueError("assemble: give at least one block or the batch size")
            batch = ref.shape[0]
        device = ref.device if ref is not None else next(self.parameters()).device
        dtype = ref.dtype if ref is not None else torch.float32
        parts = []
        for name, size in zip(self.layout.names, self.layout.sizes):
            part = blocks.get(name)
            parts.append(part if part is not None else torch.zeros(batch, size, device=device, dtype=dtype))
        return torch.cat(parts, dim=-1)

    # ---- which parameters each step trains -------------------------------------------------
    def label_encoder_modules(self) -> list[nn.Module]:
        return [self.pose_encoder, self.viewpoint_encoder, self.content_encoder]

    def decoder_modules(self) -> list[nn.Module]:
        return [self.pose_decoder, self.viewpoint_decoder, self.appearance_decoder, self.image_decoder]

    def image_encoder_modules(self) -> list[nn.Module]:
        """The image encoder and, when built, its auxiliary keypoint head (they train together)."""
        return [self.image_encoder] + ([self.keypoint_head] if self.keypoint_head is not None else [])

    def param_groups(
        self,
        step: Step,
        base_lr: float,
        decoder_lr_scale: float = 0.1,
        label_encoder_lr_scale: float = 0.0,
        label_networks_lr_scale: float = 1.0,
        image_encoder_lr_scale: float = 1.0,
    ) -> list[dict]:
        """Optimizer parameter groups for a training step: ``torch.optim.AdamW(model.param_groups(...))``.

        DISENTANGLE trains the image decoder at ``base_lr``, the label encoders and decoders at
        ``base_lr * label_networks_lr_scale`` and the image encoder (it infers the free block, and
        the content block of images without a content tag) at ``base_lr * image_encoder_lr_scale``.
        EMBED trains the image encoder at ``base_lr``, the decoders at ``base_lr * decoder_lr_scale``
        and the label encoders at ``base_lr * label_encoder_lr_scale``. The image encoder's group
        holds its keypoint head too, when the model has one. A scale of 0 leaves that group out
        (frozen). Each group carries a ``name``.
        """
        def params(modules: list[nn.Module]) -> list[nn.Parameter]:
            return [p for m in modules for p in m.parameters()]

        if step is Step.DISENTANGLE:
            label_decoders = [m for m in self.decoder_modules() if m is not self.image_decoder]
            groups = [
                ("label_encoders", self.label_encoder_modules(), label_networks_lr_scale),
                ("label_decoders", label_decoders, label_networks_lr_scale),
                ("image_decoder", [self.image_decoder], 1.0),
                ("image_encoder", self.image_encoder_modules(), image_encoder_lr_scale),
            ]
        elif step is Step.EMBED:
            groups = [
                ("image_encoder", self.image_encoder_modules(), 1.0),
                ("decoders", self.decoder_modules(), decoder_lr_scale),
                ("label_encoders", self.label_encoder_modules(), label_encoder_lr_scale),
            ]
        else:
            raise ValueError(f"param_groups: unknown step {step!r}")
        return [
            {"name": name, "params": params(mods), "lr": base_lr * scale, "lr_scale": scale}
            for name, mods, scale in groups
            if scale > 0
        ]

    def parameters_for_step(self, step: Step) -> list[nn.Parameter]:
        """The parameters a step trains (with default lr scales), flat."""
        return [p for g in self.param_groups(step, 1.0) for p in g["params"]]
