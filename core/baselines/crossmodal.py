"""Baseline (b): the cross-modal VAE of Spurr et al., CVPR'18.

One shared latent ``z`` (no blocks, no disentangling) with two encoders, RGB -> z (the dVAE's
``ImageEncoder``) and 3D -> z (an MLP), a decoder z -> 3D pose and, optionally, z -> RGB (the
dVAE's ``ImageDecoder``). Training maximises the cross-modal ELBOs together, on every labelled
row of each batch (Spurr et al. alternate the modalities between batches; summing them per
batch is the same objective in expectation):

    RGB -> 3D:  E_q(z|x)[log p(y|z)] - beta KL(q(z|x) || N(0, I))
    3D  -> 3D:  E_q(z|y)[log p(y|z)] - beta KL(q(z|y) || N(0, I))
    RGB -> RGB (only with the image decoder): E_q(z|x)[log p(x|z)]

The 3D input of q(z | y) is the camera-frame pose, root-relative and divided by its
wrist -> middle-MCP length, plus the handedness; the pose decoder outputs the same quantities
as the dVAE's (canonical pose, 6D viewpoint, handedness logit) so the 3D pose is built the same
way. Estimation uses the mean of q(z | x).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from core import config_io
from core.baselines.estimator import pose_from_labels
from core.baselines.pose_terms import labels_without_appearance, pose_terms
from core.data.sample import HandBatch
from core.hand.joints import NUM_JOINTS
from core.models.blocks import GaussianHead, mlp
from core.models.config import DVAEConfig
from core.models.dvae import DecodedLabels
from core.models.gaussian import Gaussian
from core.models.image_nets import ImageDecoder, ImageEncoder
from core.models.objectives import LabelLossWeights, LabelTargets, image_error, masked_mean, with_total

# Written into checkpoints (``core.baselines.checkpoint``).
CROSSMODAL_KIND = "dvae-hands/crossmodal-vae-v1"


@dataclass(frozen=True)
class CrossModalConfig(config_io.DictConfig):
    """Architecture. ``network`` sets the image networks, the MLP widths and the latent size
    (``network.latent_dim``, one undivided latent here); ``decode_image`` adds p(x | z)."""

    network: DVAEConfig = field(default_factory=DVAEConfig)
    decode_image: bool = False


class PoseToLatent(nn.Module):
    """q(z | y): normalised root-relative pose (B, 21, 3) and is_left (B,) -> mu, logvar (B, D)."""

    def __init__(self, network: DVAEConfig) -> None:
        super().__init__()
        self.body = mlp(NUM_JOINTS * 3 + 1, network.mlp_hidden, network.mlp_hidden, network.mlp_layers - 1)
        self.act = nn.SiLU()
        self.head = GaussianHead(network.mlp_hidden, network.latent_dim, network.logvar_min, network.logvar_max)

    def forward(self, pose: torch.Tensor, is_left: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        handedness = is_left.to(pose.dtype).unsqueeze(-1) * 2.0 - 1.0
        return self.head(self.act(self.body(torch.cat([pose.flatten(1), handedness], dim=-1))))


class LatentToPose(nn.Module):
    """p(y | z): (B, D) -> canonical pose (B, 21, 3), 6D rotation (B, 6), left logit (B,)."""

    def __init__(self, network: DVAEConfig) -> None:
        super().__init__()
        self.net = mlp(network.latent_dim, NUM_JOINTS * 3 + 7, network.mlp_hidden, network.mlp_layers)

    def forward(self, z: torch.Tensor) -> DecodedLabels:
        out = self.net(z)
        pose = out[:, : NUM_JOINTS * 3].view(-1, NUM_JOINTS, 3)
        return labels_without_appearance(pose, out[:, NUM_JOINTS * 3: NUM_JOINTS * 3 + 6], out[:, -1])


class CrossModalVAE(nn.Module):
    """The networks of the cross-modal VAE, built from a ``CrossModalConfig``."""

    kind = CROSSMODAL_KIND

    def __init__(self, config: CrossModalConfig | None = None) -> None:
        super().__init__()
        self.config = config or CrossModalConfig()
        network = self.config.network
        self.image_encoder = ImageEncoder(network)
        self.pose_encoder = PoseToLatent(network)
        self.pose_decoder = LatentToPose(network)
        self.image_decoder = ImageDecoder(network) if self.config.decode_image else None

    @property
    def image_size(self) -> int:
        return self.config.network.image_size

    def image_posterior(self, images: torch.Tensor) -> Gaussian:
        """q(z | x): (B, 3, S, S) in [0, 1] -> Gaussian over (B, D)."""
        return Gaussian(*self.image_encoder(images))

    def pose_posterior(self, normalised_pose: torch.Tensor, is_left: torch.Tensor) -> Gaussian:
        """q(z | y): (B, 21, 3) root-relative pose / reference bone, (B,) bool -> Gaussian (B, D)."""
        return Gaussian(*self.pose_encoder(normalised_pose, is_left))

    def decode_pose(self, z: torch.Tensor) -> DecodedLabels:
        """p(y | z): the shared latent (B, D) -> canonical pose, viewpoint and handedness."""
        return self.pose_decoder(z)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """``PoseEstimator``: (B, 3, S, S) -> (B, 21, 3) mm, wrist-relative, crop-camera frame."""
        device = next(self.parameters()).device
        return pose_from_labels(self.decode_pose(self.image_posterior(images.to(device)).mu))


@dataclass
class CrossModalLoss(config_io.DictConfig):
    """Weights of the cross-modal ELBOs (pose terms use the dVAE's label weights)."""

    labels: LabelLossWeights = field(default_factory=LabelLossWeights)
    rgb_to_pose: float = 1.0        # multiplies the RGB -> 3D reconstruction terms
    pose_to_pose: float = 1.0       # multiplies the 3D -> 3D reconstruction terms
    kl: float = 1e-3                # beta: KL(q(z | .) || N(0, I)) per nat, as the dVAE's
    image: float = 1.0              # RGB -> RGB (ignored without an image decoder)
    hand_mask_weight: float = 2.0   # extra weight of hand pixels, as the dVAE's image term


class CrossModalObjective:
    """Both cross-modal ELBOs on the rows with 3D labels.

    Terms: ``rgb_<pose term>`` and ``pose_<pose term>`` (see ``core.baselines.pose_terms``),
    ``kl_rgb``, ``kl_pose``, ``image`` (with an image decoder), ``total``.
    """

    def __init__(self, config: CrossModalLoss | None = None) -> None:
        self.config = config or CrossModalLoss()

    def param_groups(self, model: CrossModalVAE, base_lr: float) -> list[dict]:
        return [{"name": "all", "params": list(model.parameters()), "lr": base_lr, "lr_scale": 1.0}]

    def __call__(self, model: CrossModalVAE, batch: HandBatch,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        c = self.config
        targets = LabelTargets.from_batch(batch)
        rows = batch.has_3d.bool()
        normalised = targets.relative / targets.scale.clamp_min(1e-6)[:, None, None]
        image_q = model.image_posterior(batch.image)
        pose_q = model.pose_posterior(normalised, batch.is_left.bool())
        z_image, z_pose = image_q.sample(generator), pose_q.sample(generator)
        terms: dict[str, torch.Tensor] = {}
        for prefix, z, weight in (("rgb", z_image, c.rgb_to_pose), ("pose", z_pose, c.pose_to_pose)):
            for name, value in pose_terms(model.decode_pose(z), targets, rows, c.labels).items():
                terms[f"{prefix}_{name}"] = weight * value
        terms["kl_rgb"] = c.kl * masked_mean(image_q.kl_to_prior(), rows)
        terms["kl_pose"] = c.kl * masked_mean(pose_q.kl_to_prior(), rows)
        if model.image_decoder is not None:
            recon = image_error(model.image_decoder(z_image), batch.image, batch.mask, False, c.hand_mask_weight)
            terms["image"] = c.image * masked_mean(recon, rows)
        return with_total(terms)
