"""Domain randomisation applied to composited images: colour jitter, blur, noise, JPEG artefacts.

Every parameter comes from the per-sample uniform draws (and noise from the per-sample
generator), so an augmented sample is reproducible from its seed. JPEG goes through
``cv2.imencode`` on the CPU (copied back to the images' device).

The ``amplitude_mix_*`` fields configure amplitude-spectrum mixing (``core.render.spectrum``),
which the synthetic data path (``core.data.synthetic``) applies after ``augment_images``;
``augment_images`` itself does not read them.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.render.scene import NUM_AUGMENT_DRAWS


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each degradation (set a probability to 0 to turn it off)."""

    enabled: bool = True
    brightness: float = 0.12            # +- additive
    contrast: tuple[float, float] = (0.75, 1.25)
    saturation: tuple[float, float] = (0.7, 1.3)
    gamma: tuple[float, float] = (0.8, 1.25)
    blur_probability: float = 0.3
    blur_sigma_px: tuple[float, float] = (0.3, 1.3)
    noise_probability: float = 0.4
    noise_std: tuple[float, float] = (0.003, 0.022)
    jpeg_probability: float = 0.35
    jpeg_quality: tuple[int, int] = (30, 90)
    # Amplitude-spectrum mixing (FDA; ``core.render.spectrum``): with this probability per image the
    # amplitude of its lowest frequencies (a centred square of half-size beta x image size in the
    # shifted spectrum) becomes lam * A_photo + (1 - lam) * A_image, lam uniform in the range, A_photo
    # from a bank of ``bank_size`` random crops of bundled photos drawn with ``bank_seed``.
    amplitude_mix_probability: float = 0.0
    amplitude_mix_beta: float = 0.1
    amplitude_mix_lambda: tuple[float, float] = (0.0, 1.0)
    amplitude_mix_bank_size: int = 64
    amplitude_mix_bank_seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.amplitude_mix_probability <= 1.0:
            raise ValueError(f"amplitude_mix_probability must be in [0, 1], got {self.amplitude_mix_probability}")
        if not 0.0 < self.amplitude_mix_beta < 0.5:
            raise ValueError(f"amplitude_mix_beta must be in (0, 0.5), got {self.amplitude_mix_beta}")
        low, high = self.amplitude_mix_lambda
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"amplitude_mix_lambda must be a range within [0, 1], got {self.amplitude_mix_lambda}")
        if self.amplitude_mix_bank_size < 1:
            raise ValueError(f"amplitude_mix_bank_size must be >= 1, got {self.amplitude_mix_bank_size}")


def _lerp(u: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return bounds[0] + (bounds[1] - bounds[0]) * u


def _blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image separable Gaussian blur, sigma (B,) px (0 = none)."""
    batch, channels, h, w = images.shape
    radius = 3
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (offsets[None] / sigma.clamp(min=1e-3)[:, None]) ** 2)  # (B, 7)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    kernel = kernel.repeat_interleave(channels, dim=0)  # (B*C, 7)
    x = images.reshape(1, batch * channels, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel[:, None, None, :], groups=batch * channels)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel[:, None, :, None], groups=batch * channels)
    return x.view(batch, channels, h, w)


def jpeg_roundtrip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode one image (3, H, W) in [0, 1] as JPEG at ``quality`` (OpenCV)."""
    array = (image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", array[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("jpeg_roundtrip: OpenCV could not encode the image")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return torch.from_numpy(decoded).permute(2, 0, 1).to(image.device, image.dtype) / 255.0


def augment_images(
    images: torch.Tensor, draws: torch.Tensor, generators: list[torch.Generator], config: AugmentConfig = AugmentConfig()
) -> torch.Tensor:
    """Degrade images (B, 3, H, W) in [0, 1] with per-sample draws (B, NUM_AUGMENT_DRAWS)."""
    if not config.enabled:
        return images
    if draws.shape[1] < NUM_AUGMENT_DRAWS:
        raise ValueError(f"augment_images: need {NUM_AUGMENT_DRAWS} draws per sample, got {draws.shape[1]}")
    u = draws.to(images.device, images.dtype)
    batch = images.shape[0]
    view = (batch, 1, 1, 1)
    grey = images.mean(dim=1, keepdim=True)
    out = grey + (images - grey) * _lerp(u[:, 0], config.saturation).view(view)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * _lerp(u[:, 1], config.contrast).view(view) + mean
    out = out + ((2 * u[:, 2] - 1) * config.brightness).view(view)
    out = out.clamp(0, 1) ** _lerp(u[:, 3], config.gamma).view(view)

    blurred = torch.nonzero(u[:, 4] < config.blur_probability).squeeze(1)
    if blurred.numel():
        sigma = _lerp(u[:, 5], config.blur_sigma_px).index_select(0, blurred)
        out = out.index_copy(0, blurred, _blur(out.index_select(0, blurred), sigma))

    noise_on = (u[:, 6] < config.noise_probability).tolist()
    if any(noise_on):
        std = _lerp(u[:, 7], config.noise_std)
        noise = torch.stack([
            torch.randn(images.shape[1:], generator=g) if on else torch.zeros(images.shape[1:])
            for g, on in zip(generators, noise_on)
        ]).to(images.device, images.dtype)
        out = out + noise * std.view(view)
    out = out.clamp(0, 1)

    jpeg_on = (u[:, 8] < config.jpeg_probability).tolist()
    if any(jpeg_on):
        quality = _lerp(u[:, 9], config.jpeg_quality).round().long().tolist()
        out = torch.stack([jpeg_roundtrip(img, q) if on else img for img, q, on in zip(out, quality, jpeg_on)])
    return out
