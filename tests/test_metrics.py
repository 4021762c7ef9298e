"""core.metrics on hand-computed cases (hand3d EvalUtil protocol)."""
from __future__ import annotations

import numpy as np
import pytest

from core.hand.joints import MIDDLE_MCP, MIDDLE_PIP, WRIST, mirror_x
from core.metrics import (
    PCK_THRESHOLDS_MM,
    PoseEvaluator,
    evaluate_pose,
    keypoint_errors_3d,
    normalised_auc,
    per_keypoint_stats,
    pck_curve,
    procrustes_align,
)
from tests.data_builders import hand_joints, rotation_about


@pytest.fixture
def gt() -> np.ndarray:
    return hand_joints(seed=1, batch=3) + np.array([10.0, -20.0, 400.0])


def test_shift_of_all_but_wrist_by_3_4_0_gives_5mm_relative_to_wrist(gt):
    pred = gt.copy()
    pred[:, 1:] += np.array([3.0, 4.0, 0.0])  # the reference bone keeps its length
    errors = keypoint_errors_3d(pred, gt, root=WRIST)
    assert np.allclose(errors[:, WRIST], 0.0)
    assert np.allclose(errors[:, 1:], 5.0)
    metrics = evaluate_pose(pred, gt, root=WRIST)
    assert metrics.epe_mean_mm == pytest.approx(20 * 5.0 / 21)
    assert metrics.epe_median_mm == pytest.approx(20 * 5.0 / 21)
    assert metrics.root_joint == "wrist"


def test_palm_root_splits_the_same_shift_evenly(gt):
    pred = gt.copy()
    pred[:, 1:] += np.array([3.0, 4.0, 0.0])  # palm moves by (1.5, 2, 0): every joint is off by 2.5
    metrics = evaluate_pose(pred, gt)
    assert metrics.root_joint == "palm"
    assert metrics.epe_mean_mm == pytest.approx(2.5)


def test_global_translation_costs_nothing(gt):
    metrics = evaluate_pose(gt + np.array([30.0, -7.0, 55.0]), gt)
    assert metrics.epe_mean_mm == pytest.approx(0.0, abs=1e-9)
    assert metrics.auc_20_50 == pytest.approx(1.0)
    assert metrics.auc_0_50 == pytest.approx(1.0)


def test_prediction_is_rescaled_to_the_ground_truth_reference_bone(gt):
    pred = 2.0 * gt
    assert evaluate_pose(pred, gt).epe_mean_mm == pytest.approx(0.0, abs=1e-9)
    raw = evaluate_pose(pred, gt, scale_normalise=False).epe_mean_mm
    palm = 0.5 * (gt[:, WRIST] + gt[:, MIDDLE_MCP])
    expected = np.linalg.norm(gt - palm[:, None], axis=-1).mean()  # |2 g - g| relative to the palm
    assert raw == pytest.approx(expected)
    bone_before = np.linalg.norm(gt[:, MIDDLE_PIP] - gt[:, MIDDLE_MCP], axis=-1)
    assert bone_before.min() > 10.0  # sanity: the case is not degenerate


def test_mean_is_of_keypoint_means_and_median_of_keypoint_medians():
    errors = np.array([[1.0, 4.0], [2.0, 4.0], [9.0, 4.0]])
    means, medians = per_keypoint_stats(errors)
    assert means.tolist() == [4.0, 4.0]
    assert medians.tolist() == [2.0, 4.0]


def test_pck_averages_keypoints_not_pooled_errors():
    errors = np.array([[10.0, 10.0], [0.0, 30.0], [0.0, 30.0]])
    visible = np.array([[True, True], [False, True], [False, True]])
    # keypoint 0: one visible error (10) -> 1.0 at 20 mm; keypoint 1: 1 of 3 -> 1/3
    assert pck_curve(errors, np.array([20.0]), visible)[0] == pytest.approx((1.0 + 1.0 / 3.0) / 2)


def test_pck_curve_and_auc_of_a_known_error_set():
    errors = np.array([[10.0], [20.0], [30.0], [40.0]])
    thresholds = np.array([0.0, 25.0, 50.0])
    curve = pck_curve(errors, thresholds)
    assert curve.tolist() == [0.0, 0.5, 1.0]
    # trapezoids: (0 + .5) / 2 * 25 + (.5 + 1) / 2 * 25 = 25, over a 50 mm range
    assert normalised_auc(thresholds, curve) == pytest.approx(0.5)


def test_auc_grid_is_hand3d_linspace_0_50_20(gt):
    # Every joint 30 mm off (relative to the wrist, bone lengths kept): PCK is 0 below 30 mm
    # and 1 from the 13th grid point (31.58 mm). On the 20-50 grid (points 8..19, 11 steps)
    # the area is 7 full steps + half of the step that jumps: 7.5 / 11; on 0-50: 7.5 / 19.
    assert PCK_THRESHOLDS_MM[8] == pytest.approx(50 * 8 / 19)
    pred = gt.copy()
    pred[:, 1:] += np.array([0.0, 18.0, 24.0])
    visible = np.ones(gt.shape[:2], bool)
    visible[:, WRIST] = False  # the wrist (0 mm) would otherwise count
    metrics = evaluate_pose(pred, gt, visible, root=WRIST)
    assert metrics.epe_mean_mm == pytest.approx(30.0)
    assert metrics.auc_20_50 == pytest.approx(7.5 / 11)
    assert metrics.auc_0_50 == pytest.approx(7.5 / 19)


def test_invisible_keypoints_do_not_count(gt):
    pred = gt.copy()
    pred[:, 8] += 100.0  # index tip wildly wrong but not visible
    visible = np.ones(gt.shape[:2], bool)
    visible[:, 8] = False
    assert evaluate_pose(pred, gt, visible).epe_mean_mm == pytest.approx(0.0, abs=1e-9)
    assert evaluate_pose(pred, gt).epe_mean_mm > 1.0


def test_nan_prediction_is_not_hidden(gt):
    pred = gt.copy()
    pred[0, 8] = np.nan
    metrics = evaluate_pose(pred, gt)
    assert np.isnan(metrics.epe_mean_mm)
    assert np.isnan(metrics.pa_epe_mean_mm)


def test_procrustes_undoes_scale_rotation_translation(gt):
    rotation = rotation_about([0.2, -1.0, 0.5], 1.1)
    pred = 0.7 * gt @ rotation.T + np.array([5.0, 6.0, -7.0])
    assert np.abs(procrustes_align(pred, gt) - gt).max() < 1e-9
    metrics = evaluate_pose(pred, gt)
    assert metrics.pa_epe_mean_mm == pytest.approx(0.0, abs=1e-9)
    assert metrics.epe_mean_mm > 10.0  # without alignment the rotation shows


def test_procrustes_does_not_allow_a_reflection(gt):
    mirrored = mirror_x(gt)
    aligned = procrustes_align(mirrored, gt)
    assert np.linalg.norm(aligned - gt, axis=-1).mean() > 3.0
    # the fitted map is a proper similarity: its linear part has a positive determinant
    centred_in = mirrored - mirrored.mean(axis=1, keepdims=True)
    centred_out = aligned - aligned.mean(axis=1, keepdims=True)
    linear = np.linalg.lstsq(centred_in[0], centred_out[0], rcond=None)[0]
    assert np.linalg.det(linear) > 0


def test_procrustes_fit_uses_only_weighted_joints(gt):
    rotation = rotation_about([1.0, 0.0, 0.0], 0.5)
    pred = gt @ rotation.T
    pred[:, 20] += 50.0  # an outlier with weight 0 must not disturb the fit
    weights = np.ones(gt.shape[:2])
    weights[:, 20] = 0.0
    aligned = procrustes_align(pred, gt, weights)
    assert np.abs(aligned[:, :20] - gt[:, :20]).max() < 1e-9


def test_pixel_error_of_a_3_4_shift(gt):
    gt_2d = gt[..., :2]
    metrics = evaluate_pose(gt, gt, pred_2d=gt_2d + np.array([3.0, 4.0]), gt_2d=gt_2d)
    assert metrics.px_mean == pytest.approx(5.0)
    assert np.isnan(evaluate_pose(gt, gt).px_mean)


def test_evaluator_accumulates_batches_like_one_call(gt):
    rng = np.random.default_rng(0)
    pred = gt + rng.normal(scale=5.0, size=gt.shape)
    evaluator = PoseEvaluator()
    evaluator.add(pred[:2], gt[:2])
    evaluator.add(pred[2:], gt[2:])
    assert len(evaluator) == 3
    accumulated, at_once = evaluator.result(), evaluate_pose(pred, gt)
    assert accumulated.epe_mean_mm == pytest.approx(at_once.epe_mean_mm)
    assert accumulated.pa_epe_mean_mm == pytest.approx(at_once.pa_epe_mean_mm)
    assert accumulated.auc_20_50 == pytest.approx(at_once.auc_20_50)
    assert accumulated.n == 3


def test_bad_shapes_and_roots_are_rejected(gt):
    with pytest.raises(ValueError, match="pred_3d"):
        evaluate_pose(gt[:, :20], gt)
    with pytest.raises(ValueError, match="root"):
        evaluate_pose(gt, gt, root="elbow")
