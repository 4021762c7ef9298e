"""SyntheticCachedDataset: the generator's FreiHAND layout + dVAE labels, read back."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.data.crop import CropConfig, plan_crop, project
from core.data.loaders import (
    DatasetError,
    SyntheticCachedDataset,
    content_path,
    freihand_mask_path,
    write_dvae_labels,
    write_freihand_layout,
)
from core.hand.joints import mirror_x
from tests.data_builders import camera_hand, hull_mask, intrinsics, skeleton_image

SIZE = 64
CAMERA_K = intrinsics(500.0, 319.5, 239.5)


def rendered_crops(count: int):
    """What the generator writes: crops whose K centres the hand with the default framing."""
    hands, Ks, images, masks, contents = [], [], [], [], []
    for i in range(count):
        hand = camera_hand(seed=i, centre_mm=(60.0 * i - 40.0, 30.0, 600.0))
        hand = mirror_x(hand) if i % 2 else hand
        geometry = plan_crop(CAMERA_K, project(CAMERA_K, hand), CropConfig(size=SIZE))
        hand_crop = geometry.points_3d(hand)
        uv = project(geometry.K, hand_crop)
        contents.append(cv2.cvtColor(skeleton_image((SIZE, SIZE), np.zeros((0, 2)), seed=10 + i), cv2.COLOR_BGR2RGB))
        image = contents[-1].copy()
        masks.append(hull_mask((SIZE, SIZE), uv, 255))
        image[masks[-1] > 0] = (230, 180, 150)
        hands.append(hand_crop), Ks.append(geometry.K), images.append(image)
    return np.stack(hands), np.stack(Ks), images, masks, contents


@pytest.fixture
def cache(tmp_path):
    hands, Ks, images, masks, contents = rendered_crops(3)
    write_freihand_layout(tmp_path, "training", images, Ks, hands / 1000.0)
    for i in range(3):
        freihand_mask_path(tmp_path, "training", i).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(freihand_mask_path(tmp_path, "training", i)), masks[i])
        if i < 2:  # sample 2 has no content tag
            content_path(tmp_path, i).parent.mkdir(exist_ok=True)
            cv2.imwrite(str(content_path(tmp_path, i)), cv2.cvtColor(contents[i], cv2.COLOR_RGB2BGR))
    visible = np.ones((3, 21), bool)
    visible[1, 8] = False
    appearance = np.arange(24, dtype=np.float32).reshape(3, 8) / 24
    write_dvae_labels(tmp_path, np.array([False, True, False]), appearance, visible)
    return tmp_path, hands, Ks, images


def test_renders_are_used_as_they_are(cache):
    root, hands, Ks, images = cache
    dataset = SyntheticCachedDataset(root)
    assert len(dataset) == 3
    for i in range(3):
        sample = dataset[i]
        assert sample.image.shape == (3, SIZE, SIZE)
        assert np.allclose(sample.crop_rotation.numpy(), np.eye(3)) and np.allclose(sample.K.numpy(), Ks[i], atol=1e-4)
        assert np.abs(sample.keypoints_3d.numpy() - hands[i]).max() < 1e-3
        assert np.abs(sample.image.numpy().transpose(1, 2, 0) * 255 - images[i]).mean() < 6  # JPEG noise only
    assert [bool(dataset[i].is_left) for i in range(3)] == [False, True, False]


def test_dvae_labels_content_and_mask(cache):
    root = cache[0]
    dataset = SyntheticCachedDataset(root)
    first, second, third = dataset[0], dataset[1], dataset[2]
    assert bool(first.has_content) and not bool(third.has_content)
    assert float(third.content.abs().max()) == 0.0 and float(third.appearance.abs().max()) == 0.0
    assert np.allclose(second.appearance.numpy(), np.arange(8, 16) / 24)
    assert not bool(second.visible[8]) and bool(second.visible[7])
    assert float(first.mask.max()) == pytest.approx(1.0) and 0.05 < float(first.mask.mean()) < 0.9
    hand_pixels = first.mask[0] > 0.5
    # the content tag is the same background without the hand
    assert (first.content - first.image)[:, hand_pixels].abs().mean() > 0.1
    assert (first.content - first.image)[:, ~hand_pixels].abs().mean() < 0.05


def test_recropping_a_render_is_nearly_the_identity(cache):
    root, hands, Ks, _ = cache
    as_is = SyntheticCachedDataset(root)[1]
    recropped = SyntheticCachedDataset(root, crop=CropConfig(size=SIZE))[1]
    assert np.allclose(recropped.crop_rotation.numpy(), np.eye(3), atol=1e-4)
    assert np.allclose(recropped.K.numpy(), Ks[1], atol=1e-2)
    assert np.abs(recropped.keypoints_2d.numpy() - as_is.keypoints_2d.numpy()).max() < 0.05
    assert float((recropped.image - as_is.image).abs().mean()) < 0.01


def test_bad_label_file(cache):
    root = cache[0]
    np.savez(root / "training_dvae_labels.npz", is_left=np.zeros(3, bool), appearance=np.zeros((3, 8)))
    with pytest.raises(DatasetError, match="missing array 'visible'") as caught:
        SyntheticCachedDataset(root)
    assert caught.value.path.endswith("training_dvae_labels.npz")
    write_dvae_labels(root, np.zeros(2, bool), np.zeros((2, 8)), np.ones((2, 21), bool))
    with pytest.raises(DatasetError, match="2 label rows but 3 samples"):
        SyntheticCachedDataset(root)
    (root / "training_dvae_labels.npz").unlink()
    with pytest.raises(DatasetError, match="missing file"):
        SyntheticCachedDataset(root)


def test_writer_rejects_mismatched_arrays(tmp_path):
    with pytest.raises(ValueError, match="appearance"):
        write_dvae_labels(tmp_path, np.zeros(2, bool), np.zeros((3, 8)), np.ones((2, 21), bool))
