"""The project's pose JSON: 21 joints (internal = FreiHAND order), millimetres, camera frame.

What File > Save pose writes and ``python -m train.pose_export`` reads. The app's
``app.hand_pose`` re-exports these two functions.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.hand.joints import JOINT_NAMES, NUM_JOINTS


def save_pose_json(path: str | Path, keypoints: np.ndarray, is_left: bool, photo: dict | None = None) -> None:
    """Write keypoints (21, 3) mm (internal = FreiHAND order, camera frame) as JSON.

    ``photo``: for a pose estimated from a photo, what places it there (JSON-able: the app writes
    the file, size, crop box and 2D keypoints in the photo's pixels); stored under ``"photo"``.
    """
    kp = np.asarray(keypoints, np.float64).reshape(NUM_JOINTS, 3)
    data = {"format": "dvae-hands pose", "joint_order": "freihand", "units": "mm",
            "is_left": bool(is_left), "joint_names": list(JOINT_NAMES),
            "keypoints_3d": [[round(float(v), 4) for v in row] for row in kp]}
    if photo is not None:
        data["photo"] = photo
    Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")


def load_pose_json(path: str | Path) -> tuple[np.ndarray, bool]:
    """Read a pose written by :func:`save_pose_json` -> (keypoints (21, 3) mm, is_left).

    Raises ``ValueError`` naming the file for anything that is not such a pose.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        kp = np.asarray(data["keypoints_3d"], np.float64)
        is_left = bool(data.get("is_left", False))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a pose JSON file ({err})") from err
    if kp.shape != (NUM_JOINTS, 3) or not np.isfinite(kp).all():
        raise ValueError(f"{path}: keypoints_3d must be 21 finite [x, y, z] rows, got shape {kp.shape}")
    return kp, is_left
