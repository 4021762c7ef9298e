"""The dVAE's training objectives: small classes returning named loss terms.

``objective(model, batch) -> dict[str, Tensor]`` with scalar terms (already weighted) and
``"total"``, the one to minimise; ``objective.param_groups(model, base_lr)`` gives the
optimizer groups of its training step. Rows of a ``HandBatch`` are routed by their flags:

- ``has_3d``: labelled pose and viewpoint (and handedness);
- ``has_content``: a content tag (background + appearance) exists;
- ``has_2d`` without ``has_3d``: weak supervision by the 2D keypoints (step 2);
- neither: unlabelled, the plain ELBO (step 2, semi-supervised).

Each term is averaged over the rows it applies to (a batch without such rows gives 0), so
weights mean the same whatever the batch's mix. KL terms are summed over latent dimensions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from core import config_io
from core.data.sample import HandBatch
from core.hand.canonical import rotation_to_6d, to_canonical
from core.hand.joints import WRIST
from core.hand.kinematics import MEAN_REFERENCE_MM
from core.models.config import CONTENT, LABELLED_BLOCKS, POSE, VIEWPOINT
from core.models.dvae import DVAE, DecodedLabels, Step, compose_pose_3d
from core.models.gaussian import concat
from core.models.geometry import project, solve_root_translation
from core.models.heatmaps import heatmap_error, heatmap_targets
from core.models.pose_guided import DecodedImage


@dataclass
class LabelTargets:
    """Targets derived from a batch's 3D keypoints (rows without ``has_3d`` hold finite junk).

    canonical_pose (B, 21, 3); rotation_6d (B, 6); scale (B,) mm; relative (B, 21, 3) mm
    root-relative keypoints; is_left (B,) float 0/1.
    """

    canonical_pose: torch.Tensor
    rotation_6d: torch.Tensor
    scale: torch.Tensor
    relative: torch.Tensor
    is_left: torch.Tensor

    @classmethod
    def from_batch(cls, batch: HandBatch) -> "LabelTargets":
        keypoints = batch.keypoints_3d
        # unlabelled rows are zeros; give them a harmless non-degenerate pose (masked later)
        dummy = torch.zeros_like(keypoints)
        dummy[:, 9, 1] = 1.0
        dummy[:, 17, 0] = -0.5
        keypoints = torch.where(batch.has_3d.bool()[:, None, None], keypoints, dummy)
        canonical = to_canonical(keypoints, batch.is_left.bool())
        return cls(
            canonical_pose=canonical.pose,
            rotation_6d=rotation_to_6d(canonical.viewpoint),
            scale=canonical.scale,
            relative=keypoints - keypoints[:, WRIST : WRIST + 1],
            is_left=batch.is_left.to(keypoints.dtype),
        )


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of per-row ``values`` (B,) over rows where ``mask`` (B,) is true; 0 if none."""
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp_min(1.0)


def image_error(prediction: torch.Tensor, image: torch.Tensor, mask: torch.Tensor,
                use_l2: bool, hand_weight: float) -> torch.Tensor:
    """Per-image reconstruction error (B,): mean over pixels of L1 (or squared) error, pixels
    covered by the hand weighted ``1 + hand_weight`` (the hand is small next to the background)."""
    diff = prediction - image
    err = diff.square() if use_l2 else diff.abs()
    weight = 1.0 + hand_weight * mask
    return (err * weight).mean(dim=(1, 2, 3)) / (1.0 + hand_weight * mask.mean(dim=(1, 2, 3)))


def alpha_error(alpha: torch.Tensor | None, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image binary cross-entropy (B,) of a decoder's hand alpha (B, 1, S, S) against the
    coverage mask (B, 1, S, S), and which rows have a mask (B,) bool (a mask of zeros is
    "unknown": real datasets without one). No alpha (plain decoder): zeros, no rows."""
    has_mask = mask.flatten(1).amax(dim=1) > 0
    if alpha is None:
        return mask.new_zeros(mask.shape[0]), torch.zeros_like(has_mask)
    bce = F.binary_cross_entropy(alpha.clamp(1e-4, 1 - 1e-4), mask, reduction="none")
    return bce.mean(dim=(1, 2, 3)), has_mask


def joint_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance per row between point sets (B, J, 3) -> (B,), safe at 0."""
    return ((a - b).square().sum(-1) + 1e-8).sqrt().mean(-1)


@dataclass
class LabelLossWeights(config_io.DictConfig):
    """Weights of the label reconstruction terms log p(y_i | z_i) (shared by both steps)."""

    # version 2: handedness 1.0, was 0.1 (a saved config without the key keeps 0.1)
    CONFIG_VERSION: ClassVar[int] = 2
    PREVIOUS_DEFAULTS: ClassVar[dict[int, dict[str, Any]]] = {1: {"handedness": 0.1}}

    canonical_pose: float = 1.0   # mean joint distance, canonical units (1 = wrist->middle MCP)
    pose_3d_mm: float = 0.01      # mean joint distance of R @ pose * scale, mm
    viewpoint: float = 1.0        # squared error of the 6D rotation
    # binary cross-entropy of the handedness logit; at 0.1 the side of the hand was not learnt
    # within the shipped configs' budgets (docs/development.md, "Measurements behind the rules")
    handedness: float = 1.0
    appearance: float = 0.1       # squared error of the appearance parameters (content tag)


def label_terms(decoded: DecodedLabels, targets: LabelTargets, batch: HandBatch,
                w: LabelLossWeights, handedness_rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """Weighted label reconstruction terms, each a scalar averaged over the rows it applies to:
    pose and viewpoint terms over ``batch.has_3d``, handedness over ``handedness_rows`` (B,) bool,
    appearance over ``batch.has_content``."""
    has_3d = batch.has_3d.bool()
    pose_3d = compose_pose_3d(decoded.canonical_pose, decoded.rotation, targets.is_left, targets.scale)
    appearance_err = (decoded.appearance - batch.appearance).square().mean(-1)
    bce = F.binary_cross_entropy_with_logits(decoded.left_logit, targets.is_left, reduction="none")
    return {
        "canonical_pose": w.canonical_pose * masked_mean(
            joint_distance(decoded.canonical_pose, targets.canonical_pose), has_3d),
        "pose_3d_mm": w.pose_3d_mm * masked_mean(joint_distance(pose_3d, targets.relative), has_3d),
        "viewpoint": w.viewpoint * masked_mean((decoded.rotation_6d - targets.rotation_6d).square().sum(-1), has_3d),
        "handedness": w.handedness * masked_mean(bce, handedness_rows),
        "appearance": w.appearance * masked_mean(appearance_err, batch.has_content.bool()),
    }


def low_pass(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) blurred by [1, 2, 1] x [1, 2, 1] / 16 per channel (edges replicated): the
    2-px period (a checkerboard) is removed entirely, smooth content kept."""
    c = images.shape[1]
    row = images.new_tensor([1.0, 2.0, 1.0])
    kernel = (row[:, None] * row[None, :] / 16.0).expand(c, 1, 3, 3)
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=c)


def pose_cycle_error(model: DVAE, decoded: DecodedImage, targets: LabelTargets, batch: HandBatch,
                     w: LabelLossWeights, low_passed: bool = True) -> torch.Tensor:
    """How far the pose read back from syntheses is from the labels: the image encoder's mean for
    ``decoded``'s image (its hand layer over the background layer held fixed; ``low_pass``-ed
    when ``low_passed``), decoded by the label decoders; the weighted canonical-pose, 3D and viewpoint terms of ``label_terms`` (a
    scalar over ``batch.has_3d``). Gradients reach only the image decoder: the encoder and label
    decoders compute with their weights frozen."""
    background = None if decoded.background is None else decoded.background.detach()
    synthesis = decoded.image if background is None else decoded.with_background(background)
    if low_passed:
        synthesis = low_pass(synthesis)
    readers = [model.image_encoder, model.pose_decoder, model.viewpoint_decoder, model.appearance_decoder]
    flags = [[p.requires_grad for p in m.parameters()] for m in readers]
    try:
        for m in readers:
            m.requires_grad_(False)
        read = model.decode_labels(model.image_posterior(synthesis).mu)
    finally:
        for m, saved in zip(readers, flags):
            for p, flag in zip(m.parameters(), saved):
                p.requires_grad_(flag)
    terms = label_terms(read, targets, batch, w, batch.has_3d.bool())
    return terms["canonical_pose"] + terms["pose_3d_mm"] + terms["viewpoint"]


def with_total(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Add ``"total"``, the sum of every (already weighted) scalar term: what is minimised."""
    terms["total"] = torch.stack(list(terms.values())).sum()
    return terms


@dataclass
class DisentangleConfig(config_io.DictConfig):
    """Weights of step 1 (disentangling)."""

    labels: LabelLossWeights = field(default_factory=LabelLossWeights)
    image: float = 1.0
    image_l2: bool = False           # L1 pixel error otherwise
    hand_mask_weight: float = 2.0    # extra weight of hand pixels in the image error
    alpha: float = 1.0               # BCE of a compositing decoder's alpha vs the coverage mask
    # Pose cycle: the image encoder reads each synthesis back, and the pose and viewpoint that the
    # label decoders give from its mean are compared with the labels (the label terms' weights,
    # times this). An L1 image loss alone leaves fingers blurred into their background; this
    # term asks for a picture that the model's own estimator reads as the requested pose. The
    # encoder and label networks must be frozen (their lr scales 0): a trainable encoder would
    # learn to read blurred syntheses instead. The background layer is held fixed in the term, so
    # it cannot buy contrast with a halo around the hand.
    pose_cycle: float = 0.0
    # The encoder reads the synthesis low-passed ([1, 2, 1] x [1, 2, 1] / 16), which zeroes the
    # 2-px checkerboard of transposed convolutions: without it the cycle rewards drawing one
    # (seen in configs/bundled/04_pose_cycle.toml's run, which had it off).
    pose_cycle_low_pass: bool = True
    kl: float = 1e-3                 # KL(q(z_i | y_i) || N(0, I)), per nat, every block
    # learning-rate scales of this step's groups; 0 freezes a group (e.g. to train a new image
    # decoder into a trained model's latent space without moving that space)
    label_networks_lr_scale: float = 1.0
    image_encoder_lr_scale: float = 1.0


class DisentangleObjective:
    """Step 1: label encoders, label decoders and image decoder learn the latent space.

    Rows with ``has_3d``: z_pose, z_viewpoint ~ label encoders; z_content ~ content-tag encoder
    where ``has_content`` (variant a) else ~ the image encoder's content head (variant b);
    free blocks ~ the image encoder. Maximises sum_i log p(y_i | z_i) + log p(x | z) -
    sum_i KL(q(z_i | .) || N(0, I)). Rows without 3D labels do not contribute.
    """

    step = Step.DISENTANGLE

    def __init__(self, config: DisentangleConfig | None = None) -> None:
        self.config = config or DisentangleConfig()
        c = self.config
        if c.pose_cycle > 0 and (c.image_encoder_lr_scale > 0 or c.label_networks_lr_scale > 0):
            raise ValueError("disentangle.pose_cycle needs a frozen image encoder and label networks "
                             "(image_encoder_lr_scale = 0 and label_networks_lr_scale = 0): a trainable "
                             f"encoder would learn to read the syntheses; got {c.image_encoder_lr_scale} "
                             f"and {c.label_networks_lr_scale}")

    def param_groups(self, model: DVAE, base_lr: float) -> list[dict]:
        return model.param_groups(self.step, base_lr, label_networks_lr_scale=self.config.label_networks_lr_scale,
                                  image_encoder_lr_scale=self.config.image_encoder_lr_scale)

    def __call__(self, model: DVAE, batch: HandBatch, generator: torch.Generator | None = None
                 ) -> dict[str, torch.Tensor]:
        c, layout = self.config, model.layout
        targets = LabelTargets.from_batch(batch)
        has_3d = batch.has_3d.bool()
        # a frozen group (lr scale 0) needs no gradient: detach what it infers
        image_q = model.image_posterior(batch.image)
        if c.image_encoder_lr_scale == 0:
            image_q = image_q.detach()
        posteriors = model.posterior_from_labels(
            targets.canonical_pose, targets.rotation_6d, batch.is_left.bool(),
            content=model.content_posterior(batch.content, batch.appearance), has_content=batch.has_content,
            rest=image_q)
        if c.label_networks_lr_scale == 0:
            posteriors = {name: q.detach() if name in LABELLED_BLOCKS else q for name, q in posteriors.items()}
        q = concat(list(posteriors.values()))
        z = q.sample(generator)
        terms = label_terms(model.decode_labels(z), targets, batch, c.labels, has_3d)
        decoded_image = model.decode_layers(z, pose_gradient=c.label_networks_lr_scale > 0)
        recon = image_error(decoded_image.image, batch.image, batch.mask, c.image_l2, c.hand_mask_weight)
        terms["image"] = c.image * masked_mean(recon, has_3d)
        alpha_err, has_mask = alpha_error(decoded_image.alpha, batch.mask)
        terms["alpha"] = c.alpha * masked_mean(alpha_err, has_3d & has_mask)
        if c.pose_cycle > 0:
            terms["pose_cycle"] = c.pose_cycle * pose_cycle_error(model, decoded_image, targets, batch, c.labels,
                                                                  c.pose_cycle_low_pass)
        for name in layout.names:
            terms[f"kl_{name}"] = c.kl * masked_mean(posteriors[name].kl_to_prior(), has_3d)
        return with_total(terms)


@dataclass
class EmbeddingConfig(config_io.DictConfig):
    """Weights of step 2 (embedding), semi- and weak supervision, and its learning-rate split."""

    labels: LabelLossWeights = field(default_factory=LabelLossWeights)
    image: float = 1.0
    image_l2: bool = False
    hand_mask_weight: float = 2.0
    alpha: float = 1.0               # BCE of a compositing decoder's alpha vs the coverage mask
    match: float = 1e-3              # KL(q(z_i | x) || q(z_i | y_i)) per labelled block, per nat
    prior_kl: float = 1e-3           # KL(q(z_i | x) || N(0, I)) for blocks a row has no label for
    unlabelled: float = 1.0          # multiplies the ELBO terms of unlabelled rows
    weak_2d: float = 1.0             # robust 2D reprojection error, fraction of the crop size
    weak_2d_delta: float = 0.02      # Huber transition, fraction of the crop size
    weak_2d_cap: float = 1.0         # per-joint error cap, fraction of the crop size (bounds the term)
    weak_min_depth_mm: float = 100.0  # the solved root is moved so every joint is this far in front
    weak_scale_mm: float = MEAN_REFERENCE_MM  # hand scale assumed when only 2D is known
    decoder_lr_scale: float = 0.1    # 0 freezes the decoders
    label_encoder_lr_scale: float = 0.0  # 0 freezes them AND stops gradients into q(z | y)
    # Auxiliary 2D keypoint heatmaps (``core.models.heatmaps``; needs [model] keypoint_heatmap_size):
    # squared error per heatmap (summed over its cells, ~pi * sigma^2 for an all-zero prediction),
    # over rows with 2D keypoints. 0: no term and the head is not run.
    heatmap_weight: float = 0.0
    heatmap_sigma: float = 1.0       # the target Gaussians' sigma, in heatmap cells


class EmbeddingObjective:
    """Step 2: the image encoder q(z | x) is embedded into the disentangled latent space.

    All rows: z ~ q(z | x) is decoded to the image and to labels. Labelled blocks are matched to
    the label posteriors (KL(q(z_i | x) || q(z_i | y_i))); blocks without a label are pulled to
    the prior. 2D-only rows add the reprojection term; unlabelled rows the ELBO. With
    ``heatmap_weight`` the encoder's auxiliary keypoint head adds the ``heatmap`` term (rows with
    2D keypoints); it shapes the encoder's features, the pose still comes from z.
    """

    step = Step.EMBED

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        self.config = config or EmbeddingConfig()

    def param_groups(self, model: DVAE, base_lr: float) -> list[dict]:
        if self.config.heatmap_weight > 0 and model.keypoint_head is None:
            raise ValueError("embed.heatmap_weight > 0 needs a model with a keypoint heatmap head "
                             "([model] keypoint_heatmap_size, e.g. 16 for 64 px crops)")
        return model.param_groups(self.step, base_lr, self.config.decoder_lr_scale,
                                  self.config.label_encoder_lr_scale)

    def __call__(self, model: DVAE, batch: HandBatch, generator: torch.Generator | None = None
                 ) -> dict[str, torch.Tensor]:
        c, layout = self.config, model.layout
        targets = LabelTargets.from_batch(batch)
        has_3d, has_2d = batch.has_3d.bool(), batch.has_2d.bool()
        has_content = batch.has_content.bool()
        unlabelled = ~has_3d & ~has_2d
        weak = has_2d & ~has_3d
        row_weight = torch.where(unlabelled, torch.full_like(targets.scale, c.unlabelled), torch.ones_like(targets.scale))

        if c.heatmap_weight > 0:
            image_q, heatmaps = model.image_posterior_and_heatmaps(batch.image)
        else:
            image_q, heatmaps = model.image_posterior(batch.image), None
        z = image_q.sample(generator)
        decoded = model.decode_labels(z)
        terms = label_terms(decoded, targets, batch, c.labels, has_3d | has_2d)
        if heatmaps is not None:
            target = heatmap_targets(batch.keypoints_2d, batch.image.shape[-1], heatmaps.shape[-1], c.heatmap_sigma)
            terms["heatmap"] = c.heatmap_weight * masked_mean(heatmap_error(heatmaps, target), has_2d)
        decoded_image = model.decode_layers(z)
        recon = image_error(decoded_image.image, batch.image, batch.mask, c.image_l2, c.hand_mask_weight)
        terms["image"] = c.image * (recon * row_weight).mean()
        alpha_err, has_mask = alpha_error(decoded_image.alpha, batch.mask)
        terms["alpha"] = c.alpha * masked_mean(alpha_err * row_weight, has_mask)

        label_q = model.posterior_from_labels(targets.canonical_pose, targets.rotation_6d, batch.is_left.bool(),
                                              content=model.content_posterior(batch.content, batch.appearance))
        labelled_rows = {POSE: has_3d, VIEWPOINT: has_3d, CONTENT: has_content}
        for name in layout.names:
            block_q = image_q[layout.slice(name)]
            prior_kl = block_q.kl_to_prior()
            if name in labelled_rows:
                target_q, labelled = label_q[name], labelled_rows[name]
                if c.label_encoder_lr_scale == 0:
                    target_q = target_q.detach()
                terms[f"match_{name}"] = c.match * masked_mean(block_q.kl_to(target_q), labelled)
                terms[f"kl_{name}"] = c.prior_kl * masked_mean(prior_kl * row_weight, ~labelled)
            else:
                terms[f"kl_{name}"] = c.prior_kl * (prior_kl * row_weight).mean()
        terms["weak_2d"] = c.weak_2d * self._weak_term(decoded, batch, targets, weak)
        return with_total(terms)

    def _weak_term(self, decoded: DecodedLabels, batch: HandBatch, targets: LabelTargets,
                   rows: torch.Tensor) -> torch.Tensor:
        """Mean robust 2D error of the decoded pose, placed by the closed-form root solve."""
        weights = batch.visible.to(targets.scale.dtype)
        rows = rows & (weights.sum(-1) >= 2)
        if not bool(rows.any()):
            return decoded.canonical_pose.sum() * 0.0  # keeps the graph; no 2D-only rows
        c = self.config
        relative = compose_pose_3d(decoded.canonical_pose[rows], decoded.rotation[rows],
                                   targets.is_left[rows], c.weak_scale_mm)
        return robust_reprojection_error(relative, batch.keypoints_2d[rows], batch.K[rows], weights[rows],
                                         float(batch.image.shape[-1]), c.weak_2d_delta, c.weak_2d_cap,
                                         c.weak_min_depth_mm).mean()


def robust_reprojection_error(relative: torch.Tensor, keypoints_2d: torch.Tensor, K: torch.Tensor,
                              weights: torch.Tensor, crop_size: float, delta: float, cap: float,
                              min_depth_mm: float) -> torch.Tensor:
    """Per-row robust 2D error (B,) of root-relative poses placed by the closed-form root solve.

    relative (B, J, 3) mm, keypoints_2d (B, J, 2) px, K (B, 3, 3), weights (B, J) (>= 2 non-zero
    per row). The least-squares root (``solve_root_translation``) can lie behind the camera: a
    pose mirrored through its root fits the same rays from behind, and projected through a
    near-zero depth clamp such a pose lands tens of crop sizes off. So the root's depth is raised until every joint is ``min_depth_mm`` in front, and each joint's error,
    in crop sizes, is capped at ``cap`` before the Huber function (quadratic below ``delta``): a
    row adds at most ``cap - delta / 2``.
    """
    t = solve_root_translation(relative, keypoints_2d, K, weights)
    nearest = relative[..., 2].min(dim=-1).values
    depth = torch.maximum(t[:, 2], min_depth_mm - nearest)
    placed = relative + torch.cat([t[:, :2], depth[:, None]], dim=-1)[:, None]
    uv = project(placed, K, min_depth=min_depth_mm)
    err = (((uv - keypoints_2d).square().sum(-1) + 1e-8).sqrt() / crop_size).clamp(max=cap)
    robust = torch.where(err < delta, 0.5 * err.square() / delta, err - 0.5 * delta)
    return (robust * weights).sum(-1) / weights.sum(-1)
