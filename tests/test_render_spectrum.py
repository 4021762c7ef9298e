"""Amplitude-spectrum mixing: phase (edges) kept, low frequencies moved to a photo's, off = identical."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from core.data.synthetic import SyntheticConfig, SyntheticRenderer
from core.render.augment import AugmentConfig
from core.render.spectrum import AmplitudeMixer, amplitude_bank, low_frequency_band, mix_amplitude

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = 32


def bars(batch: int = 2) -> torch.Tensor:
    """(B, 3, 32, 32) images with a bright vertical bar on columns 10..17 (edges at 9|10, 17|18)."""
    images = torch.full((batch, 3, SIZE, SIZE), 0.35)
    images[..., 10:18] = 0.65
    return images


def test_the_band_is_the_centred_square_of_the_shifted_spectrum():
    band = torch.fft.fftshift(low_frequency_band(SIZE, SIZE, 0.1))
    rows, cols = torch.nonzero(band, as_tuple=True)
    half = int(0.1 * SIZE)  # 3
    assert band.sum() == (2 * half + 1) ** 2
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (16 - half, 16 + half, 16 - half, 16 + half)


def test_mixing_keeps_the_edges_and_moves_the_low_frequencies_to_the_photo():
    images = bars()
    photo = amplitude_bank(SIZE, 4, 0)[:2]
    band = low_frequency_band(SIZE, SIZE, 0.1)
    mixed = mix_amplitude(images, photo, torch.tensor([1.0, 0.5]), band)
    assert mixed.shape == images.shape and 0.0 <= float(mixed.min()) and float(mixed.max()) <= 1.0
    # The phase is kept: the strongest horizontal steps stay at the bar's two edges.
    steps = (mixed[..., 1:] - mixed[..., :-1]).abs().mean(dim=(1, 2))  # (B, W - 1)
    for row in steps:
        assert sorted(row.topk(2).indices.tolist()) == [9, 17]
    # The low-frequency amplitude moves towards the photo's (all the way with lam 1, half with 0.5).
    before = (torch.fft.fft2(images.double()).abs() - photo)[..., band].abs().mean(dim=(1, 2))
    after = (torch.fft.fft2(mixed.double()).abs() - photo)[..., band].abs().mean(dim=(1, 2))
    assert after[0] < 0.2 * before[0]
    assert 0.3 * before[1] < after[1] < 0.7 * before[1]


def test_the_mixer_draws_per_image_and_leaves_the_others_bit_identical():
    config = AugmentConfig(amplitude_mix_probability=0.5, amplitude_mix_bank_size=4)
    mixer = AmplitudeMixer(config, SIZE)
    images = bars(8)
    out = mixer(images, [torch.Generator().manual_seed(i) for i in range(8)])
    mixed = [not torch.equal(a, b) for a, b in zip(out, images)]
    assert any(mixed) and not all(mixed)
    again = mixer(images[3:4], [torch.Generator().manual_seed(3)])  # the same image alone: the same result
    assert torch.equal(again[0], out[3])
    off = AmplitudeMixer(replace(config, amplitude_mix_probability=0.0), SIZE)
    assert torch.equal(off(images, [torch.Generator().manual_seed(i) for i in range(8)]), images)


def test_the_bank_is_a_pure_function_of_its_seed():
    assert torch.equal(amplitude_bank(SIZE, 3, 7), amplitude_bank.__wrapped__(SIZE, 3, 7))
    assert not torch.equal(amplitude_bank(SIZE, 3, 7), amplitude_bank(SIZE, 3, 8))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="amplitude_mix_beta"):
        AugmentConfig(amplitude_mix_beta=0.5)
    with pytest.raises(ValueError, match="amplitude_mix_lambda"):
        AugmentConfig(amplitude_mix_lambda=(0.5, 1.5))


def test_synthetic_images_with_probability_0_are_bit_identical_and_labels_never_change():
    base = SyntheticConfig.at_size(SIZE)
    reference = SyntheticRenderer(base).render(list(range(6)), 2).batch
    off = replace(base, augment=replace(base.augment, amplitude_mix_beta=0.2, amplitude_mix_bank_size=3))
    assert torch.equal(SyntheticRenderer(off).render(list(range(6)), 2).batch.image, reference.image)
    on = replace(base, augment=replace(base.augment, amplitude_mix_probability=1.0, amplitude_mix_bank_size=3))
    mixed = SyntheticRenderer(on).render(list(range(6)), 2).batch
    assert all(not torch.equal(a, b) for a, b in zip(mixed.image, reference.image))
    for name in ("keypoints_2d", "keypoints_3d", "mask", "content", "visible"):
        assert torch.equal(getattr(mixed, name), getattr(reference, name)), name
