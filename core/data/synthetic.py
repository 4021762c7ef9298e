"""Labelled synthetic hands: a map-style dataset, a fast batch source, and same-pose pairs.

Sample ``i`` under seed ``s`` is drawn from its own generator (``core.render.scene``): the same
image whether it comes from ``SyntheticHandsDataset[i]``, a ``SyntheticBatchSource`` batch or
the ``train.data generate`` CLI. Every ``HandSample`` field is filled:

- image: the composite, with occluders (``SyntheticConfig.occluders``, off by default), then
  augmented (``core.render.augment``) and amplitude-mixed (``core.render.spectrum``, off by
  default); mask: the hand's coverage (occluders do not change it); content: the background alone
  (the "content tag", before augmentation); appearance: (8,) skin rgb, key light direction,
  ambient, key intensity (``core.render.shading.Appearance``);
- keypoints_3d (mm, camera frame), keypoints_2d (their projection with K), visible
  (not self-occluded and inside the crop), crop_rotation = identity (the virtual camera
  already looks at the hand), is_left, has_3d / has_2d / has_content True, index.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset

from core.data.sample import HandBatch, HandSample
from core.render.augment import AugmentConfig, augment_images
from core.render.backgrounds import BackgroundConfig, BackgroundSource
from core.render.occluders import OccluderConfig, Occluders
from core.render.renderer import HandRenderer, RenderConfig, RenderOutput, composite
from core.render.scene import HandGroups, Scene, SceneConfig, salted_generators, sample_scene, sample_seed
from core.render.spectrum import AmplitudeMixer

_PAIR_SALT = 0x5EED_0F_C0_17E7  # second content of a pair comes from a different seed stream
# the optional stages draw from streams of their own (``salted_generators``)
_OCCLUDER_SALT = 0x0CC1_0DE5
_AMPLITUDE_SALT = 0xA3B1_17DE


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines a synthetic data stream (besides its seed)."""

    render: RenderConfig = field(default_factory=RenderConfig)
    scene: SceneConfig = field(default_factory=SceneConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # shapes pasted over the hand before augmentation (labels and mask unchanged)
    occluders: OccluderConfig = field(default_factory=OccluderConfig)

    @staticmethod
    def at_size(size: int, **kwargs) -> "SyntheticConfig":
        """The default stream at a crop size of ``size`` pixels."""
        return SyntheticConfig(render=RenderConfig(size=size), **kwargs)


@dataclass
class SyntheticBatch:
    """A rendered batch with what produced it (the CLI stores factor labels from ``scene``)."""

    batch: HandBatch
    scene: Scene
    render: RenderOutput


class SyntheticRenderer:
    """Renders HandBatches for lists of sample indices under a seed, on one device."""

    def __init__(self, config: SyntheticConfig = SyntheticConfig(), device: torch.device | str = "cpu"):
        self.config = config
        self.device = torch.device(device)
        self.hands = HandRenderer(config.render, self.device)
        self.backgrounds = BackgroundSource(config.background, self.device)
        self.hand_groups = HandGroups(config.scene)  # random access (pools, shuffled datasets) reuses groups
        self.occluders = Occluders(config.occluders, self.backgrounds)
        augment = config.augment
        self.amplitude_mixer = (AmplitudeMixer(augment, config.render.size, self.device)
                                if augment.enabled and augment.amplitude_mix_probability > 0 else None)

    @property
    def size(self) -> int:
        """Crop side in pixels."""
        return self.config.render.size

    def _render_scene(self, scene: Scene) -> RenderOutput:
        return self.hands.render(scene.angles, scene.shape, scene.viewpoint, scene.is_left, scene.appearance, scene.camera)

    def _image(self, scene: Scene, out: RenderOutput, content: torch.Tensor) -> torch.Tensor:
        """The training image (B, 3, S, S): composite, occluders, augmentation, amplitude mixing."""
        image = composite(out, content)
        if self.config.occluders.probability > 0:
            image = self.occluders(image, out.coverage, salted_generators(scene.seeds, _OCCLUDER_SALT))
        image = augment_images(image, scene.augment_draws, scene.generators, self.config.augment)
        if self.amplitude_mixer is not None:
            image = self.amplitude_mixer(image, salted_generators(scene.seeds, _AMPLITUDE_SALT))
        return image

    def _assemble(self, scene: Scene, out: RenderOutput, content: torch.Tensor) -> HandBatch:
        image = self._image(scene, out, content)
        batch = scene.indices.shape[0]
        ones = torch.ones(batch, dtype=torch.bool, device=self.device)
        return HandBatch(
            image=image,
            mask=out.coverage,
            keypoints_3d=out.keypoints_3d,
            keypoints_2d=out.keypoints_2d,
            visible=out.visible,
            K=out.K,
            crop_rotation=torch.eye(3, device=self.device).expand(batch, 3, 3).clone(),
            is_left=scene.is_left.to(self.device),
            content=content,
            appearance=scene.appearance.as_vector().to(self.device),
            has_3d=ones,
            has_2d=ones.clone(),
            has_content=ones.clone(),
            index=scene.indices.to(self.device),
        )

    def render(self, indices: torch.Tensor | list[int], seed: int) -> SyntheticBatch:
        """Samples ``indices`` of the stream seeded ``seed`` as one batch."""
        return self.render_scene(sample_scene(indices, seed, self.config.scene, self.hand_groups))

    def render_scene(self, scene: Scene) -> SyntheticBatch:
        """A batch of given scenes (e.g. drawn by ``sample_scene``, then posed by hand)."""
        out = self._render_scene(scene)
        content = self.backgrounds(scene.background_draws, self.size)
        return SyntheticBatch(self._assemble(scene, out, content), scene, out)

    def render_pairs(self, indices: torch.Tensor | list[int], seed: int,
                     change_appearance: bool = True) -> tuple[HandBatch, HandBatch]:
        """Two batches with exactly the same hands (pose, shape, view, handedness, framing).

        The second has another background (content) and augmentation, and with
        ``change_appearance`` another skin tone and lighting. The first equals ``render``.
        Without ``change_appearance`` one render composites over both backgrounds.
        """
        scene = sample_scene(indices, seed, self.config.scene, self.hand_groups)
        other = sample_scene(indices, sample_seed(seed, _PAIR_SALT), self.config.scene, self.hand_groups)
        out = self._render_scene(scene)
        first = self._assemble(scene, out, self.backgrounds(scene.background_draws, self.size))
        second_scene = Scene(
            indices=scene.indices, angles=scene.angles, shape=scene.shape, viewpoint=scene.viewpoint,
            is_left=scene.is_left, appearance=other.appearance if change_appearance else scene.appearance,
            camera=scene.camera, background_draws=other.background_draws, augment_draws=other.augment_draws,
            generators=other.generators, seeds=other.seeds,
        )
        # Keep the forearm, sleeve and wrist bend of the first: they are part of the hand's pose.
        second_scene.appearance.show_forearm = scene.appearance.show_forearm
        second_scene.appearance.forearm_rotation = scene.appearance.forearm_rotation
        out2 = self._render_scene(second_scene) if change_appearance else out
        second = self._assemble(second_scene, out2, self.backgrounds(other.background_draws, self.size))
        return first, second


class SyntheticHandsDataset(Dataset):
    """Map-style, endless (``length`` defaults to 10**9) and deterministic per index under ``seed``.

    Renders on the CPU in aligned blocks of ``block_size`` indices and keeps the last block, so
    sequential reading runs at batch speed; random access renders a block per miss. For
    training, ``SyntheticBatchSource`` is faster still. Returns ``HandSample`` on the CPU.
    """

    def __init__(self, config: SyntheticConfig = SyntheticConfig(), seed: int = 0, length: int = 10**9,
                 block_size: int = 32):
        self.config = config
        self.seed = int(seed)
        self.length = int(length)
        self.block_size = max(1, int(block_size))
        self._renderer: SyntheticRenderer | None = None  # built lazily: once per worker process
        self._block: tuple[int, HandBatch] | None = None

    def __len__(self) -> int:
        return self.length

    def __getstate__(self) -> dict:
        # DataLoader workers build their own renderer; do not pickle this process's one.
        state = dict(self.__dict__)
        state["_renderer"] = None
        state["_block"] = None
        return state

    def __getitem__(self, index: int) -> HandSample:
        if not 0 <= index < self.length:
            raise IndexError(f"SyntheticHandsDataset: index {index} outside [0, {self.length})")
        start = index - index % self.block_size
        if self._block is None or self._block[0] != start:
            if self._renderer is None:
                self._renderer = SyntheticRenderer(self.config, "cpu")
            stop = min(start + self.block_size, self.length)
            self._block = (start, self._renderer.render(list(range(start, stop)), self.seed).batch)
        batch = self._block[1]
        row = index - start
        return HandSample(**{name: getattr(batch, name)[row] for name in HandSample.__dataclass_fields__})


class SyntheticBatchSource:
    """Endless iterator of ``HandBatch`` rendered as one batch on ``device`` (CPU or CUDA).

    Batch k holds samples ``[start + k * batch_size, ...)`` of the stream seeded ``seed``.
    """

    def __init__(self, config: SyntheticConfig = SyntheticConfig(), seed: int = 0, batch_size: int = 64,
                 device: torch.device | str = "cpu", start: int = 0):
        self.renderer = SyntheticRenderer(config, device)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.next_index = int(start)

    def __iter__(self) -> "SyntheticBatchSource":
        return self

    def _take(self) -> list[int]:
        indices = list(range(self.next_index, self.next_index + self.batch_size))
        self.next_index += self.batch_size
        return indices

    def __next__(self) -> HandBatch:
        return self.renderer.render(self._take(), self.seed).batch

    def next_pairs(self, change_appearance: bool = True) -> tuple[HandBatch, HandBatch]:
        """The next batch as a same-hands pair (see ``SyntheticRenderer.render_pairs``)."""
        return self.renderer.render_pairs(self._take(), self.seed, change_appearance)
