"""InterHand2.6M frames in mmpose's test layout: whole frames with every fully labelled hand.

Three json files beside the images (``PREFIX`` = e.g. ``test_interhand2.6m``)::

    PREFIX_data.json      {"images": [{"id", "file_name", "capture", "camera", "frame_idx"}],
                           "annotations": [{"image_id", "joint_valid": 42 flags}]}
    PREFIX_camera.json    {capture: {"campos", "camrot", "focal", "princpt": {camera: ...}}}
    PREFIX_joint_3d.json  {capture: {frame_idx: {"world_coord": 42 x 3 mm}}}

Joints 0-20 are the right hand, 21-41 the left; per hand each finger tip -> base (thumb first)
and the wrist last. A hand counts when all its 21 joints are valid.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.crop import project
from core.data.loaders.common import read_image_rgb, require_file
from core.data.loaders.errors import DatasetError

# InterHand2.6M's per-hand order -> ours (internal = FreiHAND order)
INTERHAND_TO_INTERNAL = np.array([20, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16])


@dataclass
class FrameHand:
    """One labelled hand: keypoints_3d (21, 3) mm camera frame, keypoints_2d (21, 2) px, internal order."""

    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    is_left: bool


@dataclass
class InterHandFrame:
    """image (H, W, 3) uint8 RGB, K (3, 3), its labelled hands, and the image file."""

    image: np.ndarray
    K: np.ndarray
    hands: list[FrameHand]
    path: Path


def read_interhand_frames(folder: str | Path, prefix: str = "test_interhand2.6m") -> list[InterHandFrame]:
    """Every frame of the folder with its fully labelled hands; ``DatasetError`` naming the file
    for a missing or malformed file."""
    folder = Path(folder)
    paths = [require_file(folder / f"{prefix}_{name}.json", f"InterHand2.6M {name}") for name in ("data", "camera", "joint_3d")]
    try:
        data, cameras, joints = (json.loads(p.read_text()) for p in paths)
        annotations = {a["image_id"]: a for a in data["annotations"]}
        frames = []
        for entry in data["images"]:
            capture, camera = str(entry["capture"]), str(entry["camera"])
            params = cameras[capture]
            rotation = np.asarray(params["camrot"][camera], np.float64)
            position = np.asarray(params["campos"][camera], np.float64)
            world = np.asarray(joints[capture][str(entry["frame_idx"])]["world_coord"], np.float64)
            valid = np.asarray(annotations[entry["id"]]["joint_valid"]).reshape(-1) > 0
            (fx, fy), (cx, cy) = params["focal"][camera], params["princpt"][camera]
            K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
            in_camera = (world - position) @ rotation.T
            hands = []
            for first, is_left in ((0, False), (21, True)):
                if valid[first:first + 21].all():
                    xyz = in_camera[first:first + 21][INTERHAND_TO_INTERNAL]
                    hands.append(FrameHand(xyz, project(K, xyz), is_left))
            path = folder / entry["file_name"]
            frames.append(InterHandFrame(read_image_rgb(path), K, hands, path))
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise DatasetError(folder, f"not an InterHand2.6M test layout ({error!r})") from None
    return frames
