"""core.data.crop: perspective-correct hand crops keep 2D and 3D labels consistent."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.data.crop import CropConfig, CropGeometry, crop_hand, look_at_rotation, plan_crop, project
from tests.data_builders import camera_hand, intrinsics, skeleton_image

K = intrinsics(600.0, 319.5, 239.5)


def off_axis_hand() -> np.ndarray:
    hand = camera_hand(seed=3, centre_mm=(150.0, -100.0, 600.0))  # ~17 deg off the optical axis
    uv = project(K, hand)
    assert (uv > 0).all() and (uv < [640, 480]).all()
    return hand


def test_projected_3d_labels_equal_the_warped_2d_labels():
    hand = off_axis_hand()
    uv = project(K, hand)
    crop = crop_hand(skeleton_image((480, 640), uv), K, uv, CropConfig(size=128), keypoints_3d=hand)
    via_3d = project(crop.K, crop.keypoints_3d)
    via_homography = crop.geometry.map_2d(uv)
    assert np.abs(via_3d - via_homography).max() < 0.5
    assert np.allclose(crop.keypoints_2d, via_3d)
    assert np.allclose(crop.keypoints_3d, hand @ crop.rotation.T)  # X' = R X
    assert np.allclose(crop.geometry.points_to_source(crop.keypoints_3d), hand)


def test_2d_only_labels_move_through_the_homography():
    hand = off_axis_hand()
    uv = project(K, hand)
    with_3d = crop_hand(np.zeros((480, 640, 3), np.uint8), K, uv, keypoints_3d=hand)
    only_2d = crop_hand(np.zeros((480, 640, 3), np.uint8), K, uv)
    assert only_2d.keypoints_3d is None
    assert np.abs(only_2d.keypoints_2d - with_3d.keypoints_2d).max() < 0.5


def test_rotation_is_proper_and_the_crop_camera_looks_at_the_box_centre():
    hand = off_axis_hand()
    uv = project(K, hand)
    geometry = plan_crop(K, uv, CropConfig(size=96))
    R = geometry.rotation
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) == pytest.approx(1.0)
    assert np.degrees(np.arccos(R[2, 2])) > 15  # the test case is really off-axis
    # In the crop the keypoint box is centred on the crop centre (= principal point) ...
    crop_uv = geometry.map_2d(uv)
    assert np.allclose(0.5 * (crop_uv.min(0) + crop_uv.max(0)), [47.5, 47.5], atol=1e-3)
    assert np.allclose(geometry.K[:2, 2], [47.5, 47.5])
    # ... and the crop centre seen back in the original image is the box centre, up to the
    # small asymmetry that perspective adds to an off-axis box.
    box_centre = 0.5 * (uv.min(0) + uv.max(0))
    box_side = (uv.max(0) - uv.min(0)).max()
    assert np.abs(geometry.unmap_2d(np.array([47.5, 47.5])) - box_centre).max() < 0.03 * box_side
    ray = R.T @ np.array([0.0, 0.0, 1.0])
    assert np.allclose(project(K, ray), geometry.unmap_2d(np.array([47.5, 47.5])))


def test_keypoint_box_fills_three_quarters_of_the_crop():
    hand = off_axis_hand()
    crop = crop_hand(np.zeros((480, 640, 3), np.uint8), K, project(K, hand), CropConfig(size=128), keypoints_3d=hand)
    extent = crop.keypoints_2d.max(0) - crop.keypoints_2d.min(0)
    assert extent.max() == pytest.approx(0.75 * 128, rel=0.02)
    assert (crop.keypoints_2d > 0).all() and (crop.keypoints_2d < 127).all()


def test_warped_pixels_land_where_the_keypoints_go():
    # A bright dot at each keypoint in the source must appear at the mapped keypoint in the crop.
    hand = off_axis_hand()
    uv = project(K, hand)
    image = np.zeros((480, 640), np.float32)
    for u, v in uv[[0, 4, 12, 20]]:
        cv2.circle(image, (int(round(u)), int(round(v))), 2, 1.0, -1)
    crop = crop_hand(image, K, uv, CropConfig(size=128), keypoints_3d=hand)
    for j in (0, 4, 12, 20):
        target = np.round(crop.keypoints_2d[j]).astype(int)
        window = crop.image[target[1] - 3:target[1] + 4, target[0] - 3:target[0] + 4]
        assert window.max() > 0.5, f"joint {j} dot not found near {target}"


def test_large_downscale_is_antialiased():
    # A 1-px checkerboard shrunk ~8x must come out as flat grey, not aliasing stripes.
    board = ((np.indices((480, 640)).sum(0) % 2) * 255).astype(np.uint8)
    corners = np.array([[100.0, 50.0], [540.0, 430.0]])
    crop = crop_hand(board, K, corners, CropConfig(size=48, margin=1.0))
    assert crop.geometry.zoom() < 0.15
    inner = crop.image[8:-8, 8:-8].astype(float)
    assert abs(inner.mean() - 127.5) < 10 and inner.std() < 12


def test_jitter_moves_and_scales_the_crop_reproducibly():
    hand = off_axis_hand()
    uv = project(K, hand)
    config = CropConfig(size=64, jitter_scale=0.2, jitter_shift=0.1)
    plain = plan_crop(K, uv, config)
    first = plan_crop(K, uv, config, np.random.default_rng(5))
    again = plan_crop(K, uv, config, np.random.default_rng(5))
    assert np.allclose(first.homography, again.homography)
    assert not np.allclose(first.homography, plain.homography)
    ratio = first.K[0, 0] / plain.K[0, 0]
    assert 1 / 1.2 - 1e-9 <= ratio <= 1 / 0.8 + 1e-9


def test_identity_geometry_leaves_the_image_alone():
    image = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)
    geometry = CropGeometry.identity(K, (32, 32))
    assert geometry.is_identity
    assert np.array_equal(geometry.warp(image), image)


def test_centred_hand_in_a_crop_sized_image_is_cropped_almost_as_is():
    # A 128 px render whose K centres the hand with the 75 % framing: cropping again is ~identity.
    hand = off_axis_hand()
    first = plan_crop(K, project(K, hand), CropConfig(size=128))
    again = plan_crop(first.K, project(first.K, first.points_3d(hand)), CropConfig(size=128))
    assert np.allclose(again.homography, np.eye(3), atol=1e-4)


def test_look_at_rotation_of_the_axis_is_identity():
    assert np.allclose(look_at_rotation(np.array([0.0, 0.0, 2.0])), np.eye(3))


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="size"):
        CropConfig(size=1)
    with pytest.raises(ValueError, match="margin"):
        CropConfig(margin=0.0)
