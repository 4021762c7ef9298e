"""Evaluate a pose-estimating checkpoint on a dataset with the peers' protocol.

    python -m train.evaluate --checkpoint (PATH | default) [--estimator fit|encoder] \
        --dataset (synthetic | synthetic:DIR | rhd:DIR | stb:DIR | freihand:DIR) \
        [--split SPLIT] [--predictions OUT.json] [--json] [--count N --seed S] [--limit N]

Protocol (hand3d's ``EvalUtil``, see ``core.metrics``): each hand is cropped from its
ground-truth keypoints (``core.data.crop``, box = 3/4 of the crop, the model's crop size); the
estimate is root-relative; errors are taken root-relative at the **palm** (mean of wrist and
middle MCP; on STB this is its native palm joint) after scaling the prediction to the ground
truth's middle MCP->PIP bone; only visible keypoints count. PA-EPE aligns the prediction by a
similarity transform. The 2D error is in the original image's pixels: the scaled prediction is
placed at the ground-truth root, rotated back to the original camera with ``crop_rotation^T``
and projected with the original intrinsics.

``--estimator fit`` (the default for a dVAE checkpoint, what the app estimates with) reads each
sample in its dataset image with twice the crop's context at 256 px, fits the dVAE's pose prior to
the 21 landmarks MediaPipe finds there and falls back to the image encoder where it finds none
(``train.evaluate.fit``); ``encoder`` is the image encoder (or a baseline's network) on the
protocol's crops alone.

``--predictions`` writes, per sample in dataset order, that 3D prediction (mm, original camera
frame, the dataset's own joint order) and its 2D projection (original image pixels).
``--json`` prints one JSON line last: n, epe_mean_mm, epe_median_mm, auc_20_50, auc_0_50,
pa_epe_mean_mm, px_mean (null where not computable), root_joint, checkpoint, dataset.

``synthetic`` renders the fixed synthetic test set (``train.experiments.data``: seed 12345 by
default, 2,000 samples; training never uses seeds in the test range).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from core.baselines import DVAEEstimator, PoseEstimator, load_pose_estimator
from core.checkpoint import CheckpointError
from core.cli_args import Parser, count, int_range, seed
from core.data.crop import CropConfig, project
from core.data.loaders import DatasetError, FreiHANDDataset, RHDDataset, STBDataset, SyntheticCachedDataset
from core.data.sample import HandBatch, collate_samples
from core.hand import joints as joint_orders
from core.metrics import PALM, PoseMetrics, evaluate_pose, rescale_to_reference, root_relative
from train.experiments.breakdown import ErrorBreakdown, error_breakdown
from train.evaluate.fit import CONTEXT, LandmarkFitEstimator
from train.experiments.data import TEST_COUNT, TEST_SEED, synthetic_test_dataset

ESTIMATORS = ("fit", "encoder")
JSON_KEYS = ("n", "epe_mean_mm", "epe_median_mm", "auc_20_50", "auc_0_50", "pa_epe_mean_mm", "px_mean")
DATASET_KINDS = ("synthetic", "rhd", "stb", "freihand")


@dataclass
class EvaluationSet:
    """A dataset prepared for evaluation.

    dataset: map-style, ``dataset[i] -> HandSample`` cropped to the estimator's size.
    joint_order: "freihand" | "rhd" | "stb", the order of the dataset's own files.
    source_intrinsics: position -> (3, 3) intrinsics of the ORIGINAL image of that sample; None
        when the samples are the original images (renders: their ``K`` is the original one).
    """

    name: str
    dataset: Dataset
    joint_order: str
    source_intrinsics: Callable[[int], np.ndarray] | None = None


@dataclass
class Evaluation:
    """Metrics and per-sample predictions (internal joint order, dataset order of samples).

    pred_3d: (N, 21, 3) mm, original camera frame, scaled to the ground truth's reference bone
    and placed at its palm; pred_2d: (N, 21, 2) original pixels; gt_3d, gt_2d likewise;
    source_K: (N, 3, 3) intrinsics of the original images.
    """

    metrics: PoseMetrics
    pred_3d: np.ndarray
    pred_2d: np.ndarray
    gt_3d: np.ndarray
    gt_2d: np.ndarray
    is_left: np.ndarray
    source_K: np.ndarray


# ----------------------------------------------------------------------------- inputs
def load_estimator(spec: str, device: str = "cpu") -> tuple[PoseEstimator, str]:
    """``"default"`` (the bundled dVAE) or a checkpoint path -> (estimator, description)."""
    if spec == "default":
        from core.api import HandModel  # the bundled model lives with the API

        model = HandModel.load(device=device)
        return DVAEEstimator(model.model), "default (bundled dVAE)"
    estimator, meta = load_pose_estimator(spec, device)
    return estimator, f"{spec} ({meta.kind}, step {meta.step})"


def parse_dataset_spec(spec: str) -> tuple[str, Path | None]:
    """``"rhd:DIR"`` -> ("rhd", Path(DIR)); ``"synthetic"`` -> ("synthetic", None)."""
    kind, _, folder = spec.partition(":")
    if kind not in DATASET_KINDS:
        raise ValueError(f"--dataset {spec!r}: the kind must be one of {', '.join(DATASET_KINDS)} (e.g. rhd:DIR)")
    if kind != "synthetic" and not folder:
        raise ValueError(f"--dataset {spec!r}: give the dataset folder as {kind}:DIR")
    return kind, Path(folder) if folder else None


def default_split(spec: str) -> str:
    """The split ``--split`` defaults to: "training" for cached renders (the only split
    ``train.data generate`` writes), "evaluation" for the public datasets."""
    kind, folder = parse_dataset_spec(spec)
    return "training" if kind == "synthetic" and folder is not None else "evaluation"


def open_evaluation_set(spec: str, split: str, image_size: int, count: int = TEST_COUNT,
                        seed: int = TEST_SEED, context: float = 1.0) -> EvaluationSet:
    """Open a dataset spec (see the module docstring) with crops of ``image_size`` pixels showing
    ``context`` times the protocol's crop around the hand (not for the rendered synthetic test
    set, whose renders are the crops)."""
    kind, folder = parse_dataset_spec(spec)
    crop = CropConfig(size=image_size, margin=CropConfig.margin * context)
    if kind == "synthetic" and folder is None:
        dataset = synthetic_test_dataset(image_size, count, seed)
        return EvaluationSet(f"synthetic test set (seed {seed}, {count} samples)", dataset, "freihand")
    if kind == "synthetic":
        cached = SyntheticCachedDataset(folder, crop=crop, split=split)
        return EvaluationSet(f"{spec} ({split})", cached, "freihand", cached.source_intrinsics)
    if kind == "freihand":
        frei = FreiHANDDataset(folder, split, crop=crop)
        return EvaluationSet(f"{spec} ({split})", frei, "freihand", frei.source_intrinsics)
    if kind == "rhd":
        rhd = RHDDataset(folder, split, crop=crop)
        return EvaluationSet(f"{spec} ({split})", rhd, "rhd", rhd.source_intrinsics)
    stb = STBDataset(folder, split, crop=crop)
    return EvaluationSet(f"{spec} ({split})", stb, "stb", stb.source_intrinsics)


# ----------------------------------------------------------------------------- evaluation
def prediction_in_original_frame(pred_rel: np.ndarray, gt_crop: np.ndarray, crop_rotation: np.ndarray,
                                 root: str | int = PALM) -> np.ndarray:
    """Root-relative crop-frame predictions -> original camera frame, the protocol's way.

    pred_rel, gt_crop: (B, 21, 3) mm in the crop camera; crop_rotation: (B, 3, 3) original ->
    crop. The prediction is scaled to the ground truth's reference bone, placed at the ground
    truth's root and rotated back with ``crop_rotation^T``. Returns (B, 21, 3) mm.
    """
    gt_rel = root_relative(gt_crop, root)
    scaled = rescale_to_reference(root_relative(pred_rel, root), gt_rel)
    placed = scaled + (gt_crop - gt_rel)[:, :1]                      # the ground truth's root
    return placed @ crop_rotation                                    # rows: x_orig = R^T x_crop


def evaluate(estimator: PoseEstimator, evaluation_set: EvaluationSet, batch_size: int = 32,
             workers: int = 0, limit: int | None = None, progress: bool = False) -> Evaluation:
    """Run ``estimator`` over the set in dataset order and compute the protocol's metrics."""
    dataset = evaluation_set.dataset
    count = len(dataset) if limit is None else min(limit, len(dataset))
    subset = dataset if count == len(dataset) else torch.utils.data.Subset(dataset, range(count))
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate_samples)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("pred_3d", "gt_3d", "pred_2d", "gt_2d", "visible", "is_left", "K")}
    if progress:
        from tqdm import tqdm

        loader = tqdm(loader, desc="evaluating", unit="batch", file=sys.stderr)
    for batch in loader:
        _check_labelled(batch, evaluation_set.name)
        pred_rel = estimator.predict(batch.image).double().cpu().numpy()
        gt_crop = batch.keypoints_3d.double().numpy()
        rotation = batch.crop_rotation.double().numpy()
        pred_3d = prediction_in_original_frame(pred_rel, gt_crop, rotation)
        gt_3d = gt_crop @ rotation
        K = batch.K.double().numpy() if evaluation_set.source_intrinsics is None else \
            np.stack([np.asarray(evaluation_set.source_intrinsics(int(i)), np.float64) for i in batch.index])
        parts["pred_3d"].append(pred_3d)
        parts["gt_3d"].append(gt_3d)
        parts["pred_2d"].append(_project_batch(K, pred_3d))
        parts["gt_2d"].append(_project_batch(K, gt_3d))
        parts["visible"].append(batch.visible.numpy().astype(bool))
        parts["is_left"].append(batch.is_left.numpy().astype(bool))
        parts["K"].append(K)
    if not parts["gt_3d"]:
        raise ValueError(f"{evaluation_set.name}: no samples to evaluate")
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    metrics = evaluate_pose(cat["pred_3d"], cat["gt_3d"], cat["visible"], cat["pred_2d"], cat["gt_2d"], root=PALM)
    return Evaluation(metrics, cat["pred_3d"], cat["pred_2d"], cat["gt_3d"], cat["gt_2d"], cat["is_left"], cat["K"])


def _check_labelled(batch: HandBatch, name: str) -> None:
    if not bool(batch.has_3d.all()):
        raise ValueError(f"{name}: sample(s) {batch.index[~batch.has_3d.bool()].tolist()} have no 3D labels; "
                         "the evaluation needs 3D ground truth")


def _project_batch(K: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(B, 3, 3) intrinsics, (B, 21, 3) points -> (B, 21, 2) pixels."""
    return np.stack([project(k, p) for k, p in zip(K, points)])


# ----------------------------------------------------------------------------- outputs
def to_dataset_order(keypoints: np.ndarray, joint_order: str) -> np.ndarray:
    """Internal order (..., 21, D) -> the dataset's own order (STB: joint 0 becomes the palm)."""
    if joint_order == "rhd":
        return joint_orders.to_rhd(keypoints)
    if joint_order == "stb":
        return joint_orders.to_stb(keypoints)
    if joint_order == "freihand":
        return joint_orders.to_freihand(keypoints)
    raise ValueError(f"unknown joint order {joint_order!r}")


def predictions_document(result: Evaluation, evaluation_set: EvaluationSet, checkpoint: str) -> dict:
    """The ``--predictions`` JSON: one entry per sample, in dataset order."""
    xyz = to_dataset_order(result.pred_3d, evaluation_set.joint_order)
    uv = _project_batch(result.source_K, xyz)  # STB's palm joint too
    return {
        "checkpoint": checkpoint,
        "dataset": evaluation_set.name,
        "joint_order": evaluation_set.joint_order,
        "units": {"xyz": "mm, original camera frame", "uv": "px, original image"},
        "protocol": "root-relative prediction scaled to the ground truth's middle MCP->PIP bone, "
                    "placed at the ground truth's palm (mean of wrist and middle MCP)",
        "samples": [
            {"index": i, "is_left": bool(result.is_left[i]), "xyz": np.round(xyz[i], 4).tolist(),
             "uv": np.round(uv[i], 4).tolist()}
            for i in range(len(xyz))
        ],
    }


def metrics_json(metrics: PoseMetrics, checkpoint: str, dataset: str) -> str:
    """One JSON line; nan becomes null so the line is strict JSON."""
    values = {k: _finite_or_none(getattr(metrics, k)) for k in JSON_KEYS}
    values.update(root_joint=metrics.root_joint, checkpoint=checkpoint, dataset=dataset)
    return json.dumps(values)


def format_table(metrics: PoseMetrics, checkpoint: str, dataset: str) -> str:
    """The human-readable summary printed by the CLI."""
    rows = [
        ("checkpoint", checkpoint),
        ("dataset", dataset),
        ("samples", f"{metrics.n}"),
        ("root joint", f"{metrics.root_joint} (errors root-relative, prediction scaled to GT middle MCP->PIP bone)"),
        ("3D error mean", f"{metrics.epe_mean_mm:.2f} mm"),
        ("3D error median", f"{metrics.epe_median_mm:.2f} mm"),
        ("AUC 20-50 mm", f"{metrics.auc_20_50:.3f}"),
        ("AUC 0-50 mm", f"{metrics.auc_0_50:.3f}"),
        ("PA-EPE mean", f"{metrics.pa_epe_mean_mm:.2f} mm"),
        ("2D error mean", f"{metrics.px_mean:.2f} px (original image)"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _finite_or_none(value: float | int) -> float | int | None:
    return value if isinstance(value, int) or math.isfinite(value) else None


# ----------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m train.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint file (dVAE or baseline), or 'default'")
    parser.add_argument("--estimator", choices=ESTIMATORS,
                        help="fit (the app's, the default for a dVAE: its pose prior fitted to MediaPipe's landmarks "
                             "read in each dataset image, the image encoder where MediaPipe finds no hand) or encoder "
                             "(the image encoder alone; the default, and the only choice, for a baseline's network)")
    parser.add_argument("--dataset", required=True,
                        help="synthetic | synthetic:DIR (cached renders) | rhd:DIR | stb:DIR | freihand:DIR")
    parser.add_argument("--split", help="dataset split (default: evaluation; for synthetic:DIR training, the split "
                                         "'python -m train.data generate' writes)")
    parser.add_argument("--predictions", type=Path, help="write per-sample predictions to this JSON file")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON line, last")
    parser.add_argument("--breakdown", action="store_true",
                        help="also show where the error comes from: the error with the true side of the hand, "
                             "with the true viewpoint and side, and with the true canonical pose")
    parser.add_argument("--count", type=count(1_000_000), default=TEST_COUNT, help="synthetic: number of test samples")
    parser.add_argument("--seed", type=seed, default=TEST_SEED, help="synthetic: test-set seed")
    parser.add_argument("--limit", type=count(10_000_000), help="evaluate only the first N samples")
    parser.add_argument("--batch-size", type=count(4096), default=32)
    parser.add_argument("--workers", type=int_range(0, 64), default=0, help="DataLoader worker processes")
    parser.add_argument("--device", default="cpu")
    return parser


def breakdown_of(estimator: PoseEstimator, evaluation_set: EvaluationSet, batch_size: int = 32,
                 limit: int | None = None) -> ErrorBreakdown:
    """``error_breakdown`` of the model behind ``estimator`` over the set (first ``limit`` samples)."""
    model = estimator.model if isinstance(estimator, DVAEEstimator) else estimator
    dataset = evaluation_set.dataset
    if limit is not None and limit < len(dataset):
        dataset = torch.utils.data.Subset(dataset, range(limit))
    return error_breakdown(model, DataLoader(dataset, batch_size=batch_size, collate_fn=collate_samples))


def format_breakdown(b: ErrorBreakdown) -> str:
    """The breakdown as lines under the metrics table (mean joint distance at the true hand scale)."""
    lines = [f"error, as estimated       {b.estimated_mm:.2f} mm (palm root, true hand scale, every joint)",
             f"  with the true side      {b.true_side_mm:.2f} mm (the side is right for {b.handedness_correct:.1%})",
             f"  with the true viewpoint {b.true_viewpoint_mm:.2f} mm (and side; viewpoint error "
             f"{b.viewpoint_error_deg:.1f} deg)",
             f"  with the true canonical {b.true_canonical_mm:.2f} mm"]
    if b.label_round_trip_mm is not None:
        lines.append(f"  true labels, no image   {b.label_round_trip_mm:.2f} mm (through the dVAE's latent)")
    return "\n".join(lines)


def fit_estimator(encoder: PoseEstimator, dataset: str) -> tuple[LandmarkFitEstimator, float]:
    """``--estimator fit`` for a dVAE's ``DVAEEstimator`` (``ValueError`` for a baseline) and the
    context its cuts show (``train.evaluate.fit``: 1 for the rendered synthetic test set)."""
    if not isinstance(encoder, DVAEEstimator):
        raise ValueError("--estimator fit needs a dVAE checkpoint (its pose prior); use --estimator encoder for a baseline")
    from core.api import HandModel
    from core.photo_estimate import default_box_reader

    reader = default_box_reader()
    if reader is None:
        print("note: MediaPipe is not installed: every sample is estimated by the image encoder", file=sys.stderr)
    context = 1.0 if parse_dataset_spec(dataset) == ("synthetic", None) else CONTEXT
    return LandmarkFitEstimator(HandModel(encoder.model), reader, context), context


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    split = args.split or default_split(args.dataset)
    try:
        encoder, description = load_estimator(args.checkpoint, args.device)
        estimator: PoseEstimator = encoder
        context = 1.0
        if args.estimator == "fit" or (args.estimator is None and isinstance(encoder, DVAEEstimator)):
            estimator, context = fit_estimator(encoder, args.dataset)
            description += ", estimator fit"
        evaluation_set = open_evaluation_set(args.dataset, split, estimator.image_size, args.count, args.seed, context)
        result = evaluate(estimator, evaluation_set, args.batch_size, args.workers, args.limit,
                          progress=sys.stderr.isatty())
    except (CheckpointError, DatasetError, FileNotFoundError, ValueError) as error:
        print(f"train.evaluate.synthetic: {error}", file=sys.stderr)
        return 2
    print(format_table(result.metrics, description, evaluation_set.name))
    if isinstance(estimator, LandmarkFitEstimator):
        print(estimator.summary())
    if args.breakdown:  # of the image encoder, on the protocol's crops
        crops = open_evaluation_set(args.dataset, split, encoder.image_size, args.count, args.seed)
        print(format_breakdown(breakdown_of(encoder, crops, args.batch_size, args.limit)))
    if args.predictions is not None:
        args.predictions.parent.mkdir(parents=True, exist_ok=True)
        args.predictions.write_text(json.dumps(predictions_document(result, evaluation_set, description)))
        print(f"predictions written to {args.predictions}")
    if args.json:
        print(metrics_json(result.metrics, description, evaluation_set.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
