"""3D and 2D hand pose metrics: the evaluation protocol of hand3d's ``EvalUtil`` (numpy).

Protocol (as hand3d's ``EvalUtil``, Zimmermann & Brox 2017, which Spurr et al. 2018 and
Yang & Yao 2019 report):

- Errors are Euclidean, in millimetres, between **root-relative** joints. The default root is
  the *palm* (mean of wrist and middle MCP), as hand3d uses on RHD; ``root`` may also be a
  joint index (e.g. ``WRIST``).
- Scale: the root-relative prediction is divided by the length of its reference bone (middle
  MCP -> PIP) and multiplied by the ground truth's, so only the shape of the pose is judged.
- Mean EPE = mean over keypoints of the per-keypoint mean error; "median EPE" = mean over
  keypoints of the per-keypoint median error. Only visible keypoints count; a keypoint never
  visible is left out of every average (as in hand3d).
- PCK(t) = per-keypoint fraction of errors <= t, averaged over keypoints. AUC = trapezoidal
  area under PCK over a threshold grid, divided by the grid's length: hand3d's 20-50 mm AUC
  uses ``linspace(0, 50, 20)[8:]`` (21.05 .. 50 mm), the 0-50 mm AUC the whole grid.
- PA-EPE: the raw prediction aligned to the ground truth by the best similarity transform
  (scale, proper rotation, translation; reflections are not allowed), then the mean EPE.

All arrays are in the internal joint order of ``core.hand.joints``: joints ``(N, 21, 3)`` mm,
keypoints ``(N, 21, 2)`` px, visibility ``(N, 21)`` bool.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from core.hand.joints import JOINT_NAMES, MIDDLE_MCP, MIDDLE_PIP, NUM_JOINTS, palm_centre

PALM = "palm"
PCK_THRESHOLDS_MM = np.linspace(0.0, 50.0, 20)       # hand3d's grid, 0 .. 50 mm in 20 steps
PCK_THRESHOLDS_20_50_MM = PCK_THRESHOLDS_MM[8:]       # 21.05 .. 50 mm, as hand3d's 20-50 mm AUC
REFERENCE_BONE = (MIDDLE_MCP, MIDDLE_PIP)


@dataclass
class PoseMetrics:
    """Summary of a pose evaluation; ``nan`` where a metric was not computable (e.g. no 2D)."""

    n: int                  # number of evaluated samples
    epe_mean_mm: float      # mean over keypoints of per-keypoint mean error (scale-normalised)
    epe_median_mm: float    # mean over keypoints of per-keypoint median error
    auc_20_50: float        # normalised area under PCK, thresholds 21.05 .. 50 mm
    auc_0_50: float         # normalised area under PCK, thresholds 0 .. 50 mm
    pa_epe_mean_mm: float   # mean EPE after similarity (Procrustes) alignment
    px_mean: float          # mean 2D error in pixels (per-keypoint means, averaged)
    root_joint: str         # "palm" or the name of the root joint
    pck_thresholds_mm: np.ndarray = field(default_factory=lambda: PCK_THRESHOLDS_MM.copy())
    pck_curve: np.ndarray = field(default_factory=lambda: np.full(len(PCK_THRESHOLDS_MM), np.nan))

    def as_dict(self) -> dict[str, float | int | str]:
        """Scalar fields only, for logging / tables."""
        return {k: v for k, v in asdict(self).items() if not isinstance(v, np.ndarray)}


def root_name(root: str | int) -> str:
    """Printable name of a root choice: ``"palm"`` or the joint's name."""
    return PALM if root == PALM else JOINT_NAMES[int(root)]


def root_relative(joints: np.ndarray, root: str | int = PALM) -> np.ndarray:
    """Subtract the root: ``(..., 21, 3) -> (..., 21, 3)``; root ``"palm"`` or a joint index."""
    joints = np.asarray(joints, dtype=np.float64)
    if root == PALM:
        origin = palm_centre(joints)
    elif isinstance(root, (int, np.integer)) and 0 <= int(root) < NUM_JOINTS:
        origin = joints[..., int(root), :]
    else:
        raise ValueError(f"root must be 'palm' or a joint index 0..{NUM_JOINTS - 1}, got {root!r}")
    return joints - origin[..., None, :]


def bone_length(joints: np.ndarray, bone: tuple[int, int] = REFERENCE_BONE) -> np.ndarray:
    """Length of one bone, ``(..., 21, 3) -> (...)``."""
    joints = np.asarray(joints, dtype=np.float64)
    return np.linalg.norm(joints[..., bone[1], :] - joints[..., bone[0], :], axis=-1)


def rescale_to_reference(pred_rel: np.ndarray, gt_rel: np.ndarray, bone: tuple[int, int] = REFERENCE_BONE) -> np.ndarray:
    """Scale each root-relative prediction so its reference bone is as long as the ground truth's.

    ``pred_rel, gt_rel: (N, 21, 3)``. A prediction with a zero-length bone is left unscaled
    (it cannot be normalised; its error stays large rather than becoming nan).
    """
    pred_len = bone_length(pred_rel, bone)
    factor = np.divide(bone_length(gt_rel, bone), pred_len, out=np.ones_like(pred_len), where=pred_len > 1e-12)
    return pred_rel * factor[..., None, None]


def procrustes_align(pred: np.ndarray, gt: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Best similarity transform (scale, proper rotation, translation) of ``pred`` onto ``gt``.

    ``pred, gt: (N, J, 3)``; ``weights: (N, J)`` (e.g. visibility; joints with weight 0 do not
    influence the fit). Returns the aligned prediction ``(N, J, 3)``. Umeyama's solution with the
    sign correction that excludes reflections: a mirrored copy is *not* aligned to zero error.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    broken = ~np.isfinite(pred).all(axis=(1, 2))                        # a nan prediction stays nan
    pred = np.where(broken[:, None, None], 0.0, pred)
    w = np.ones(pred.shape[:2]) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)              # (N, J)
    mu_p = np.einsum("nj,njd->nd", w, pred)
    mu_g = np.einsum("nj,njd->nd", w, gt)
    p0, g0 = pred - mu_p[:, None], gt - mu_g[:, None]
    cov = np.einsum("nj,nja,njb->nab", w, g0, p0)                         # (N, 3, 3) gt x pred
    u, s, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    d = np.ones((len(pred), 3))
    d[:, 2] = sign                                                        # flip the weakest axis
    rot = u @ (d[:, :, None] * vt)                                        # (N, 3, 3) pred -> gt
    var_p = np.einsum("nj,nj->n", w, (p0 ** 2).sum(-1))
    scale = np.divide((s * d).sum(-1), var_p, out=np.ones_like(var_p), where=var_p > 1e-12)
    aligned = scale[:, None, None] * np.einsum("nab,njb->nja", rot, p0) + mu_g[:, None]
    aligned[broken] = np.nan
    return aligned


def keypoint_errors_3d(pred: np.ndarray, gt: np.ndarray, root: str | int = PALM, scale_normalise: bool = True) -> np.ndarray:
    """Per-keypoint root-relative Euclidean errors, ``(N, 21, 3) x2 -> (N, 21)`` (mm)."""
    pred_rel, gt_rel = root_relative(pred, root), root_relative(gt, root)
    if scale_normalise:
        pred_rel = rescale_to_reference(pred_rel, gt_rel)
    return np.linalg.norm(pred_rel - gt_rel, axis=-1)


def per_keypoint_stats(errors: np.ndarray, visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-keypoint mean and median over visible samples, ``(N, J) -> (J,), (J,)``.

    A keypoint never visible gets nan (and is skipped by the averages); a nan error of a
    visible keypoint (a broken prediction) propagates instead of being hidden.
    """
    errors = np.asarray(errors, dtype=np.float64)
    mask = _mask(errors, visible)
    means = np.full(errors.shape[1], np.nan)
    medians = np.full(errors.shape[1], np.nan)
    for j in range(errors.shape[1]):
        column = errors[mask[:, j], j]
        if column.size:
            means[j], medians[j] = column.mean(), np.median(column)
    return means, medians


def mean_of_keypoint_means(errors: np.ndarray, visible: np.ndarray | None = None) -> float:
    """hand3d's mean EPE: mean over keypoints (that are ever visible) of per-keypoint means."""
    means, _ = per_keypoint_stats(errors, visible)
    return _average_seen(means, _mask(np.asarray(errors), visible).any(axis=0))


def pck_curve(errors: np.ndarray, thresholds: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """PCK per threshold: per-keypoint fraction of visible errors <= t, averaged over keypoints.

    ``errors: (N, J)``, ``thresholds: (T,)`` -> ``(T,)``. Keypoints never visible are skipped.
    """
    errors = np.asarray(errors, dtype=np.float64)
    mask = _mask(errors, visible)
    counts = mask.sum(axis=0)                                              # (J,)
    hits = ((errors[None] <= np.asarray(thresholds)[:, None, None]) & mask[None]).sum(axis=1)  # (T, J)
    seen = counts > 0
    if not seen.any():
        return np.full(len(thresholds), np.nan)
    return (hits[:, seen] / counts[seen]).mean(axis=1)


def normalised_auc(thresholds: np.ndarray, pck: np.ndarray) -> float:
    """Area under a PCK curve divided by the threshold range (1.0 = every error below the first)."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return float(np.trapezoid(pck, thresholds) / (thresholds[-1] - thresholds[0]))


def evaluate_pose(
    pred_3d: np.ndarray,
    gt_3d: np.ndarray,
    visible: np.ndarray | None = None,
    pred_2d: np.ndarray | None = None,
    gt_2d: np.ndarray | None = None,
    root: str | int = PALM,
    scale_normalise: bool = True,
) -> PoseMetrics:
    """All protocol metrics for a set of predictions.

    pred_3d, gt_3d: (N, 21, 3) mm, any common frame (camera or crop camera).
    visible: (N, 21) bool, only visible keypoints count (None: all).
    pred_2d, gt_2d: (N, 21, 2) px, optional; ``px_mean`` is nan without them.
    root: "palm" (mean of wrist and middle MCP) or a joint index.
    scale_normalise: rescale the prediction to the ground truth's middle MCP->PIP bone.
    """
    pred_3d, gt_3d = _as_joints(pred_3d, "pred_3d"), _as_joints(gt_3d, "gt_3d")
    if pred_3d.shape != gt_3d.shape:
        raise ValueError(f"pred_3d {pred_3d.shape} and gt_3d {gt_3d.shape} differ in shape")
    visible = np.ones(gt_3d.shape[:2], dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    if visible.shape != gt_3d.shape[:2]:
        raise ValueError(f"visible has shape {visible.shape}, expected {gt_3d.shape[:2]}")
    errors = keypoint_errors_3d(pred_3d, gt_3d, root, scale_normalise)
    means, medians = per_keypoint_stats(errors, visible)
    curve = pck_curve(errors, PCK_THRESHOLDS_MM, visible)
    aligned = procrustes_align(pred_3d, gt_3d, weights=visible) if len(gt_3d) else pred_3d
    pa_errors = np.linalg.norm(aligned - gt_3d, axis=-1)
    px = float("nan")
    if pred_2d is not None and gt_2d is not None:
        px_errors = np.linalg.norm(np.asarray(pred_2d, np.float64) - np.asarray(gt_2d, np.float64), axis=-1)
        px = mean_of_keypoint_means(px_errors, visible)
    return PoseMetrics(
        n=int(len(gt_3d)),
        epe_mean_mm=_average_seen(means, visible.any(axis=0)),
        epe_median_mm=_average_seen(medians, visible.any(axis=0)),
        auc_20_50=normalised_auc(PCK_THRESHOLDS_20_50_MM, curve[8:]),
        auc_0_50=normalised_auc(PCK_THRESHOLDS_MM, curve),
        pa_epe_mean_mm=mean_of_keypoint_means(pa_errors, visible),
        px_mean=px,
        root_joint=root_name(root),
        pck_thresholds_mm=PCK_THRESHOLDS_MM.copy(),
        pck_curve=curve,
    )


class PoseEvaluator:
    """Accumulates batches and evaluates them together (like hand3d's ``EvalUtil.feed``).

    ``add`` takes the same arrays as ``evaluate_pose`` (numpy or anything ``np.asarray``
    accepts, e.g. CPU tensors); 2D errors are reported only if every batch had 2D.
    """

    def __init__(self, root: str | int = PALM, scale_normalise: bool = True) -> None:
        self.root = root
        self.scale_normalise = scale_normalise
        self._parts: dict[str, list[np.ndarray]] = {"pred_3d": [], "gt_3d": [], "visible": [], "pred_2d": [], "gt_2d": []}

    def add(self, pred_3d, gt_3d, visible=None, pred_2d=None, gt_2d=None) -> None:
        """Add a batch: 3D keypoints (B, 21, 3) mm, ``visible`` (B, 21) bool (None: all joints),
        optional 2D keypoints (B, 21, 2) px (both or neither)."""
        pred_3d, gt_3d = _as_joints(pred_3d, "pred_3d"), _as_joints(gt_3d, "gt_3d")
        self._parts["pred_3d"].append(pred_3d)
        self._parts["gt_3d"].append(gt_3d)
        self._parts["visible"].append(np.ones(gt_3d.shape[:2], bool) if visible is None else np.asarray(visible, bool))
        if pred_2d is not None and gt_2d is not None:
            self._parts["pred_2d"].append(np.asarray(pred_2d, np.float64))
            self._parts["gt_2d"].append(np.asarray(gt_2d, np.float64))

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts["gt_3d"])

    def result(self) -> PoseMetrics:
        if not self._parts["gt_3d"]:
            raise ValueError("PoseEvaluator.result: no samples were added")
        cat = {k: np.concatenate(v) for k, v in self._parts.items() if v}
        with_2d = len(self._parts["pred_2d"]) == len(self._parts["gt_3d"])
        return evaluate_pose(
            cat["pred_3d"], cat["gt_3d"], cat["visible"],
            cat.get("pred_2d") if with_2d else None, cat.get("gt_2d") if with_2d else None,
            root=self.root, scale_normalise=self.scale_normalise,
        )


def _as_joints(array, name: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"{name} must have shape (N, {NUM_JOINTS}, 3), got {array.shape}")
    return array


def _mask(errors: np.ndarray, visible: np.ndarray | None) -> np.ndarray:
    if visible is None:
        return np.ones(errors.shape, dtype=bool)
    visible = np.asarray(visible, dtype=bool)
    if visible.shape != errors.shape:
        raise ValueError(f"visible has shape {visible.shape}, expected {errors.shape}")
    return visible


def _average_seen(per_keypoint: np.ndarray, seen: np.ndarray) -> float:
    """Mean over the keypoints that were ever visible; nan errors there still propagate."""
    return float(per_keypoint[seen].mean()) if seen.any() else float("nan")
