"""Things that are not hands, painted into the hand finder's composites (``train.hand_finder.data``).

On real photos the finder's false boxes sit on faces, lamps and small bright spots (a studio's
lights on black, ``docs/results.md``), so besides shaded skin-coloured shapes (ovals, arm-like
capsules, blobs) the composites get:

- **people**: one of the 100 real face photos scikit-image ships (``skimage.data.lfw_subset``,
  25 x 25 grey, from Labeled Faces in the Wild), scaled up, tinted to a skin tone and feathered
  into an oval, under hair and above a neck and shoulders most of the time;
- **lights**: a lamp (a bright, sometimes warm, shape with a glow) or a scatter of small bright
  dots, often with the canvas around them dimmed.

Every function paints into ``image`` (S, S, 3) float32 in [0, 1] in place.
"""
from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import torch

from core.render.shading import skin_tone

# how often each kind is drawn: skin_shape, person, lights
KIND_WEIGHTS = np.array([0.45, 0.35, 0.2])


@lru_cache(maxsize=1)
def face_photos() -> np.ndarray:
    """(100, 25, 25) float32 grey faces in [0, 1] (the faces of ``skimage.data.lfw_subset``)."""
    from skimage.data import lfw_subset

    return lfw_subset()[:100].astype(np.float32)


def skin_colour(rng: np.random.Generator) -> np.ndarray:
    """A random skin tone (3,) float32, a little darker or lighter and off-hue."""
    tone = skin_tone(torch.tensor([rng.random()], dtype=torch.float32))[0].numpy()
    return np.clip(tone * rng.uniform(0.65, 1.15) + rng.normal(0, 0.03, 3), 0, 1).astype(np.float32)


def paint(image: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """image = colour over image where mask (H, W) in [0, 1]; colour (3,) or (H, W, 3).
    Only the mask's bounding rows and columns are touched."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return
    region = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    m = mask[region][..., None]
    part = image[region]
    part *= 1.0 - m
    part += m * (colour[region] if np.ndim(colour) == 3 else colour)


def _point(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))


def skin_shape(image: np.ndarray, rng: np.random.Generator) -> None:
    """A shaded skin-coloured oval (with eyes and mouth sometimes), arm-like capsule or blob."""
    s = image.shape[0]
    mask = np.zeros((s, s), np.float32)
    c = np.array([rng.uniform(0, s), rng.uniform(0, s)])
    size = s * math.exp(rng.uniform(math.log(0.06), math.log(0.6)))
    kind = rng.integers(3)
    if kind == 0:  # face-like oval
        cv2.ellipse(mask, _point(c), (int(size / 2), int(size * 0.65)), rng.normal(0, 15), 0, 360, 1.0, -1)
    elif kind == 1:  # arm-like capsule, often running off the canvas
        angle = rng.uniform(0, 2 * math.pi)
        end = c + np.array([math.cos(angle), math.sin(angle)]) * rng.uniform(0.5, 2.0) * s
        cv2.line(mask, _point(c), _point(end), 1.0, max(3, int(size * 0.35)))
    else:  # blob
        noise = cv2.resize(rng.random((6, 6)).astype(np.float32), (s, s), interpolation=cv2.INTER_CUBIC)
        yy, xx = np.mgrid[0:s, 0:s]
        falloff = 1.0 - np.hypot(xx - c[0], yy - c[1]) / max(size, 4.0)
        mask = (falloff + 0.4 * (noise - 0.5) > 0.25).astype(np.float32)
    sigma = max(1.0, size / 8)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows):  # shade and soften within the shape's bounding box (+3 sigma) only
        pad = int(3 * sigma) + 2
        region = (slice(max(rows[0] - pad, 0), rows[-1] + pad + 1), slice(max(cols[0] - pad, 0), cols[-1] + pad + 1))
        part = mask[region]
        inner = cv2.GaussianBlur(cv2.erode(part, np.ones((3, 3), np.uint8)), (0, 0), sigma)
        colour = np.zeros_like(image)
        colour[region] = skin_colour(rng)[None, None] * (0.55 + 0.5 * inner)[..., None]
        mask = mask.copy()
        mask[region] = cv2.GaussianBlur(part, (0, 0), 0.7)
        paint(image, mask, colour)
    if kind == 0 and rng.random() < 0.6:  # eyes and mouth
        for dx, dy, r in ((-0.18, -0.1, 0.06), (0.18, -0.1, 0.06), (0.0, 0.28, 0.1)):
            cv2.ellipse(image, (int(c[0] + dx * size), int(c[1] + dy * size)),
                        (max(1, int(r * size)), max(1, int(r * size * 0.5))), 0, 0, 360,
                        tuple(float(v) for v in skin_colour(rng) * 0.35), -1)


def person(image: np.ndarray, rng: np.random.Generator) -> None:
    """A real face (tinted, feathered), with hair above and a neck and shoulders below it
    most of the time; the face is 6-50 % of the canvas wide, anywhere, upright within ~15 deg."""
    s = image.shape[0]
    size = s * math.exp(rng.uniform(math.log(0.06), math.log(0.5)))
    c = np.array([rng.uniform(0, s), rng.uniform(0, s)])
    skin = skin_colour(rng)
    if rng.random() < 0.6:  # shoulders (clothing) and neck, below the face
        mask = np.zeros((s, s), np.float32)
        cv2.ellipse(mask, _point(c + [0, 1.5 * size]), (int(1.3 * size), int(0.7 * size)), 0, 180, 360, 1.0, -1)
        cv2.rectangle(mask, _point(c + [-1.3 * size, 1.5 * size]), _point(c + [1.3 * size, 4 * size]), 1.0, -1)
        paint(image, mask, rng.random(3).astype(np.float32) * rng.uniform(0.3, 1.0))
        mask[:] = 0
        cv2.rectangle(mask, _point(c + [-0.25 * size, 0.2 * size]), _point(c + [0.25 * size, 1.1 * size]), 1.0, -1)
        paint(image, cv2.GaussianBlur(mask, (0, 0), max(0.7, size / 20)), skin * 0.8)
    if rng.random() < 0.75:  # hair: a cap behind the face, sometimes to the shoulders
        mask = np.zeros((s, s), np.float32)
        axes = (int(0.62 * size), int(size * rng.uniform(0.6, 1.1)))
        cv2.ellipse(mask, _point(c + [0, -0.1 * size]), axes, rng.normal(0, 8), 180 if rng.random() < 0.5 else 0,
                    360 + 180, 1.0, -1)
        hair = np.array([0.1, 0.07, 0.05], np.float32) * rng.uniform(0.5, 6.0) + rng.normal(0, 0.02, 3).astype(np.float32)
        paint(image, cv2.GaussianBlur(mask, (0, 0), max(0.7, size / 30)), np.clip(hair, 0, 1))
    face = face_photos()[rng.integers(100)]
    if rng.random() < 0.5:
        face = face[:, ::-1]
    side = max(4, int(round(size)))
    face = cv2.resize(np.ascontiguousarray(face), (side, side), interpolation=cv2.INTER_CUBIC)
    angle = rng.normal(0, 15)
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    turn[:, 2] += c - side / 2
    shade = cv2.warpAffine(face, turn, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    oval = np.zeros((side, side), np.float32)
    cv2.ellipse(oval, (side // 2, side // 2), (int(0.46 * side), int(0.52 * side)), 0, 0, 360, 1.0, -1)
    oval = cv2.GaussianBlur(oval, (0, 0), max(0.6, side / 16))
    mask = cv2.warpAffine(oval, turn, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    gain = rng.uniform(0.9, 1.6)
    paint(image, mask, np.clip(skin[None, None] * (0.25 + gain * shade[..., None]), 0, 1))


def lights(image: np.ndarray, rng: np.random.Generator) -> None:
    """A lamp (a bright shape with a glow) or 3-16 small bright dots, often on a dimmed canvas."""
    s = image.shape[0]
    if rng.random() < 0.5:
        image *= rng.uniform(0.08, 0.5)
    core = np.zeros((s, s), np.float32)
    if rng.random() < 0.5:  # a lamp
        c = _point(rng.uniform(0, s, 2))
        size = s * math.exp(rng.uniform(math.log(0.02), math.log(0.25)))
        if rng.random() < 0.5:
            cv2.ellipse(core, c, (max(1, int(size)), max(1, int(size * rng.uniform(0.3, 1.0)))), rng.uniform(0, 180),
                        0, 360, 1.0, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(core, c, _point(np.array(c) + size * rng.uniform(0.5, 2.0, 2)), 1.0, -1)
        sigma = size * rng.uniform(0.3, 1.5)
    else:  # dots
        for _ in range(int(rng.integers(3, 17))):
            cv2.circle(core, _point(rng.uniform(0, s, 2)), int(rng.integers(1, 5)), 1.0, -1, cv2.LINE_AA)
        sigma = rng.uniform(1.0, 5.0)
    glow = cv2.GaussianBlur(core, (0, 0), max(0.8, sigma)) * rng.uniform(0.5, 2.0)
    warm = np.array([1.0, rng.uniform(0.8, 1.0), rng.uniform(0.55, 1.0)], np.float32)
    image += (glow[..., None] * warm) * (1.0 - core[..., None])
    paint(image, core, warm * rng.uniform(0.9, 1.0))
    np.clip(image, 0, 1, out=image)


def distractor(image: np.ndarray, rng: np.random.Generator) -> None:
    """One distractor of a kind drawn by ``KIND_WEIGHTS``."""
    kind = rng.choice(3, p=KIND_WEIGHTS)
    (skin_shape, person, lights)[kind](image, rng)
