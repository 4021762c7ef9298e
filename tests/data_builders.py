"""Helpers for the data/metrics tests: a plausible 3D hand (random, or a gesture turned and
projected into a photo) and tiny files in the public formats; where the real hand fixtures lie.

Not a test module (no ``test_`` prefix); imported by the test files that need them.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from core.hand.gestures import GESTURES, gesture_angles
from core.hand.joints import to_rhd, to_stb
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.landmark_fit import project as pinhole_project

REAL_HANDS = Path(__file__).resolve().parents[2] / "shared/fixtures/real_hands"
PALM_TO_CAMERA = np.diag([1.0, -1.0, -1.0])  # palm toward the camera, fingers up


def hand_joints(seed: int = 0, batch: int = 1) -> np.ndarray:
    """Right-hand joints (batch, 21, 3) mm, hand frame, mildly flexed random poses."""
    generator = torch.Generator().manual_seed(seed)
    angles = 0.4 * torch.rand(batch, 20, generator=generator)
    joints, _ = forward_kinematics(angles, mean_hand_shape(batch))
    return joints.double().numpy()


def posed(name: str, euler_deg: tuple[float, float, float], is_left: bool) -> np.ndarray:
    """(21, 3) mm keypoints of a gesture of the mean hand, turned, wrist at 0."""
    gesture = next(g for g in GESTURES if g.value.name == name)
    angles = gesture_angles(gesture, 1, mean_hand_shape(1)).to(torch.float64)
    joints, _ = forward_kinematics(angles, mean_hand_shape(1).to("cpu", torch.float64))
    turn = Rotation.from_euler("xyz", euler_deg, degrees=True).as_matrix() @ PALM_TO_CAMERA
    mirror = np.array([-1.0 if is_left else 1.0, 1.0, 1.0])
    return (joints[0].numpy() * mirror) @ turn.T


def in_photo(keypoints: np.ndarray, scale: float = 900.0, shift=(300.0, 200.0)) -> np.ndarray:
    """The pose's pinhole projection in a photo's pixels (as the fit projects), (21, 2)."""
    return pinhole_project(torch.from_numpy(keypoints)[None], 500.0)[0].numpy() * scale + np.array(shift)


def rotation_about(axis, angle: float) -> np.ndarray:
    """3x3 rotation about ``axis`` by ``angle`` radians (Rodrigues)."""
    rvec = np.asarray(axis, dtype=np.float64)
    rvec = rvec / np.linalg.norm(rvec) * angle
    return cv2.Rodrigues(rvec)[0]


def camera_hand(seed: int = 0, centre_mm=(0.0, 0.0, 500.0), turn: float = 0.3) -> np.ndarray:
    """One right hand (21, 3) mm in a camera frame, palm roughly facing the camera at ``centre_mm``."""
    joints = hand_joints(seed)[0]
    flip = np.diag([1.0, -1.0, -1.0])  # hand +y (fingers) -> image up, palm toward the camera
    rotation = rotation_about([0.3, 1.0, 0.2], turn) @ flip
    centred = joints - joints.mean(axis=0)
    return centred @ rotation.T + np.asarray(centre_mm)


def project(K: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pinhole projection (..., 3) -> (..., 2)."""
    uvw = points @ np.asarray(K).T
    return uvw[..., :2] / uvw[..., 2:3]


def intrinsics(f: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])


def skeleton_image(size_hw: tuple[int, int], uv: np.ndarray, seed: int = 0) -> np.ndarray:
    """A textured uint8 BGR image with the skeleton drawn on it (so crops have content)."""
    rng = np.random.default_rng(seed)
    image = (rng.random((size_hw[0] // 8 + 1, size_hw[1] // 8 + 1, 3)) * 255).astype(np.uint8)
    image = cv2.resize(image, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_LINEAR)
    for point in uv:
        cv2.circle(image, (int(round(point[0])), int(round(point[1]))), 3, (255, 255, 255), -1)
    return image


def hull_mask(size_hw: tuple[int, int], uv: np.ndarray, value: int) -> np.ndarray:
    """uint8 mask with the convex hull of the keypoints filled with ``value``."""
    mask = np.zeros(size_hw, dtype=np.uint8)
    hull = cv2.convexHull(np.round(uv).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, int(value))
    return mask


def write_rhd(root: Path, split: str, hands_mm: list[tuple[np.ndarray | None, np.ndarray | None]], K: np.ndarray,
              size: int = 320, images: list[np.ndarray] | None = None) -> Path:
    """Native RHD layout: ``root/<split>/{color,mask}/%05d.png`` + ``anno_<split>.pickle``.

    ``hands_mm``: per sample (left, right) joints in INTERNAL order, camera frame, mm; a None
    hand is placed far outside the image with an empty mask.
    """
    split_dir = root / split
    (split_dir / "color").mkdir(parents=True, exist_ok=True)
    (split_dir / "mask").mkdir(parents=True, exist_ok=True)
    anno = {}
    for i, (left, right) in enumerate(hands_mm):
        xyz = np.zeros((42, 3))
        uv_vis = np.zeros((42, 3))
        mask = np.zeros((size, size), np.uint8)
        mask[: size // 10] = 1  # some "person" pixels
        for slot, hand, mask_id in ((0, left, 5), (21, right, 20)):
            if hand is None:
                hand = camera_hand(centre_mm=(5000.0, 0.0, 500.0))
            else:
                mask = np.maximum(mask, hull_mask((size, size), project(K, hand), mask_id))
            xyz[slot:slot + 21] = to_rhd(hand) / 1000.0
            uv_vis[slot:slot + 21, :2] = project(K, to_rhd(hand))
            uv_vis[slot:slot + 21, 2] = 1.0
        anno[i] = {"xyz": xyz.astype(np.float32), "uv_vis": uv_vis.astype(np.float32), "K": K.astype(np.float32)}
        image = images[i] if images is not None else skeleton_image((size, size), uv_vis[:42, :2], seed=i)
        cv2.imwrite(str(split_dir / "color" / f"{i:05d}.png"), image)
        cv2.imwrite(str(split_dir / "mask" / f"{i:05d}.png"), mask)
    with open(split_dir / f"anno_{split}.pickle", "wb") as handle:
        pickle.dump(anno, handle)
    return root


def write_stb(root: Path, sequence: str, labels_mm: np.ndarray, label_kind: str = "SK",
              image_prefixes: tuple[str, ...] = ("SK_color",), uv: np.ndarray | None = None,
              size_hw=(480, 640)) -> Path:
    """STB layout: ``labels/<seq>_<kind>.mat`` (handPara 3x21xN, mm) + ``images/<seq>/<prefix>_%d.png``.

    ``labels_mm``: (N, 21, 3) INTERNAL order in the label file's frame (written in STB order,
    joint 0 the palm centre); ``uv``: (N, 21, 2) where to draw the skeleton in the images.
    """
    from scipy.io import savemat

    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "images" / sequence).mkdir(parents=True, exist_ok=True)
    hand_para = np.transpose(to_stb(labels_mm), (2, 1, 0))  # (N, 21, 3) -> (3, 21, N)
    savemat(str(root / "labels" / f"{sequence}_{label_kind}.mat"), {"handPara": hand_para})
    for i in range(len(labels_mm)):
        points = uv[i] if uv is not None else np.zeros((21, 2))
        for prefix in image_prefixes:
            cv2.imwrite(str(root / "images" / sequence / f"{prefix}_{i}.png"), skeleton_image(size_hw, points, seed=i))
    return root


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def truncate_file(path: Path, keep_fraction: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])


def edit_pickle(path: Path, edit) -> None:
    """Load a pickle, apply ``edit(value)`` (in place), write it back."""
    with open(path, "rb") as handle:
        value = pickle.load(handle)
    edit(value)
    with open(path, "wb") as handle:
        pickle.dump(value, handle)


# InterHand2.6M's per-hand order (each finger tip -> base, thumb first, the wrist last) -> ours
_INTERHAND_TO_OURS = [20, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16]


def interhand_fixture_hands() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every fully labelled hand of the real InterHand2.6M fixture frames, as a right hand.

    Returns (image (H, W, 3) uint8 RGB, K (3, 3), xyz (21, 3) mm camera frame, our joint order)
    per hand. FreiHAND holds right hands only, so a left hand is mirrored: the image flipped
    left-right, x negated in the camera frame and the principal point flipped with the image.
    """
    folder = REAL_HANDS / "interhand2.6m"
    data = json.loads((folder / "test_interhand2.6m_data.json").read_text())
    cameras = json.loads((folder / "test_interhand2.6m_camera.json").read_text())
    joints = json.loads((folder / "test_interhand2.6m_joint_3d.json").read_text())
    annotations = {a["image_id"]: a for a in data["annotations"]}
    hands = []
    for entry in data["images"]:
        capture, camera = str(entry["capture"]), entry["camera"]
        params = cameras[capture]
        rotation, position = np.asarray(params["camrot"][camera]), np.asarray(params["campos"][camera])
        world = np.asarray(joints[capture][str(entry["frame_idx"])]["world_coord"], np.float64)
        in_camera = (world - position) @ rotation.T
        valid = np.asarray(annotations[entry["id"]]["joint_valid"]).reshape(-1) > 0
        bgr = cv2.imread(str(folder / entry["file_name"]))
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        (fx, fy), (cx, cy) = params["focal"][camera], params["princpt"][camera]
        for first, is_left in ((0, False), (21, True)):
            if not valid[first : first + 21].all():
                continue
            xyz = in_camera[first : first + 21][_INTERHAND_TO_OURS]
            K = intrinsics(fx, cx, cy)
            K[1, 1] = fy
            if is_left:
                xyz = xyz * np.array([-1.0, 1.0, 1.0])
                K[0, 2] = image.shape[1] - 1 - cx
                hands.append((np.ascontiguousarray(image[:, ::-1]), K, xyz))
            else:
                hands.append((image, K, xyz))
    return hands
