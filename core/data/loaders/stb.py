"""STB, the Stereo Hand Pose Tracking Benchmark (Zhang et al., ICIP'17), in its native layout.

Layout under ``root``::

    labels/<seq>_SK.mat, labels/<seq>_BB.mat   variable handPara, 3 x 21 x 1500, millimetres
    images/<seq>/SK_color_%d.png, BB_left_%d.png, BB_right_%d.png   640x480

STB order: palm centre, then pinky, ring, middle, index, thumb (MCP -> tip); the wrist is
recovered as ``2 * palm - middle MCP`` (``core.hand.joints.from_stb``). Left hands only.

Frames of the labels, as assumed here (they follow the common public STB loaders):
- ``_SK.mat`` is in the RealSense *depth* camera frame; the colour frame is
  ``X_colour = R^T (X_depth - t)`` with the documented colour->depth rotation vector / translation.
- ``_BB.mat`` is in the *left* Bumblebee camera frame; the right camera sits one baseline
  (120.054 mm) along +x: ``X_right = X_left - (baseline, 0, 0)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.data.crop import CropConfig
from core.data.loaders.common import (
    DEFAULT_CROP,
    HandDataset,
    check_image_file,
    first_readable_size,
    frame_sample,
    read_image_rgb,
    require_dir,
    require_file,
    require_hand_in_view,
)
from core.data.loaders.errors import DatasetError
from core.data.sample import HandSample
from core.hand.joints import NUM_JOINTS, from_stb

STB_SEQUENCES = tuple(f"B{i}{kind}" for i in range(1, 7) for kind in ("Counting", "Random"))
STB_EVALUATION_SEQUENCES = ("B1Counting", "B1Random")
STB_TRAINING_SEQUENCES = tuple(s for s in STB_SEQUENCES if s not in STB_EVALUATION_SEQUENCES)

BB_K = ((822.79041, 0.0, 318.47345), (0.0, 822.79041, 250.31296), (0.0, 0.0, 1.0))
BB_BASELINE_MM = 120.054
SK_COLOR_K = ((607.92271, 0.0, 314.78337), (0.0, 607.88192, 236.42484), (0.0, 0.0, 1.0))
SK_COLOR_TO_DEPTH_ROTVEC = (0.00531, -0.01196, 0.00301)
SK_COLOR_TO_DEPTH_T_MM = (-24.0381, -0.4563, -1.2326)


@dataclass(frozen=True)
class STBCamera:
    """One STB camera: its images, which label file it uses, and how labels reach its frame.

    ``X_camera = label_rotation @ X_label + label_translation`` (mm).
    """

    image_prefix: str
    label_kind: str
    K: np.ndarray
    label_rotation: np.ndarray
    label_translation: np.ndarray


def _sk_colour_camera() -> STBCamera:
    rotation = cv2.Rodrigues(np.array(SK_COLOR_TO_DEPTH_ROTVEC))[0]  # colour -> depth
    translation = np.array(SK_COLOR_TO_DEPTH_T_MM)
    return STBCamera("SK_color", "SK", np.array(SK_COLOR_K), rotation.T, -rotation.T @ translation)


STB_CAMERAS = {
    "SK": _sk_colour_camera(),
    "BB_left": STBCamera("BB_left", "BB", np.array(BB_K), np.eye(3), np.zeros(3)),
    "BB_right": STBCamera("BB_right", "BB", np.array(BB_K), np.eye(3), np.array([-BB_BASELINE_MM, 0.0, 0.0])),
}


def load_stb_labels(path: Path) -> np.ndarray:
    """``handPara`` of one label file as (N, 21, 3) mm in STB order; ``DatasetError`` if malformed."""
    from scipy.io import loadmat

    require_file(path, "STB labels")
    try:
        content = loadmat(str(path))
    except Exception as error:  # scipy raises several unrelated types for a broken file
        raise DatasetError(path, f"not a readable MATLAB file ({type(error).__name__}: {error})") from None
    if "handPara" not in content:
        raise DatasetError(path, "missing variable 'handPara'")
    hand_para = np.asarray(content["handPara"], dtype=np.float64)
    if hand_para.ndim != 3 or hand_para.shape[:2] != (3, NUM_JOINTS):
        raise DatasetError(path, f"'handPara' has shape {hand_para.shape}, expected (3, {NUM_JOINTS}, frames)")
    return hand_para.transpose(2, 1, 0)


class STBDataset(HandDataset):
    """STB -> ``HandSample`` (3D + 2D, left hands; every joint counts as visible).

    root: the folder holding ``labels/`` and ``images/``.
    split: "training" (B2-B6) or "evaluation" (B1Counting, B1Random), the usual split.
    sequences: explicit sequence names instead of the split's.
    camera: "SK" (RealSense colour), "BB_left" or "BB_right" (Bumblebee stereo pair).
    crop: framing of the hand crop; None keeps the whole 640x480 image.
    """

    def __init__(self, root: str | Path, split: str = "training", sequences: tuple[str, ...] | None = None,
                 camera: str = "SK", crop: CropConfig | None = DEFAULT_CROP, skip_bad: bool = False,
                 check_files: bool = True) -> None:
        if camera not in STB_CAMERAS:
            raise ValueError(f"camera must be one of {tuple(STB_CAMERAS)}, got {camera!r}")
        if sequences is None:
            if split not in ("training", "evaluation"):
                raise ValueError(f"split must be 'training' or 'evaluation', got {split!r}")
            sequences = STB_TRAINING_SEQUENCES if split == "training" else STB_EVALUATION_SEQUENCES
        super().__init__(f"STB {camera} {'+'.join(sequences)} at {root}", skip_bad)
        self.root, self.crop, self.camera = Path(root), crop, STB_CAMERAS[camera]
        require_dir(self.root / "labels", "STB labels")
        self._joints: dict[str, np.ndarray] = {}
        candidates = []
        for sequence in sequences:
            require_dir(self.root / "images" / sequence, f"STB images of {sequence}")
            labels = load_stb_labels(self.root / "labels" / f"{sequence}_{self.camera.label_kind}.mat")
            self._joints[sequence] = from_stb(labels @ self.camera.label_rotation.T + self.camera.label_translation)
            candidates += [(sequence, frame) for frame in range(len(labels))]
        self.image_size_wh = first_readable_size([self.image_path(*c) for c in candidates[:16]], skip_bad)
        self._frames = self._keep_valid(candidates, lambda c: self._check(*c, check_files), lambda c: c[1])

    def __len__(self) -> int:
        return len(self._frames)

    def _source_id(self, position: int) -> int:
        return self._frames[position][1]

    def image_path(self, sequence: str, frame: int) -> Path:
        return self.root / "images" / sequence / f"{self.camera.image_prefix}_{frame}.png"

    def _check(self, sequence: str, frame: int, check_files: bool) -> None:
        path = self.image_path(sequence, frame)
        if check_files:
            check_image_file(path)
        require_hand_in_view(path, self.camera.K, self._joints[sequence][frame], self.image_size_wh)

    def source_intrinsics(self, position: int) -> np.ndarray:
        """(3, 3) intrinsics of the original image behind sample ``position``: the camera's."""
        return np.asarray(self.camera.K, dtype=np.float64)

    def _load(self, position: int) -> HandSample:
        sequence, frame = self._frames[position]
        image = read_image_rgb(self.image_path(sequence, frame))
        return frame_sample(position, image, self.camera.K, self.crop,
                            keypoints_3d_mm=self._joints[sequence][frame], is_left=True)
