"""Training images for the hand finder: rendered hands composited over photo-like clutter.

A ``HandPool`` keeps recent renders of the project's renderer (premultiplied RGBA crops with
their 2D keypoints and side, ``R x R`` px, the hand framed loosely so wrist and forearm fit) and
renews a few per step. ``CompositeMaker.batch`` draws each canvas (S x S) as:

1. a background from ``core.render.BackgroundSource`` (bundled photos, procedural textures,
   gradients);
2. clutter: filled shapes, lines and textured patches of random colours;
3. distractors (``train.hand_finder.distractors``): shaded skin-coloured shapes, real faces
   with hair and shoulders, lamps and bright dots, so skin, a face or a light is not a hand;
4. 0..4 hands at random positions, box sides log-uniform in ``box_px``, any in-plane rotation
   (mostly near upright), mirrored half of the time (a mirrored right hand is a left hand),
   each with its own colour cast; sometimes an occluder over part of a hand;
5. photometric augmentation of the whole canvas: hue turn, channel gains, greyscale, then
   ``core.render.augment_images`` (contrast, gamma, blur, noise, JPEG) at stronger settings.

Labels are the boxes of ``core.finder.keypoint_box`` (training-crop framing) of each hand's
keypoints moved by the same warp, those inside the canvas for a hand cut by its border; a hand
less than ``min_visible`` visible is ignored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from core.finder.boxes import keypoint_box
from core.render import AugmentConfig, BackgroundConfig, BackgroundSource, HandRenderer, RenderConfig, augment_images
from core.render.scene import NUM_AUGMENT_DRAWS, NUM_BACKGROUND_DRAWS, CameraRanges, SceneConfig, sample_scene
from train.hand_finder.distractors import distractor, paint
from train.hand_finder.match import inside_picture


@dataclass(frozen=True)
class CompositeConfig:
    """The distribution of training canvases (see the module docstring)."""

    canvas: int = 192
    render_size: int = 128
    pool_size: int = 1200
    renew_per_batch: int = 6
    fill: tuple[float, float] = (0.45, 0.72)   # keypoint box / render side: room for the forearm
    hand_counts: tuple[float, ...] = (0.15, 0.45, 0.25, 0.1, 0.05)  # P(0, 1, 2, 3, 4 hands)
    box_px: tuple[float, float] = (16.0, 230.0)
    upright_fraction: float = 0.5             # else any rotation
    upright_sigma_deg: float = 30.0
    occluder_probability: float = 0.25
    min_visible: float = 0.4
    clutter: tuple[int, int] = (0, 10)
    distractors: tuple[int, int] = (0, 4)
    easy_box_px: float = 48.0    # smallest box side at difficulty 0 (``CompositeMaker.difficulty``)
    grey_probability: float = 0.12
    # A hand cut by the canvas border is labelled by the box of its keypoints in the picture, the
    # box the measure checks (``train.hand_finder.match``); False: by all 21, reaching past the
    # border (the finders bundled up to session 12 learnt that, and missed cut hands more).
    label_in_view: bool = True
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(
        brightness=0.15, contrast=(0.6, 1.4), saturation=(0.4, 1.5), gamma=(0.7, 1.4), blur_probability=0.35,
        blur_sigma_px=(0.3, 2.0), noise_probability=0.45, noise_std=(0.003, 0.04), jpeg_probability=0.4,
        jpeg_quality=(25, 90)))


@dataclass
class Canvas:
    """One composite: image (S, S, 3) float32 in [0, 1]; hands: list of (box (x0, y0, x1, y1),
    is_left, keypoints (21, 2) px); ignored: boxes of hands too hidden to count; coverage (S, S)
    float32: the visible part of every hand."""

    image: np.ndarray
    hands: list[tuple[tuple[float, float, float, float], bool, np.ndarray]]
    ignored: list[tuple[float, float, float, float]]
    coverage: np.ndarray | None = None
    hand_coverage: list[np.ndarray] = field(default_factory=list)  # (S, S) visible part of each labelled hand


class HandPool:
    """Recent hand renders: rgba (P, R, R, 4) uint8 premultiplied, keypoints (P, 21, 2) px, is_left (P,)."""

    def __init__(self, config: CompositeConfig, seed: int, start: int = 0) -> None:
        self.config = config
        self.seed = seed
        self.next_index = start
        self.renderer = HandRenderer(RenderConfig(size=config.render_size))
        self.scene_config = SceneConfig(camera=CameraRanges(fill=config.fill, shift=0.03))
        self.rgba = np.zeros((0, config.render_size, config.render_size, 4), np.uint8)
        self.keypoints = np.zeros((0, 21, 2), np.float32)
        self.is_left = np.zeros((0,), bool)
        self._slot = 0

    def render(self, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        indices = list(range(self.next_index, self.next_index + count))
        self.next_index += count
        scene = sample_scene(indices, self.seed, self.scene_config)
        with torch.inference_mode():
            out = self.renderer.render(scene.angles, scene.shape, scene.viewpoint, scene.is_left, scene.appearance,
                                       scene.camera)
        rgba = torch.cat([out.rgb_premul, out.coverage], 1).permute(0, 2, 3, 1).clamp(0, 1)
        return ((rgba * 255).round().to(torch.uint8).numpy(), out.keypoints_2d.numpy().astype(np.float32),
                scene.is_left.numpy().astype(bool))

    def fill(self, batch: int = 64) -> None:
        """Render until the pool is full."""
        while len(self.rgba) < self.config.pool_size:
            rgba, kp, left = self.render(min(batch, self.config.pool_size - len(self.rgba)))
            self.rgba = np.concatenate([self.rgba, rgba])
            self.keypoints = np.concatenate([self.keypoints, kp])
            self.is_left = np.concatenate([self.is_left, left])

    def renew(self, count: int) -> None:
        """Replace the ``count`` oldest renders by new ones."""
        if count <= 0:
            return
        rgba, kp, left = self.render(count)
        slots = (self._slot + np.arange(count)) % len(self.rgba)
        self._slot = int((self._slot + count) % len(self.rgba))
        self.rgba[slots], self.keypoints[slots], self.is_left[slots] = rgba, kp, left


def _clutter(image: np.ndarray, rng: np.random.Generator, texture: np.ndarray, count: int) -> None:
    s = image.shape[0]
    for _ in range(count):
        mask = np.zeros((s, s), np.float32)
        kind = rng.integers(4)
        c = tuple(int(v) for v in rng.integers(-s // 4, s + s // 4, 2))
        size = int(s * rng.uniform(0.05, 0.5))
        if kind == 0:
            cv2.ellipse(mask, c, (size, max(2, int(size * rng.uniform(0.2, 1.0)))), rng.uniform(0, 180), 0, 360, 1.0, -1,
                        cv2.LINE_AA)
        elif kind == 1:
            points = (np.array(c) + rng.normal(0, size, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(mask, [points], 1.0, cv2.LINE_AA)
        elif kind == 2:
            end = tuple(int(v) for v in np.array(c) + rng.normal(0, s / 3, 2))
            cv2.line(mask, c, end, 1.0, int(rng.integers(1, max(2, s // 16))), cv2.LINE_AA)
        else:
            w, h = size, int(size * rng.uniform(0.3, 1.5))
            cv2.rectangle(mask, c, (c[0] + w, c[1] + h), 1.0, -1)
        colour = texture if rng.random() < 0.35 else rng.random(3).astype(np.float32)
        paint(image, mask, colour)


def _hand_warp(keypoints: np.ndarray, box_side: float, centre: np.ndarray, angle: float,
               mirror: bool, size: int) -> np.ndarray:
    """(2, 3) affine map from render pixels to canvas pixels putting the keypoint box's framed
    side at ``box_side`` px around ``centre``, turned by ``angle`` rad, mirrored if asked."""
    low, high = keypoints.min(0), keypoints.max(0)
    source_centre = 0.5 * (low + high)
    source_side = max(float((high - low).max()) * 4.0 / 3.0, 1e-3)
    f = box_side / source_side
    flip = np.diag([-1.0 if mirror else 1.0, 1.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    linear = f * rot @ flip
    return np.concatenate([linear, (centre - linear @ source_centre)[:, None]], 1)


class CompositeMaker:
    """Draws batches of canvases with their labels; deterministic for a seed (see the module docstring)."""

    def __init__(self, config: CompositeConfig = CompositeConfig(), seed: int = 0, pool_seed: int | None = None,
                 step: int = 0) -> None:
        self.config = config
        self.seed = seed
        self.rng = np.random.default_rng([seed, step])
        self.difficulty = 1.0  # 0: large hands, no clutter or distractors; 1: the full distribution
        self.pool = HandPool(config, seed if pool_seed is None else pool_seed, start=step * config.renew_per_batch)
        self.backgrounds = BackgroundSource(BackgroundConfig(), "cpu")

    def _hand(self, image: np.ndarray, index: int, alphas: list[np.ndarray],
              totals: list[float]) -> tuple[tuple, bool, np.ndarray]:
        cfg, rng, s = self.config, self.rng, self.config.canvas
        kp = self.pool.keypoints[index]
        low = math.exp(math.log(cfg.easy_box_px) + self.difficulty * (math.log(cfg.box_px[0]) - math.log(cfg.easy_box_px)))
        side = math.exp(rng.uniform(math.log(low), math.log(cfg.box_px[1])))
        centre = rng.uniform(0, s, 2)
        if rng.random() < cfg.upright_fraction:
            angle = math.radians(rng.normal(0, cfg.upright_sigma_deg))
        else:
            angle = rng.uniform(-math.pi, math.pi)
        mirror = bool(rng.random() < 0.5)
        full = warp = _hand_warp(kp, side, centre, angle, mirror, s)
        source = self.pool.rgba[index].astype(np.float32) / 255.0
        zoom = abs(np.linalg.det(warp[:, :2])) ** 0.5
        while zoom < 0.5 and source.shape[0] >= 8:
            source = cv2.pyrDown(source)
            warp = warp @ np.diag([2.0, 2.0, 1.0])
            zoom *= 2
        rgba = cv2.warpAffine(source, warp, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        cast = rng.uniform(0.7, 1.25) * (1 + rng.normal(0, 0.08, 3))
        alpha = rgba[..., 3]
        image *= 1.0 - alpha[..., None]
        image += np.clip(rgba[..., :3] * cast.astype(np.float32), 0, 1)
        for earlier in alphas:
            earlier *= 1.0 - alpha
        alphas.append(alpha.copy())
        totals.append(float(alpha.sum()))
        moved = kp @ full[:, :2].T + full[:, 2]
        return keypoint_box(moved), bool(self.pool.is_left[index]) != mirror, moved

    def _occlude(self, image: np.ndarray, box: tuple, alphas: list[np.ndarray], texture: np.ndarray) -> None:
        rng, s = self.rng, self.config.canvas
        side = box[2] - box[0]
        c = np.array([0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])]) + rng.normal(0, 0.25 * side, 2)
        mask = np.zeros((s, s), np.float32)
        r = side * rng.uniform(0.12, 0.3)
        if rng.random() < 0.5:
            cv2.ellipse(mask, tuple(int(v) for v in c), (int(r), int(r * rng.uniform(0.4, 1.5))), rng.uniform(0, 180),
                        0, 360, 1.0, -1)
        else:
            cv2.rectangle(mask, tuple(int(v) for v in c - r), tuple(int(v) for v in c + r * rng.uniform(0.5, 2, 2)), 1.0, -1)
        colour = texture if rng.random() < 0.5 else rng.random(3).astype(np.float32)
        paint(image, mask, colour)
        for alpha in alphas:
            alpha *= 1.0 - mask

    def canvas(self, background: np.ndarray, texture: np.ndarray) -> Canvas:
        """One canvas (before the photometric augmentation) on ``background`` (S, S, 3) float32."""
        cfg, rng = self.config, self.rng
        image = background.copy()
        d = self.difficulty
        _clutter(image, rng, texture, int(rng.integers(cfg.clutter[0], round(d * cfg.clutter[1]) + 1)))
        for _ in range(int(rng.integers(cfg.distractors[0], round(d * cfg.distractors[1]) + 1))):
            distractor(image, rng)
        count = int(rng.choice(len(cfg.hand_counts), p=np.asarray(cfg.hand_counts) / sum(cfg.hand_counts)))
        alphas: list[np.ndarray] = []
        totals: list[float] = []
        placed = [self._hand(image, int(rng.integers(len(self.pool.rgba))), alphas, totals) for _ in range(count)]
        for box, _, _ in placed:
            if rng.random() < cfg.occluder_probability:
                self._occlude(image, box, alphas, texture)
        hands, ignored, owned = [], [], []
        for (box, is_left, kp), alpha, total in zip(placed, alphas, totals):
            seen = float(alpha.sum())
            inside = 0 <= 0.5 * (box[0] + box[2]) < cfg.canvas and 0 <= 0.5 * (box[1] + box[3]) < cfg.canvas
            if inside and total > 0 and seen / total >= cfg.min_visible:
                if cfg.label_in_view:
                    box = keypoint_box(inside_picture(kp, image.shape))
                hands.append((box, is_left, kp))
                owned.append(alpha)
            else:
                ignored.append(box)
        coverage = np.clip(np.sum(alphas, axis=0), 0, 1) if alphas else np.zeros(image.shape[:2], np.float32)
        return Canvas(np.clip(image, 0, 1), hands, ignored, coverage.astype(np.float32), owned)

    def batch(self, size: int) -> list[Canvas]:
        """``size`` augmented canvases; renews ``renew_per_batch`` hands of the pool first."""
        cfg, rng, s = self.config, self.rng, self.config.canvas
        if len(self.pool.rgba) < cfg.pool_size:
            self.pool.fill()
        else:
            self.pool.renew(cfg.renew_per_batch)
        textures = max(1, size // 4)
        draws = torch.from_numpy(rng.random((size + textures, NUM_BACKGROUND_DRAWS)).astype(np.float32))
        with torch.inference_mode():
            backs = self.backgrounds(draws, s).permute(0, 2, 3, 1).numpy()
        canvases = [self.canvas(backs[i].copy(), backs[size + int(rng.integers(textures))]) for i in range(size)]
        images = torch.from_numpy(np.stack([c.image for c in canvases])).permute(0, 3, 1, 2)
        images = _colour(images, rng, cfg.grey_probability)
        augment_draws = torch.from_numpy(rng.random((size, NUM_AUGMENT_DRAWS)).astype(np.float32))
        generators = [torch.Generator().manual_seed(int(v)) for v in rng.integers(0, 2**62, size)]
        images = augment_images(images, augment_draws, generators, cfg.augment)
        for canvas, image in zip(canvases, images.permute(0, 2, 3, 1).numpy()):
            canvas.image = image
        return canvases


def _colour(images: torch.Tensor, rng: np.random.Generator, grey_probability: float) -> torch.Tensor:
    """Per image: turn the hue by a random angle (about the grey axis), scale the channels,
    and sometimes drop the colour. images (B, 3, H, W) in [0, 1]."""
    b = images.shape[0]
    out = []
    axis = np.ones(3) / math.sqrt(3)
    for i in range(b):
        angle = rng.normal(0, 0.35) if rng.random() < 0.9 else rng.uniform(-math.pi, math.pi)
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        turn = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
        turn = np.diag(rng.uniform(0.8, 1.2, 3)) @ turn
        if rng.random() < grey_probability:
            turn = np.full((3, 3), 1.0 / 3.0)
        out.append(torch.einsum("ij,jhw->ihw", torch.from_numpy(turn.astype(np.float32)), images[i]))
    return torch.stack(out).clamp(0, 1)
