"""Amplitude-spectrum mixing: a render's lowest frequencies take on a real photo's amplitude.

Fourier domain adaptation (Yang & Soatto, CVPR 2020), the "image frequency statistics" lever of
Zhao et al. (CVPR 2025) for synthetic-only hand pose: per channel, the amplitude |F(x)| of the
lowest frequencies (a centred square of half-size ``floor(beta * S)`` in the shifted spectrum)
becomes ``lam * A_photo + (1 - lam) * A_image``; the phase, which says where the edges are, is
kept; the inverse FFT is clamped to [0, 1]. ``A_photo`` comes from a fixed bank of random crops
of the photos bundled with scikit-image (``core.render.backgrounds.load_photos``), resized to
the image size. Every per-image choice (on or off, lam, which bank entry) comes from that image's
own generator, so a mixed sample is reproducible from its seed.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import torch

from core.render.augment import AugmentConfig
from core.render.backgrounds import load_photos


def low_frequency_band(height: int, width: int, beta: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W) bool, in ``torch.fft.fft2``'s (unshifted) layout: the frequencies (ky, kx) with
    |ky|, |kx| <= floor(beta * min(H, W)), i.e. the centred square of the shifted spectrum."""
    half = int(np.floor(beta * min(height, width)))
    ky = torch.fft.fftfreq(height, device=device) * height
    kx = torch.fft.fftfreq(width, device=device) * width
    return (ky.abs()[:, None] <= half) & (kx.abs()[None, :] <= half)


def photo_crops(size: int, count: int, seed: int) -> np.ndarray:
    """``count`` random square crops (a quarter to all of the shorter side) of the bundled photos,
    resized to ``size``: (count, size, size, 3) float32 in [0, 1]; a pure function of ``seed``."""
    photos = load_photos()
    if not photos:
        raise RuntimeError("amplitude mixing needs the photos bundled with scikit-image; none could be loaded")
    rng = np.random.default_rng(seed)
    crops = np.empty((count, size, size, 3), np.float32)
    for k in range(count):
        photo = photos[int(rng.integers(len(photos)))]
        h, w = photo.shape[:2]
        side = max(8, int(rng.uniform(0.25, 1.0) * min(h, w)))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = cv2.resize(photo[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_AREA)
        crops[k] = crop.astype(np.float32) / 255.0
    return crops


@lru_cache(maxsize=4)
def amplitude_bank(size: int, count: int, seed: int) -> torch.Tensor:
    """Amplitude spectra |FFT2| of ``photo_crops(size, count, seed)``: (count, 3, size, size)
    float32, unshifted layout (built once per process and arguments)."""
    crops = torch.from_numpy(photo_crops(size, count, seed)).permute(0, 3, 1, 2)
    return torch.fft.fft2(crops.double()).abs().float().contiguous()


def mix_amplitude(images: torch.Tensor, photo_amplitude: torch.Tensor, lam: torch.Tensor,
                  band: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, H, W) in [0, 1] with the amplitude inside ``band`` (H, W) bool replaced by
    ``lam * photo_amplitude + (1 - lam) * own amplitude``; photo_amplitude (B, 3, H, W), lam (B,).
    The phase is kept; the result is clamped to [0, 1]."""
    spectrum = torch.fft.fft2(images.double())
    amplitude, phase = spectrum.abs(), spectrum.angle()
    weight = lam.to(amplitude.dtype).view(-1, 1, 1, 1)
    mixed = weight * photo_amplitude.to(amplitude.dtype) + (1.0 - weight) * amplitude
    amplitude = torch.where(band, mixed, amplitude)
    out = torch.fft.ifft2(torch.polar(amplitude, phase)).real
    return out.clamp(0.0, 1.0).to(images.dtype)


class AmplitudeMixer:
    """Mixes images of side ``size`` with the photo bank as ``config.amplitude_mix_*`` say.

    ``mixer(images, generators)``: images (B, 3, S, S) in [0, 1], one generator per image; each
    generator gives three uniforms (on or off, lam, bank entry). Images left off are returned
    bit for bit; with probability 0 nothing is drawn at all.
    """

    def __init__(self, config: AugmentConfig, size: int, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.bank = amplitude_bank(size, config.amplitude_mix_bank_size, config.amplitude_mix_bank_seed).to(self.device)
        self.band = low_frequency_band(size, size, config.amplitude_mix_beta, self.device)

    def __call__(self, images: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
        c = self.config
        if c.amplitude_mix_probability <= 0.0:
            return images
        u = torch.stack([torch.rand(3, generator=g) for g in generators])  # (B, 3)
        rows = torch.nonzero(u[:, 0] < c.amplitude_mix_probability).squeeze(1)
        if rows.numel() == 0:
            return images
        low, high = c.amplitude_mix_lambda
        lam = (low + (high - low) * u[rows, 1]).to(images.device)
        entry = (u[rows, 2] * self.bank.shape[0]).long().clamp(max=self.bank.shape[0] - 1).to(self.device)
        rows = rows.to(images.device)
        mixed = mix_amplitude(images.index_select(0, rows), self.bank.index_select(0, entry), lam, self.band)
        return images.index_copy(0, rows, mixed)
