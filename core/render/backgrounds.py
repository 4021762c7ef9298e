"""Backgrounds without downloads: photos shipped inside installed packages plus procedural textures.

All sources are packed once per process into one atlas tensor (tiles of ``tile`` pixels):
scikit-image's bundled photos, scikit-learn's two sample images (when scikit-learn is
installed), and procedural tiles (multi-octave noise, warped stripes and checkers, "dead leaves"
discs). A batch of backgrounds is ONE ``grid_sample`` from that atlas with a random crop,
scale, rotation and flip per sample, then a per-sample colour shift, a sometimes-mixed gradient
and low-frequency noise: fast on CPU and CUDA, and a pure function of the per-sample draws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.render.scene import NUM_BACKGROUND_DRAWS

SKIMAGE_PHOTOS = (
    "astronaut", "chelsea", "coffee", "hubble_deep_field", "stereo_motorcycle", "rocket", "brick", "grass",
    "gravel", "camera", "moon", "colorwheel", "immunohistochemistry", "retina", "coins", "cell",
)
PROCEDURAL_KINDS = ("noise", "stripes", "checkers", "dead_leaves")


@dataclass(frozen=True)
class BackgroundConfig:
    """Mix and variation of backgrounds."""

    tile: int = 320                 # atlas tile side, pixels
    procedural_tiles_per_kind: int = 3
    photo_fraction: float = 0.6     # share of samples cropped from photos (else procedural tiles)
    min_crop: float = 0.25          # crop side as a share of the tile side
    rotate_fraction: float = 0.3
    gradient_fraction: float = 0.12  # pure two-colour gradients
    colour_gain: tuple[float, float] = (0.7, 1.3)
    brightness: tuple[float, float] = (-0.15, 0.15)


def load_photos() -> list[np.ndarray]:
    """RGB uint8 photos bundled with scikit-image (and scikit-learn, if installed)."""
    import skimage.data

    photos = []
    for name in SKIMAGE_PHOTOS:
        try:
            image = getattr(skimage.data, name)()
        except Exception:  # noqa: BLE001 - a missing optional photo only shrinks the pool
            continue
        if isinstance(image, tuple):  # stereo_motorcycle returns (left, right, disparity)
            image = image[0]
        photos.append(image)
    try:
        from sklearn.datasets import load_sample_images

        photos.extend(load_sample_images().images)
    except ImportError:
        pass
    out = []
    for image in photos:
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        image = image[..., :3]
        if image.dtype != np.uint8:
            image = (255 * (image.astype(np.float64) / max(float(image.max()), 1e-9))).astype(np.uint8)
        out.append(image)
    return out


def _square_tile(image: np.ndarray, tile: int) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return cv2.resize(image[y0 : y0 + side, x0 : x0 + side], (tile, tile), interpolation=cv2.INTER_AREA)


def _noise_texture(rng: np.random.Generator, tile: int) -> np.ndarray:
    """Multi-octave value noise with random colours, (tile, tile, 3) float in [0, 1]."""
    out = np.zeros((tile, tile, 3), np.float32)
    amplitude, total = 1.0, 0.0
    for octave in range(5):
        cells = 3 * 2**octave
        grid = rng.random((cells, cells, 3)).astype(np.float32)
        out += amplitude * cv2.resize(grid, (tile, tile), interpolation=cv2.INTER_CUBIC)
        total += amplitude
        amplitude *= rng.uniform(0.4, 0.65)
    out /= total
    return np.clip((out - out.mean()) * rng.uniform(1.5, 3.0) + 0.5, 0, 1)


def _warp(rng: np.random.Generator, tile: int, strength: float) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:tile, 0:tile].astype(np.float32)
    field_x = cv2.resize(rng.normal(size=(6, 6)).astype(np.float32), (tile, tile), interpolation=cv2.INTER_CUBIC)
    field_y = cv2.resize(rng.normal(size=(6, 6)).astype(np.float32), (tile, tile), interpolation=cv2.INTER_CUBIC)
    return xs + strength * field_x, ys + strength * field_y


def _pattern_texture(rng: np.random.Generator, tile: int, checkers: bool) -> np.ndarray:
    x, y = _warp(rng, tile, rng.uniform(3, 25))
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(8, 48)
    a = (x * np.cos(angle) + y * np.sin(angle)) / period
    if checkers:
        b = (-x * np.sin(angle) + y * np.cos(angle)) / period
        pattern = ((np.floor(a) + np.floor(b)) % 2).astype(np.float32)
    else:
        pattern = (0.5 + 0.5 * np.sin(2 * np.pi * a)).astype(np.float32)
        if rng.random() < 0.5:
            pattern = (pattern > 0.5).astype(np.float32)
    c0, c1 = rng.random(3), rng.random(3)
    image = c0 + (c1 - c0) * pattern[..., None]
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), 0.7)


def _dead_leaves(rng: np.random.Generator, tile: int, discs: int = 600) -> np.ndarray:
    """Layered opaque discs with power-law radii: natural-image-like statistics."""
    image = np.zeros((tile, tile, 3), np.float32)
    image[:] = rng.random(3)
    r_min, r_max = 3.0, tile / 3
    u = rng.random(discs)
    radii = (r_min ** -2 + u * (r_max ** -2 - r_min ** -2)) ** -0.5  # density ~ r^-3
    for r in np.sort(radii)[::-1]:  # large first, small ones on top
        centre = (int(rng.integers(0, tile)), int(rng.integers(0, tile)))
        colour = tuple(float(c) for c in rng.random(3))
        cv2.circle(image, centre, int(r), colour, -1, lineType=cv2.LINE_AA)
    return image


@dataclass
class BackgroundAtlas:
    """All source tiles in one tensor."""

    atlas: torch.Tensor       # (1, 3, rows * tile, cols * tile) float32 in [0, 1]
    tile: int
    cols: int
    num_photos: int
    num_tiles: int


@lru_cache(maxsize=4)
def build_atlas(tile: int = 320, procedural_per_kind: int = 3) -> BackgroundAtlas:
    """The atlas of photos then procedural tiles (fixed seed: the same in every process)."""
    rng = np.random.default_rng(20190601)
    tiles = [_square_tile(p, tile).astype(np.float32) / 255.0 for p in load_photos()]
    num_photos = len(tiles)
    for kind in PROCEDURAL_KINDS:
        for _ in range(procedural_per_kind):
            if kind == "noise":
                tiles.append(_noise_texture(rng, tile))
            elif kind == "dead_leaves":
                tiles.append(_dead_leaves(rng, tile))
            else:
                tiles.append(_pattern_texture(rng, tile, checkers=kind == "checkers"))
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    atlas = np.zeros((rows * tile, cols * tile, 3), np.float32)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        atlas[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = t
    tensor = torch.from_numpy(atlas).permute(2, 0, 1)[None].contiguous()
    return BackgroundAtlas(tensor, tile, cols, num_photos, len(tiles))


class BackgroundSource:
    """Makes batches of backgrounds from per-sample uniform draws; holds the atlas on ``device``."""

    def __init__(self, config: BackgroundConfig = BackgroundConfig(), device: torch.device | str = "cpu"):
        self.config = config
        self.device = torch.device(device)
        bank = build_atlas(config.tile, config.procedural_tiles_per_kind)
        self.bank = bank
        self.atlas = bank.atlas.to(self.device)

    def tile_indices(self, draws: torch.Tensor) -> torch.Tensor:
        """Source tile (B,) int64 of each background: photos first, then procedural tiles.

        The ``background_id`` label of the generated data; ``-1`` marks a plain gradient.
        """
        cfg, bank = self.config, self.bank
        u = draws.to(self.device, torch.float32)
        n_proc = bank.num_tiles - bank.num_photos
        if bank.num_photos and n_proc:
            use_photo = u[:, 0] < cfg.photo_fraction
        else:
            use_photo = torch.full((u.shape[0],), bank.num_photos > 0, device=self.device)
        photo_index = (u[:, 1] * bank.num_photos).long().clamp(max=max(bank.num_photos - 1, 0))
        proc_index = bank.num_photos + (u[:, 1] * n_proc).long().clamp(max=max(n_proc - 1, 0))
        tile = torch.where(use_photo, photo_index, proc_index)
        return tile if draws.shape[1] < NUM_BACKGROUND_DRAWS else torch.where(u[:, 15] < cfg.gradient_fraction, -1, tile)

    def _source_tiles(self, u: torch.Tensor) -> torch.Tensor:
        return self.tile_indices(u[:, :2]).clamp(min=0)

    def __call__(self, draws: torch.Tensor, size: int) -> torch.Tensor:
        """Backgrounds (B, 3, size, size) in [0, 1] from draws (B, NUM_BACKGROUND_DRAWS) in [0, 1)."""
        if draws.shape[1] < NUM_BACKGROUND_DRAWS:
            raise ValueError(f"BackgroundSource: need {NUM_BACKGROUND_DRAWS} draws per sample, got {draws.shape[1]}")
        cfg, bank = self.config, self.bank
        u = draws.to(self.device, torch.float32)
        batch = u.shape[0]
        tile_index = self._source_tiles(u)

        angle = torch.where(u[:, 2] < cfg.rotate_fraction, (u[:, 3] - 0.5) * 2 * math.pi, torch.zeros_like(u[:, 3]))
        extent = cfg.min_crop + (1 - cfg.min_crop) * u[:, 4]  # crop side / tile side
        # A rotated crop must stay inside its tile: shrink it by its bounding box's growth.
        extent = extent / (angle.cos().abs() + angle.sin().abs())
        room = (1 - extent * (angle.cos().abs() + angle.sin().abs())).clamp(min=0)
        centre = 0.5 + (u[:, 5:7] - 0.5) * room[:, None]  # in tile units
        flip = torch.where(u[:, 7] < 0.5, -1.0, 1.0)

        # Affine map from output [-1, 1]^2 to atlas normalised coordinates.
        rows = math.ceil(bank.num_tiles / bank.cols)
        tile_row = torch.div(tile_index, bank.cols, rounding_mode="floor").float()
        tile_col = (tile_index % bank.cols).float()
        half = 0.5 * extent
        cos, sin = angle.cos() * half, angle.sin() * half
        theta = torch.zeros(batch, 2, 3, device=self.device)
        sx, sy = 1.0 / bank.cols, 1.0 / rows  # tile size in atlas [-1, 1] units is 2 * s
        theta[:, 0, 0] = 2 * sx * cos * flip
        theta[:, 0, 1] = -2 * sx * sin
        theta[:, 1, 0] = 2 * sy * sin * flip
        theta[:, 1, 1] = 2 * sy * cos
        theta[:, 0, 2] = -1 + 2 * sx * (tile_col + centre[:, 0])
        theta[:, 1, 2] = -1 + 2 * sy * (tile_row + centre[:, 1])
        grid = F.affine_grid(theta, [batch, 3, size, size], align_corners=False)
        out = F.grid_sample(self.atlas, grid.reshape(1, batch * size, size, 2), mode="bilinear",
                            padding_mode="border", align_corners=False)
        out = out.view(3, batch, size, size).transpose(0, 1)

        gain = cfg.colour_gain[0] + (cfg.colour_gain[1] - cfg.colour_gain[0]) * u[:, 8:11]
        bias = cfg.brightness[0] + (cfg.brightness[1] - cfg.brightness[0]) * u[:, 11]
        grey = out.mean(dim=1, keepdim=True)
        saturation = (0.3 + 1.2 * u[:, 12]).view(-1, 1, 1, 1)
        out = grey + (out - grey) * saturation
        out = out * gain[:, :, None, None] + bias.view(-1, 1, 1, 1)

        # Some backgrounds are plain gradients between two colours (walls, sky, tables).
        ramp_angle = u[:, 13] * 2 * math.pi
        coords = torch.linspace(-1, 1, size, device=self.device)
        ramp = coords[None, None, :] * ramp_angle.cos()[:, None, None] + coords[None, :, None] * ramp_angle.sin()[:, None, None]
        ramp = (0.5 + 0.5 * ramp)[:, None]  # (B, 1, S, S)
        c0 = gain.flip(1) * 0.6
        c1 = gain * (0.3 + 0.5 * u[:, 14:15])
        gradient = c0[:, :, None, None] + (c1 - c0)[:, :, None, None] * ramp
        is_gradient = (u[:, 15] < cfg.gradient_fraction).view(-1, 1, 1, 1)
        out = torch.where(is_gradient, gradient, out)
        return out.clamp(0.0, 1.0)
