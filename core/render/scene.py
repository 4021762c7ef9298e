"""Everything random about one synthetic sample, drawn from that sample's own seed.

Sample ``i`` of a dataset with seed ``s`` gets its own ``torch.Generator`` seeded with
``sample_seed(s, i)`` (and its hand from a group draw, see ``sample_scene``), so it is the same
image whichever batch, chunk or worker renders it.
Hands come from ``core.hand.sampling.sample_hands`` (natural poses, adult shapes, photo-like
viewpoints, both chiralities); appearance, camera framing, background and augmentation draws
come from a vector of uniforms per sample.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import torch

from core.hand.kinematics import HandShape, rot_x, rot_z
from core.hand.sampling import HandPoseSample, HandSamplerConfig, sample_hands
from core.render.camera import CameraParams
from core.render.shading import Appearance, skin_tone

NUM_BACKGROUND_DRAWS = 16
NUM_AUGMENT_DRAWS = 12
_MASK64 = (1 << 64) - 1


def sample_seed(seed: int, index: int) -> int:
    """A well-mixed 63-bit seed for sample ``index`` of a dataset seeded ``seed`` (splitmix64)."""
    z = (seed * 0x9E3779B97F4A7C15 + index + 0x632BE59BD9B4E019) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) & ((1 << 63) - 1)


@dataclass(frozen=True)
class AppearanceRanges:
    """Distributions of skin, light, sleeves and the wrist's bend."""

    ambient: tuple[float, float] = (0.18, 0.5)
    key: tuple[float, float] = (0.55, 1.15)
    backlight_fraction: float = 0.12       # key light from behind the hand
    skin_jitter: float = 0.03              # per-channel sRGB jitter around the tone curve
    sleeve_fraction: float = 0.45
    sleeve_start_mm: tuple[float, float] = (15.0, 110.0)
    forearm_fraction: float = 0.92         # else a closed wrist
    wrist_flexion_deg: tuple[float, float] = (-35.0, 35.0)
    wrist_deviation_deg: tuple[float, float] = (-15.0, 20.0)


@dataclass(frozen=True)
class CameraRanges:
    """Framing: distance, share of the crop the keypoint box fills, and off-centre jitter."""

    distance_mm: tuple[float, float] = (280.0, 800.0)
    fill: tuple[float, float] = (0.68, 0.82)
    shift: float = 0.04  # uniform in +-shift crop sides


@dataclass(frozen=True)
class SceneConfig:
    """The distribution of synthetic scenes."""

    hands: HandSamplerConfig = field(default_factory=HandSamplerConfig)
    appearance: AppearanceRanges = field(default_factory=AppearanceRanges)
    camera: CameraRanges = field(default_factory=CameraRanges)


@dataclass
class Scene:
    """B sampled scenes (one per index), ready for ``HandRenderer.render``."""

    indices: torch.Tensor        # (B,) int64 sample indices
    angles: torch.Tensor         # (B, 20) rad
    shape: HandShape
    viewpoint: torch.Tensor      # (B, 3, 3) hand frame -> camera frame
    is_left: torch.Tensor        # (B,) bool
    appearance: Appearance
    camera: CameraParams
    background_draws: torch.Tensor  # (B, NUM_BACKGROUND_DRAWS) uniforms for the background
    augment_draws: torch.Tensor     # (B, NUM_AUGMENT_DRAWS) uniforms for the augmentation
    generators: list[torch.Generator]  # per sample, for draws of image size (noise)
    seeds: list[int]             # per sample, ``sample_seed(seed, index)``: extra streams (``salted_generators``)


def salted_generators(seeds: list[int], salt: int) -> list[torch.Generator]:
    """One fresh generator per sample seed, seeded ``sample_seed(seed, salt)``: a stream of its own
    for an optional stage (occluders, amplitude mixing), so that turning the stage on or off leaves
    every other draw of the sample as it was."""
    return [torch.Generator().manual_seed(sample_seed(s, salt)) for s in seeds]


def _lerp(u: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return bounds[0] + (bounds[1] - bounds[0]) * u


def _appearance(u: torch.Tensor, ranges: AppearanceRanges) -> Appearance:
    """Appearance from uniforms u (B, 16)."""
    batch = u.shape[0]
    skin = skin_tone(u[:, 0]) + ranges.skin_jitter * (2 * u[:, 1:4] - 1)
    # Key light: mostly from the camera's side and from above (image -y), sometimes behind.
    azimuth = (u[:, 4] - 0.5) * 2.4
    elevation = (u[:, 5] - 0.3) * 1.6
    light = torch.stack(
        [torch.sin(azimuth) * torch.cos(elevation), -torch.sin(elevation), -torch.cos(azimuth) * torch.cos(elevation)], 1
    )
    behind = u[:, 6] < ranges.backlight_fraction
    light[:, 2] = torch.where(behind, light[:, 2].abs() * 0.6, light[:, 2])
    light = light / light.norm(dim=1, keepdim=True)
    sleeve_on = u[:, 7] < ranges.sleeve_fraction
    sleeve_start = torch.where(sleeve_on, _lerp(u[:, 8], ranges.sleeve_start_mm), torch.full((batch,), math.inf))
    # Sleeves: mostly muted colours, sometimes saturated.
    grey = _lerp(u[:, 9], (0.05, 0.9))
    tint = torch.stack([u[:, 10], u[:, 11], u[:, 12]], 1) - 0.5
    sleeve = (grey[:, None] + tint * _lerp(u[:, 13], (0.1, 0.9))[:, None]).clamp(0.02, 0.98)
    deg = math.pi / 180
    wrist = rot_x(_lerp(u[:, 14], ranges.wrist_flexion_deg) * deg) @ rot_z(_lerp(u[:, 15], ranges.wrist_deviation_deg) * deg)
    return Appearance(
        skin_rgb=skin.clamp(0, 1),
        light_dir=light,
        ambient=_lerp(u[:, 16], ranges.ambient),
        key=_lerp(u[:, 17], ranges.key),
        sleeve_rgb=sleeve,
        sleeve_start_mm=sleeve_start,
        show_forearm=u[:, 18] < ranges.forearm_fraction,
        forearm_rotation=wrist,
    )


def _camera(u: torch.Tensor, ranges: CameraRanges) -> CameraParams:
    return CameraParams(
        distance_mm=_lerp(u[:, 0], ranges.distance_mm),
        fill=_lerp(u[:, 1], ranges.fill),
        shift=(2 * u[:, 2:4] - 1) * ranges.shift,
    )


_APPEARANCE_DRAWS = 19
_CAMERA_DRAWS = 4


HAND_GROUP = 64  # hands are drawn in aligned groups of this many indices (one sampler call each)


def _group_hands(group: int, seed: int, config: SceneConfig) -> HandPoseSample:
    g = torch.Generator().manual_seed(sample_seed(seed ^ 0x4A4E_D5, group))
    return sample_hands(HAND_GROUP, g, config.hands)


class HandGroups:
    """The hands of recently drawn sample groups of one scene config, the newest ``capacity`` kept.

    Shuffled draws from a finite pool land in a new group for nearly every sample, and each new
    group solves ``HAND_GROUP`` hands: without this cache a batch of such draws would solve
    ``HAND_GROUP`` hands for every one it uses.
    Callers only read the cached tensors (``index_select`` copies).
    """

    def __init__(self, config: SceneConfig, capacity: int = 512) -> None:
        self.config, self.capacity = config, capacity
        self._groups: OrderedDict[tuple[int, int], HandPoseSample] = OrderedDict()

    def __len__(self) -> int:
        return len(self._groups)

    def __call__(self, group: int, seed: int) -> HandPoseSample:
        key = (group, seed)
        if key in self._groups:
            self._groups.move_to_end(key)
            return self._groups[key]
        hands = self._groups[key] = _group_hands(group, seed, self.config)
        if len(self._groups) > self.capacity:
            self._groups.popitem(last=False)
        return hands


def sample_scene(indices: torch.Tensor | list[int], seed: int, config: SceneConfig = SceneConfig(),
                 hand_groups: HandGroups | None = None) -> Scene:
    """Draw the scenes of the given sample indices (CPU tensors; the renderer moves them).

    Sample i's hand is row ``i % HAND_GROUP`` of one ``sample_hands`` call for its group (the
    sampler is batched; per-sample calls cost more than rendering); everything else is drawn
    from the sample's own generator. Either way sample i depends only on (seed, i). ``hand_groups``
    (made for the same ``config``) keeps drawn groups for later calls.
    """
    indices = torch.as_tensor(indices, dtype=torch.int64).reshape(-1)
    generators, draws, seeds = [], [], []
    width = _APPEARANCE_DRAWS + _CAMERA_DRAWS + NUM_BACKGROUND_DRAWS + NUM_AUGMENT_DRAWS
    for index in indices.tolist():
        seeds.append(sample_seed(seed, index))
        g = torch.Generator().manual_seed(seeds[-1])
        draws.append(torch.rand(1, width, generator=g))
        generators.append(g)
    u = torch.cat(draws)
    groups = torch.div(indices, HAND_GROUP, rounding_mode="floor")
    rows = indices - groups * HAND_GROUP
    angles = torch.empty(len(indices), 20)
    viewpoint = torch.empty(len(indices), 3, 3)
    is_left = torch.empty(len(indices), dtype=torch.bool)
    base_positions = torch.empty(len(indices), 5, 3)
    base_rotations = torch.empty(len(indices), 5, 3, 3)
    segment_lengths = torch.empty(len(indices), 5, 3)
    for group in torch.unique(groups).tolist():
        hands = _group_hands(group, seed, config) if hand_groups is None else hand_groups(group, seed)
        where = torch.nonzero(groups == group).squeeze(1)
        pick = rows.index_select(0, where)
        angles[where] = hands.angles.index_select(0, pick)
        viewpoint[where] = hands.viewpoint.index_select(0, pick)
        is_left[where] = hands.is_left.index_select(0, pick)
        base_positions[where] = hands.shape.base_positions.index_select(0, pick)
        base_rotations[where] = hands.shape.base_rotations.index_select(0, pick)
        segment_lengths[where] = hands.shape.segment_lengths.index_select(0, pick)
    a, c, b = _APPEARANCE_DRAWS, _APPEARANCE_DRAWS + _CAMERA_DRAWS, _APPEARANCE_DRAWS + _CAMERA_DRAWS + NUM_BACKGROUND_DRAWS
    return Scene(
        indices=indices,
        angles=angles,
        shape=HandShape(base_positions, base_rotations, segment_lengths),
        viewpoint=viewpoint,
        is_left=is_left,
        appearance=_appearance(u[:, :a], config.appearance),
        camera=_camera(u[:, a:c], config.camera),
        background_draws=u[:, c:b],
        augment_draws=u[:, b:],
        generators=generators,
        seeds=seeds,
    )
