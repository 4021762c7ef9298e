"""OpenPose's hand keypoints: the JSON layout OpenPose editors and ControlNet read, and the
skeleton picture the ControlNet OpenPose preprocessor draws.

JSON: ``{"people": [{"hand_right_keypoints_2d": [x0, y0, c0, ..., x20, y20, c20], ...}],
"canvas_width": W, "canvas_height": H}``: 21 joints in OpenPose's hand order (wrist, then
thumb, index, middle, ring and little finger, each base -> tip: the project's internal order),
x / y in canvas pixels, confidence in [0, 1]; a joint that was not found is (0, 0, 0). Some
editors write coordinates normalised to [0, 1]; the reader accepts both.

Skeleton picture: black background, the 20 bones as 2-pixel lines (at 512 px) coloured by hue
``i / 20`` in bone order, each joint a filled blue dot of radius 4 (RGB (0, 0, 255)).
"""
from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.hand.joints import BONES, NUM_JOINTS

HAND_KEYS = {False: "hand_right_keypoints_2d", True: "hand_left_keypoints_2d"}  # keyed by is_left
_EMPTY_PERSON_KEYS = ("pose_keypoints_2d", "face_keypoints_2d", "pose_keypoints_3d", "face_keypoints_3d",
                      "hand_left_keypoints_3d", "hand_right_keypoints_3d")
JOINT_RGB = (0, 0, 255)
REFERENCE_SIDE = 512  # the preprocessor's line width 2 and dot radius 4 are for a 512-px canvas
MAX_FILE_BYTES = 5_000_000
# A hand whose found joints span less than this is a point, not a pose (a drawn hand spans tens of px).
MIN_HAND_SPAN_PX = 2.0
MAX_CANVAS_SIDE = 65_535  # larger canvases are no image a pipeline draws; beyond PNG's 16-bit habits


class OpenPoseFormatError(ValueError):
    """A file that is not an OpenPose JSON with a usable hand; the message says what is wrong."""


@dataclass
class OpenPoseHand:
    """One hand in a canvas.

    keypoints: (21, 2) float px, OpenPose (= internal) order, pixel centres at integers.
    confidence: (21,) in [0, 1]; 0 = joint missing.
    is_left: which of the two hand arrays it is.
    canvas_wh: (width, height) px.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    is_left: bool
    canvas_wh: tuple[int, int]


def to_openpose_dict(hand: OpenPoseHand) -> dict:
    """The OpenPose JSON object of one person with this hand (the other hand and body empty)."""
    kp = np.asarray(hand.keypoints, np.float64).reshape(NUM_JOINTS, 2)
    conf = np.clip(np.asarray(hand.confidence, np.float64).reshape(NUM_JOINTS), 0.0, 1.0)
    flat = np.concatenate([kp, conf[:, None]], axis=1)
    flat[conf == 0] = 0.0  # OpenPose's "not found"
    person: dict = {"person_id": [-1]}
    person.update({key: [] for key in _EMPTY_PERSON_KEYS})
    person[HAND_KEYS[bool(hand.is_left)]] = [round(float(v), 3) for v in flat.reshape(-1)]
    person[HAND_KEYS[not hand.is_left]] = []
    width, height = (int(v) for v in hand.canvas_wh)
    return {"version": 1.3, "people": [person], "canvas_width": width, "canvas_height": height}


def write_openpose_json(path: str | Path, hand: OpenPoseHand) -> Path:
    path = Path(path)
    path.write_text(json.dumps(to_openpose_dict(hand), indent=1), encoding="utf-8")
    return path


def read_openpose_json(path: str | Path) -> OpenPoseHand:
    """The first hand of the first person that has one (right before left within a person).

    Raises ``OpenPoseFormatError`` naming the file: not JSON, no ``people``, no person with a
    hand, a hand array whose length is not 63, non-finite numbers, or too few joints found.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise OpenPoseFormatError(f"{path.name}: {path.stat().st_size} bytes is too large for an OpenPose file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise OpenPoseFormatError(f"{path.name}: not an OpenPose JSON file ({err})") from err
    except RecursionError:  # json nests as deep as the file says; OpenPose files are 3 levels deep
        raise OpenPoseFormatError(f"{path.name}: not an OpenPose JSON file (nested too deeply)") from None
    try:
        return parse_openpose(data)
    except OpenPoseFormatError as err:
        raise OpenPoseFormatError(f"{path.name}: {err}") from err


def parse_openpose(data: object) -> OpenPoseHand:
    """``read_openpose_json`` on an already parsed JSON object."""
    if isinstance(data, list):  # some tools write a list of frames: take the first
        data = data[0] if data else {}
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise OpenPoseFormatError("not an OpenPose JSON file: no 'people' list")
    for index, person in enumerate(data["people"]):
        if not isinstance(person, dict):
            raise OpenPoseFormatError(f"people[{index}] is not an object")
        for is_left in (False, True):
            values = person.get(HAND_KEYS[is_left]) or []
            if len(values) == 0:
                continue
            keypoints, confidence = _hand_array(values, f"people[{index}].{HAND_KEYS[is_left]}")
            if (confidence > 0).sum() < 4:
                continue  # an empty placeholder (all zeros) is no hand
            canvas = _canvas(data, keypoints, confidence)
            if keypoints[confidence > 0].max() <= 1.0 + 1e-6:  # normalised coordinates
                keypoints = keypoints * np.array(canvas, np.float64)
            if np.ptp(keypoints[confidence > 0], axis=0).max() < MIN_HAND_SPAN_PX:
                raise OpenPoseFormatError(
                    f"people[{index}].{HAND_KEYS[is_left]}: the found joints all lie within {MIN_HAND_SPAN_PX:g} px "
                    f"of one point: no hand shape to lift")
            return OpenPoseHand(keypoints, confidence, is_left, canvas)
    raise OpenPoseFormatError("no hand in this OpenPose file: every person's hand_right_keypoints_2d and "
                              "hand_left_keypoints_2d is empty or has fewer than 4 joints found")


def _hand_array(values: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        flat = np.asarray(values, np.float64)
    except (TypeError, ValueError) as err:
        raise OpenPoseFormatError(f"{name} must be a list of numbers ({err})") from err
    if flat.shape != (3 * NUM_JOINTS,):
        raise OpenPoseFormatError(f"{name} must hold 21 x (x, y, confidence) = 63 numbers, got shape {flat.shape}")
    if not np.isfinite(flat).all():
        raise OpenPoseFormatError(f"{name} holds non-finite numbers")
    triples = flat.reshape(NUM_JOINTS, 3)
    confidence = triples[:, 2].copy()
    if confidence.min() < 0 or confidence.max() > 1:
        raise OpenPoseFormatError(
            f"{name}: confidences must lie in [0, 1], got {confidence.min():g}..{confidence.max():g}")
    return triples[:, :2].copy(), confidence


def _canvas(data: dict, keypoints: np.ndarray, confidence: np.ndarray) -> tuple[int, int]:
    width, height = data.get("canvas_width"), data.get("canvas_height")
    if width is not None or height is not None:  # given: it must be a canvas, not silently replaced
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (width, height))
        if not numbers or not all(1 <= v <= MAX_CANVAS_SIDE for v in (width, height)):
            raise OpenPoseFormatError(f"canvas_width / canvas_height must be 1..{MAX_CANVAS_SIDE} pixels, "
                                      f"got {width!r} x {height!r}")
        return int(width), int(height)
    # OpenPose itself writes no canvas: take the keypoints' extent, with a margin.
    side = int(np.ceil(keypoints[confidence > 0].max() * 1.1)) + 1
    return side, side


def draw_skeleton(hand: OpenPoseHand) -> np.ndarray:
    """The ControlNet-style hand skeleton, (H, W, 3) uint8 RGB (see the module docstring).

    Line width and dot radius scale with the canvas (2 and 4 px at 512); missing joints and their
    bones are left out.
    """
    width, height = hand.canvas_wh
    canvas = np.zeros((height, width, 3), np.uint8)
    scale = min(width, height) / REFERENCE_SIDE
    thickness, radius = max(1, round(2 * scale)), max(1, round(4 * scale))
    points = np.round(np.asarray(hand.keypoints, np.float64)).astype(np.int32)
    found = np.asarray(hand.confidence) > 0
    for index, (parent, child) in enumerate(BONES):
        if found[parent] and found[child]:
            rgb = colorsys.hsv_to_rgb(index / len(BONES), 1.0, 1.0)
            colour = tuple(int(round(255 * c)) for c in rgb)
            cv2.line(canvas, tuple(map(int, points[parent])), tuple(map(int, points[child])), colour, thickness)
    for joint in np.flatnonzero(found):
        cv2.circle(canvas, tuple(map(int, points[joint])), radius, JOINT_RGB, -1)
    return canvas
