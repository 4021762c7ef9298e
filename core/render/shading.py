"""Skin shading of posed points: soft wrap lighting (subsurface look), fill light, nails, sleeves.

Colours are sRGB in [0, 1]; lighting happens in linear light. The eight numbers a dataset
exposes as the appearance label (``Appearance.as_vector``) are skin rgb (3), the direction
toward the key light in the camera frame (3), ambient and key intensity; the fill light is
derived from them, so the label determines the shading of the hand's skin.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from core.render.bake import PART_NAIL

# Skin tones from very light to very dark (sRGB), interpolated by a tone in [0, 1].
SKIN_TONES_SRGB = (
    (0.96, 0.80, 0.70),
    (0.90, 0.69, 0.57),
    (0.80, 0.57, 0.43),
    (0.66, 0.45, 0.32),
    (0.50, 0.33, 0.22),
    (0.34, 0.22, 0.15),
    (0.23, 0.15, 0.11),
)
PALM_TINT_SRGB = (0.90, 0.68, 0.60)   # palms and soles are lighter, most visibly on dark skin
NAIL_TINT_SRGB = (1.00, 0.86, 0.84)


@dataclass(frozen=True)
class ShadingConfig:
    """Constants of the skin shader."""

    wrap_rgb: tuple[float, float, float] = (0.55, 0.38, 0.30)  # red light wraps further (scattering)
    sleeve_wrap: float = 0.15
    palm_tint_strength: float = 0.45  # times the skin's darkness: light skin barely changes
    nail_tint_strength: float = 0.28
    ao_floor: float = 0.3            # baked occlusion darkens to at most this (creases stay skin)
    albedo_noise: float = 0.035
    redness: float = 0.08            # fingertip pads and knuckles
    crease_darkening: float = 0.3      # low-frequency blotchiness; strong noise reads as scales
    fill_ratio: float = 0.6          # fill intensity relative to ambient
    specular: float = 0.05
    specular_power: float = 14.0
    nail_specular: float = 0.12
    gamma: float = 2.2


@dataclass
class Appearance:
    """Per-hand appearance (B of each); ``as_vector`` gives the (B, 8) label."""

    skin_rgb: torch.Tensor        # (B, 3) sRGB
    light_dir: torch.Tensor       # (B, 3) unit vector toward the key light, camera frame
    ambient: torch.Tensor         # (B,)
    key: torch.Tensor             # (B,) key light intensity
    sleeve_rgb: torch.Tensor      # (B, 3) sRGB sleeve colour
    sleeve_start_mm: torch.Tensor  # (B,) sleeve begins this far below the wrist; +inf = bare arm
    show_forearm: torch.Tensor    # (B,) bool: forearm drawn, else a closed wrist
    forearm_rotation: torch.Tensor  # (B, 3, 3) wrist flexion / deviation applied to the forearm

    def as_vector(self) -> torch.Tensor:
        """(B, 8): skin rgb, light direction, ambient, key."""
        return torch.cat([self.skin_rgb, self.light_dir, self.ambient[:, None], self.key[:, None]], dim=1)

    def to(self, device: torch.device | str) -> "Appearance":
        return Appearance(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @staticmethod
    def stack(items: list["Appearance"]) -> "Appearance":
        return Appearance(**{f.name: torch.cat([getattr(a, f.name) for a in items]) for f in fields(Appearance)})


def skin_tone(tone: torch.Tensor) -> torch.Tensor:
    """sRGB skin colour (B, 3) for tones (B,) in [0, 1] (0 = lightest)."""
    table = torch.tensor(SKIN_TONES_SRGB, dtype=tone.dtype, device=tone.device)
    pos = tone.clamp(0, 1) * (len(SKIN_TONES_SRGB) - 1)
    lo = pos.floor().long().clamp(max=len(SKIN_TONES_SRGB) - 2)
    frac = (pos - lo.to(pos.dtype))[:, None]
    return table[lo] * (1 - frac) + table[lo + 1] * frac


def shade_points(
    config: ShadingConfig,
    appearance: Appearance,
    batch_index: torch.Tensor,
    positions: torch.Tensor,
    normals: torch.Tensor,
    attributes: torch.Tensor,
    part: torch.Tensor,
) -> torch.Tensor:
    """sRGB colours (3, K) of K packed points.

    batch_index: (K,) hand of each point; positions, normals: (3, K) camera frame (normals need
    not be unit); attributes: (6, K) rows ao, palmar, forearm_mm, albedo_noise, crease, redness;
    part: (K,) int8.
    """
    g = config.gamma
    per_hand = torch.cat(
        [
            appearance.skin_rgb,
            appearance.light_dir,
            appearance.ambient[:, None],
            appearance.key[:, None],
            appearance.sleeve_rgb,
            appearance.sleeve_start_mm[:, None],
        ],
        dim=1,
    ).T.contiguous()  # (12, B)
    hand = per_hand.index_select(1, batch_index)  # (12, K)
    skin, light, ambient, key = hand[0:3], hand[3:6], hand[6:7], hand[7:8]
    sleeve_rgb, sleeve_start = hand[8:11], hand[11:12]
    ao, palmar, forearm_mm, noise = attributes[0:1], attributes[1:2], attributes[2:3], attributes[3:4]
    crease, redness = attributes[4:5], attributes[5:6]

    view = -positions * torch.rsqrt((positions * positions).sum(0, keepdim=True))
    n = normals * torch.rsqrt((normals * normals).sum(0, keepdim=True).clamp(min=1e-12))
    n = n * torch.where((n * view).sum(0, keepdim=True) < 0, -1.0, 1.0)  # two-sided points: visible side
    ao = config.ao_floor + (1.0 - config.ao_floor) * ao

    palm_tint = skin.new_tensor(PALM_TINT_SRGB)[:, None]
    nail_tint = skin.new_tensor(NAIL_TINT_SRGB)[:, None]
    darkness = (1.0 - (skin * skin.new_tensor([0.3, 0.59, 0.11])[:, None]).sum(0, keepdim=True) / 0.75).clamp(0, 1)
    albedo = skin + (palm_tint - skin) * (config.palm_tint_strength * darkness * palmar)
    is_nail = (part == PART_NAIL).to(skin.dtype)[None]
    albedo = albedo + (nail_tint - albedo) * (config.nail_tint_strength * is_nail)
    albedo = albedo.clamp(0, 1) ** g * (1.0 + config.albedo_noise * noise)
    albedo = albedo * (1.0 + config.redness * redness * skin.new_tensor([1.0, -0.6, -0.6])[:, None])
    ao = ao * (1.0 - config.crease_darkening * crease)
    is_sleeve = (forearm_mm > sleeve_start).to(skin.dtype)
    albedo = albedo + (sleeve_rgb.clamp(0, 1) ** g - albedo) * is_sleeve

    wrap = skin.new_tensor(config.wrap_rgb)[:, None]
    wrap = wrap + (config.sleeve_wrap - wrap) * is_sleeve
    n_dot_l = (n * light).sum(0, keepdim=True)
    diffuse = ((n_dot_l + wrap) / (1.0 + wrap)).clamp(min=0.0)
    fill_dir = torch.stack([-light[0], -0.3 * light[1], light[2] - 0.5], dim=0)
    fill_dir = fill_dir * torch.rsqrt((fill_dir * fill_dir).sum(0, keepdim=True))
    fill = ((n * fill_dir).sum(0, keepdim=True) * 0.75 + 0.25).clamp(min=0.0)
    irradiance = ambient * ao + key * diffuse * ao.sqrt() + config.fill_ratio * ambient * fill * ao
    colour = albedo * irradiance

    half = light + view
    half = half * torch.rsqrt((half * half).sum(0, keepdim=True).clamp(min=1e-12))
    n_dot_h = (n * half).sum(0, keepdim=True).clamp(min=0.0)
    strength = config.specular + (config.nail_specular - config.specular) * is_nail
    strength = strength * (1.0 - is_sleeve)
    colour = colour + strength * key * n_dot_h ** config.specular_power * (n_dot_l > 0).to(colour.dtype)
    return colour.clamp(0.0, 1.0) ** (1.0 / g)
