"""Typed configuration of the dVAE: the latent layout and the network widths.

Every config round-trips through plain JSON-compatible dicts with explicit ``to_dict`` /
``from_dict`` functions (checkpoints store them as JSON; no pickle, no eval), both
``core.config_io``'s. ``from_dict`` rejects unknown keys, naming them, so a checkpoint written by another architecture fails loudly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from core import config_io

# Block names with a role in the model. Every other block of a layout is "free": it is inferred
# from the image only (the paper's z_u) and has the prior N(0, I) when synthesising from labels.
POSE = "pose"
VIEWPOINT = "viewpoint"
CONTENT = "content"
LABELLED_BLOCKS = (POSE, VIEWPOINT, CONTENT)
# The blocks a 3D pose sets: a pose edit or a pose transfer replaces these and keeps the rest.
POSE_BLOCKS = (POSE, VIEWPOINT)


@dataclass(frozen=True)
class LatentBlock:
    """One named block of the latent vector."""

    name: str
    size: int

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"latent block {self.name!r} needs a positive size, got {self.size}")


@dataclass(frozen=True)
class LatentLayout(config_io.DictConfig):
    """Ordered latent blocks; ``z`` is their concatenation, shape (B, dim)."""

    blocks: tuple[LatentBlock, ...] = (
        LatentBlock(POSE, 24),
        LatentBlock(VIEWPOINT, 8),
        LatentBlock(CONTENT, 24),
        LatentBlock("free", 8),
    )

    def __post_init__(self) -> None:
        names = [b.name for b in self.blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"latent block names must be unique, got {names}")
        missing = [n for n in LABELLED_BLOCKS if n not in names]
        if missing:
            raise ValueError(f"latent layout lacks the block(s) {missing}; it has {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.blocks)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(b.size for b in self.blocks)

    @property
    def dim(self) -> int:
        return sum(self.sizes)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Blocks without a label: always inferred from the image."""
        return tuple(n for n in self.names if n not in LABELLED_BLOCKS)

    def size(self, name: str) -> int:
        return self.blocks[self._index(name)].size

    def slice(self, name: str) -> slice:
        """Position of block ``name`` in the latent vector."""
        i = self._index(name)
        start = sum(self.sizes[:i])
        return slice(start, start + self.sizes[i])

    @property
    def slices(self) -> dict[str, slice]:
        return {n: self.slice(n) for n in self.names}

    def split(self, z: Any) -> dict[str, Any]:
        """(B, dim) -> {name: (B, size)} (torch tensors or numpy arrays)."""
        return {n: z[..., s] for n, s in self.slices.items()}

    def _index(self, name: str) -> int:
        for i, b in enumerate(self.blocks):
            if b.name == name:
                return i
        raise KeyError(f"no latent block named {name!r}; blocks are {self.names}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LatentLayout":
        """Read by ``core.config_io.from_dict``; a stored layout always names its blocks."""
        layout = config_io.from_dict(cls, data)
        if "blocks" not in data:
            raise KeyError("blocks")
        return layout


@dataclass(frozen=True)
class DVAEConfig(config_io.DictConfig):
    """Everything that determines the dVAE's architecture (and so its checkpoint's tensors).

    ``image_size`` must be a power of two >= 32. The image networks work in ``num_stages``
    stride-2 stages between image_size and 4x4. The encoder's stages use the LAST
    ``num_stages`` entries of ``encoder_widths`` (a full-resolution stem comes first); the
    decoder starts at 4x4 with ``decoder_widths[-num_stages - 1]`` channels and its stages use
    the last ``num_stages`` entries; the content-tag encoder uses the last ``num_stages`` of
    ``content_widths``. Narrow ends are what smaller images drop, so one list serves 64 and 128.
    """

    # version 2: colour_paths on by default; version 3: decoder_resize_conv on by default
    # (``core.config_io``: a saved config without the key keeps its version's default)
    CONFIG_VERSION: ClassVar[int] = 3
    PREVIOUS_DEFAULTS: ClassVar[dict[int, dict[str, Any]]] = {1: {"colour_paths": False},
                                                               2: {"decoder_resize_conv": False}}

    image_size: int = 128
    layout: LatentLayout = field(default_factory=LatentLayout)
    # image encoder: a full-resolution stem, then one stride-2 residual stage per halving to 4x4
    encoder_stem: int = 24
    encoder_widths: tuple[int, ...] = (32, 64, 128, 192, 256)
    # encoder stages whose output resolution is <= this get a second, stride-1 residual block; the
    # defaults keep ``HandModel.estimate`` within its latency target (``python -m train.bench``)
    encoder_deep_upto: int = 32
    # image decoder: 4x4 from a linear layer, then one upsampling residual stage per doubling
    decoder_widths: tuple[int, ...] = (256, 192, 128, 64, 32, 16)
    # decoder stages at resolutions <= this also get a residual 3x3 block (costly at high res)
    decoder_residual_upto: int = 32
    # content-tag encoder (background image + appearance), plain strided convs
    content_widths: tuple[int, ...] = (16, 32, 64, 96, 128)
    appearance_dim: int = 8
    # label MLPs (pose, viewpoint, appearance)
    mlp_hidden: int = 256
    mlp_layers: int = 2
    # the pose networks see (canonical pose - rest pose) / pose_unit: poses differ from one another
    # by ~0.1 canonical units, and unnormalised inputs let q(z_pose | y_pose) collapse to the prior
    pose_unit: float = 0.1
    norm_groups: int = 8
    # decoder output = sigmoid(logits); the logvar head is clamped to this range
    logvar_min: float = -8.0
    logvar_max: float = 4.0
    # Global colour paths: the image and content-tag encoders' heads also see their input's mean
    # colour, and the image decoder adds a coarse 4x4 colour map (upsampled) to its output.
    # GroupNorm removes each sample's per-group mean and scale, so without these paths a small
    # model cannot carry a background's colour (docs/development.md, "Measurements behind the
    # rules"). Off in config version 1: a saved config without the key builds no paths.
    colour_paths: bool = True
    # The pose-guided image decoder (``core.models.pose_guided``): the decoded 3D pose is drawn
    # as skeleton maps that enter every decoder stage, the appearance blocks modulate every stage.
    # Off: the paper's plain decoder (and every checkpoint saved before this option existed).
    decoder_pose_maps: bool = False
    # With the pose-guided decoder: a hand layer (colour + alpha) over a background layer
    # decoded from the appearance blocks; the alpha learns from the renderer's coverage mask.
    decoder_compositing: bool = False
    # Training only: an auxiliary head (``core.models.heatmaps``) on the image encoder's feature map
    # of this side (a power of two from 4 to image_size / 2; 16 = a 64 px crop's 16x16 level)
    # predicts the 21 keypoints' 2D heatmaps, trained by ``EmbeddingConfig.heatmap_weight``;
    # inference never runs it. 0: no head (every checkpoint saved before this option existed).
    keypoint_heatmap_size: int = 0
    # With the pose-guided decoder: the side of the images it synthesises, a power of two >=
    # image_size (0: image_size). The image and content-tag encoders still read image_size crops;
    # larger training images are area-resampled for them (``DVAE.image_posterior``). A sharper
    # picture at the cost of decoder stages only: the latent space and the encoders stay.
    decoder_image_size: int = 0
    # Pose-guided decoder stages upsample by nearest-neighbour resampling then a 3x3 convolution
    # (resize-convolution), which cannot draw the checkerboard of a stride-2 transposed
    # convolution (Odena et al. 2016); off: ConvTranspose2d(k=4, s=2) (configs before version 3).
    decoder_resize_conv: bool = True

    def __post_init__(self) -> None:
        n = self.image_size
        if n < 32 or n & (n - 1):
            raise ValueError(f"image_size must be a power of two >= 32, got {n}")
        r = self.keypoint_heatmap_size
        if r and (r < 4 or r > n // 2 or r & (r - 1)):
            raise ValueError(f"keypoint_heatmap_size must be 0 or a power of two from 4 to {n // 2}, got {r}")
        for name, need in (("encoder_widths", self.num_stages), ("decoder_widths", self.num_stages + 1),
                           ("content_widths", self.num_stages)):
            if len(getattr(self, name)) < need:
                raise ValueError(f"{name} needs >= {need} entries for image_size {n}")
        if self.decoder_compositing and not self.decoder_pose_maps:
            raise ValueError("decoder_compositing needs decoder_pose_maps (the plain decoder has no layers)")
        d = self.decoder_image_size
        if d:
            if d < n or d & (d - 1):
                raise ValueError(f"decoder_image_size must be 0 or a power of two >= image_size ({n}), got {d}")
            if not self.decoder_pose_maps:
                raise ValueError("decoder_image_size needs decoder_pose_maps (the plain decoder outputs image_size)")
            if len(self.decoder_widths) < self.decoder_stages + 1:
                raise ValueError(f"decoder_widths needs >= {self.decoder_stages + 1} entries for decoder_image_size {d}")

    @property
    def num_stages(self) -> int:
        """Halvings from image_size/2 down to 4x4 (encoder) = doublings 4 -> image_size (decoder)."""
        return (self.image_size // 4).bit_length() - 1

    @property
    def output_size(self) -> int:
        """The side of the synthesised images: ``decoder_image_size``, or ``image_size`` when 0."""
        return self.decoder_image_size or self.image_size

    @property
    def decoder_stages(self) -> int:
        """Doublings of the image decoder, 4x4 -> ``output_size``."""
        return (self.output_size // 4).bit_length() - 1

    @property
    def latent_dim(self) -> int:
        return self.layout.dim

    @classmethod
    def small(cls) -> "DVAEConfig":
        """The 64x64 configuration (fast experiments, tests): narrower networks, same layout;
        the model of ``configs/bundled/01_plain.toml``."""
        return cls(
            image_size=64,
            encoder_stem=16,
            encoder_widths=(32, 48, 96, 160),
            decoder_widths=(192, 128, 64, 32, 16),
            content_widths=(16, 32, 64, 96),
            mlp_hidden=128,
        )

    @classmethod
    def tiny(cls) -> "DVAEConfig":
        """A very small 32x32 model for unit tests only; without colour paths, like
        ``configs/tiny.toml`` (tests that need them turn them on)."""
        return cls(
            image_size=32,
            layout=LatentLayout((LatentBlock(POSE, 8), LatentBlock(VIEWPOINT, 4), LatentBlock(CONTENT, 4),
                                 LatentBlock("free", 4))),
            encoder_stem=8, encoder_widths=(16, 16, 32), decoder_widths=(32, 32, 16, 8),
            content_widths=(8, 16, 16), mlp_hidden=32, norm_groups=4, colour_paths=False,
        )
