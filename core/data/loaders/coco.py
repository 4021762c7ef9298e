"""2D-labelled hands in a COCO keypoint json (weak labels: 21 keypoints, no 3D).

The format mmpose uses for FreiHAND, OneHand10K, CMU Panoptic, RHD test data::

    {"images": [{"id", "file_name", "width", "height", optional "cam_param": {"focal", "princpt"}}],
     "annotations": [{"image_id", "keypoints": 21 x (u, v, v_flag) flat or nested}]}

A keypoint with flag 0 (or at (0, 0) with flag 0, OneHand10K's "missing") is not visible and
does not frame the crop. With ``cam_param`` the image's real K is used; otherwise a nominal K
(``nominal_intrinsics``): the crop is then still exact for the 2D labels, but the K is a guess.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.data.crop import CropConfig
from core.data.loaders.common import (
    DEFAULT_CROP,
    HandDataset,
    check_image_file,
    frame_sample,
    nominal_intrinsics,
    points_inside,
    read_image_rgb,
    require_array,
    require_file,
)
from core.data.loaders.errors import DatasetError
from core.data.sample import HandSample
from core.hand.joints import NUM_JOINTS, from_freihand, from_rhd

JOINT_ORDERS = ("freihand", "rhd")


class Coco2DDataset(HandDataset):
    """COCO keypoint json -> ``HandSample`` with 2D labels only (``has_3d`` False).

    annotation_path: the json file. image_dir: folder of ``file_name`` (default: the json's folder).
    joint_order: "freihand" (FreiHAND / MediaPipe / OpenPose / Panoptic order) or "rhd".
    crop: framing from the visible keypoints; None keeps the whole image.
    """

    def __init__(self, annotation_path: str | Path, image_dir: str | Path | None = None, joint_order: str = "freihand",
                 crop: CropConfig | None = DEFAULT_CROP, skip_bad: bool = False, check_files: bool = True) -> None:
        if joint_order not in JOINT_ORDERS:
            raise ValueError(f"joint_order must be one of {JOINT_ORDERS}, got {joint_order!r}")
        super().__init__(f"COCO keypoints {annotation_path}", skip_bad)
        self.path = require_file(Path(annotation_path), "COCO keypoint annotations")
        self.image_dir = Path(image_dir) if image_dir is not None else self.path.parent
        self.crop, self.joint_order = crop, joint_order
        try:
            content = json.loads(self.path.read_text())
            images = {record["id"]: record for record in content["images"]}
            annotations = list(content["annotations"])
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DatasetError(self.path, f"not valid JSON ({error})") from None
        except (KeyError, TypeError) as error:
            raise DatasetError(self.path, f"not a COCO keypoint file (missing {error})") from None
        self._records: dict[int, tuple[Path, np.ndarray, np.ndarray, np.ndarray | None]] = {}
        numbered = list(enumerate(annotations))
        self._items = self._keep_valid(numbered, lambda item: self._check(item, images, check_files),
                                       lambda item: item[0])

    def __len__(self) -> int:
        return len(self._items)

    def _source_id(self, position: int) -> int:
        return self._items[position][0]

    def _check(self, item, images: dict, check_files: bool) -> None:
        number, annotation = item
        where = f"annotation {number}"
        if not isinstance(annotation, dict) or "keypoints" not in annotation or "image_id" not in annotation:
            raise DatasetError(self.path, f"{where}: needs 'image_id' and 'keypoints'")
        record = images.get(annotation["image_id"])
        if not isinstance(record, dict) or "file_name" not in record:
            raise DatasetError(self.path, f"{where}: no image record with id {annotation['image_id']!r}")
        keypoints = require_array(self.path, np.ravel(np.asarray(annotation["keypoints"], dtype=object)).tolist(),
                                  (3 * NUM_JOINTS,), f"{where} keypoints").reshape(NUM_JOINTS, 3)
        image_path = self.image_dir / record["file_name"]
        if check_files:
            check_image_file(image_path)
        visible = keypoints[:, 2] > 0
        size_wh = (int(record.get("width", 0)), int(record.get("height", 0)))
        if not visible.any() or (min(size_wh) > 0 and not points_inside(keypoints[visible, :2], size_wh).any()):
            raise DatasetError(image_path, f"hand not visible: {where} has no visible keypoint in the image")
        K = None
        if "cam_param" in record:
            camera = record["cam_param"]
            try:
                (fx, fy), (cx, cy) = camera["focal"], camera["princpt"]
            except (KeyError, TypeError, ValueError):
                raise DatasetError(self.path, f"image {record['id']!r}: cam_param needs focal [fx, fy] and princpt [cx, cy]") from None
            K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)
        convert = from_freihand if self.joint_order == "freihand" else from_rhd
        self._records[number] = (image_path, convert(keypoints[:, :2]), convert(visible[:, None])[:, 0], K)

    def image_path(self, position: int) -> Path:
        """The image file of sample ``position``."""
        return self._records[self._items[position][0]][0]

    def _load(self, position: int) -> HandSample:
        image_path, keypoints_2d, visible, K = self._records[self._items[position][0]]
        image = read_image_rgb(image_path)
        K = nominal_intrinsics(image.shape[1], image.shape[0]) if K is None else K
        return frame_sample(position, image, K, self.crop, keypoints_2d=keypoints_2d, visible=visible)
