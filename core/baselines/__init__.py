"""The peers the dVAE is compared with, trained on the same data with the same image encoder:
direct regression (image -> 3D pose) and the cross-modal VAE of Spurr et al. (CVPR'18), plus the
``PoseEstimator`` protocol that they and the dVAE satisfy for the evaluation."""
from core.baselines.checkpoint import ESTIMATOR_KINDS, load_baseline, load_pose_estimator, save_baseline
from core.baselines.crossmodal import (
    CROSSMODAL_KIND,
    CrossModalConfig,
    CrossModalLoss,
    CrossModalObjective,
    CrossModalVAE,
)
from core.baselines.direct import (
    DIRECT_KIND,
    DirectRegression,
    DirectRegressionConfig,
    DirectRegressionLoss,
    DirectRegressionObjective,
)
from core.baselines.estimator import DVAEEstimator, PoseEstimator, pose_from_labels

__all__ = [
    "ESTIMATOR_KINDS", "load_baseline", "load_pose_estimator", "save_baseline",
    "CROSSMODAL_KIND", "CrossModalConfig", "CrossModalLoss", "CrossModalObjective", "CrossModalVAE",
    "DIRECT_KIND", "DirectRegression", "DirectRegressionConfig", "DirectRegressionLoss", "DirectRegressionObjective",
    "DVAEEstimator", "PoseEstimator", "pose_from_labels",
]
