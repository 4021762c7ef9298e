"""Hands found by MediaPipe Hands, a packaged detector that ships its weights in its wheel.

``mediapipe`` 0.10.14 (a dependency on Python < 3.13, pyproject.toml) holds the palm detector and
hand landmark models as files inside its package (``mediapipe/modules/palm_detection``,
``mediapipe/modules/hand_landmark``), so nothing is downloaded at run time. Its detector was
trained on real photos, which is what the project's finder (renders only) lacks: on the fixture
photos it finds hands the project's finder misses, and rarely puts a box where there is no hand
(docs/results.md, "Finding hands in whole photos").

The box of a found hand is the training crops' framing (``core.finder.boxes.keypoint_box``) of
the 21 landmarks MediaPipe places, widened by ``LANDMARK_BOX_SCALE``; the detection keeps the
landmarks themselves (photo pixels), which ``core.photo_estimate`` fits the project's pose prior to.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from core.api_checks import check_photo
from core.finder.boxes import MEDIAPIPE, Detection, keypoint_box
from core.data.crop import crop_square
from core.finder.config import BOX_MARGIN, MAX_HANDS

# MediaPipe's landmarks span less of the hand than the keypoints the project's crops are framed
# by (its wrist sits nearer the knuckles than the datasets' and the renderer's, its fingertips a
# little short of theirs), so the box of its landmarks is widened by the median ratio of the two
# boxes' sides on renders, measured by ``python -m train.evaluate.mediapipe_calibration``
# (docs/results.md, "Finding hands in whole photos"). The centres agree, so only the side changes.
LANDMARK_BOX_SCALE = 1.07
# ``find_in_box`` reads a box with this much of the photo around it (side / box side), at this size.
BOX_CONTEXT, BOX_READ_SIZE = 2.0, 256
# A hand read in a box whose own box is smaller than this share of it is not the framed hand (on a
# fixture photo's blank corner MediaPipe placed a hand a third the box's size).
MIN_HAND_SHARE = 0.5


def mediapipe_available() -> bool:
    """Whether the ``mediapipe`` package (with its legacy ``solutions.hands``) can be imported."""
    try:
        import mediapipe.python.solutions.hands  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken install (wrong numpy, missing library) counts as absent
        return False
    return True


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what MediaPipe's C++ side prints to file descriptor 2 while it sets up its graph
    (TensorFlow Lite and absl notes a user cannot act on). The descriptor is the process's, so
    other threads' stderr is silenced for that moment too; Python exceptions still propagate."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class MediaPipeHands:
    """``find(image)``: hands in a whole photo by MediaPipe Hands (static images, its defaults:
    model complexity 1, detection confidence 0.5), at most ``max_hands`` (default
    ``core.finder.config.MAX_HANDS``, as every finder).

    MediaPipe names the side as if the photo were mirrored (a selfie camera); ordinary photos are
    not, so its label is swapped. ``score`` is 1: MediaPipe keeps only hands it is sure of (its
    own thresholds) and reports no presence score, and its boxes come before the project
    finder's (``core.finder.combined``); ``side_score`` is its handedness confidence.
    ``box_scale``: the landmarks' box is widened by this (``LANDMARK_BOX_SCALE``; 1: as they lie).
    """

    def __init__(self, max_hands: int = MAX_HANDS, min_confidence: float = 0.5, box_scale: float = LANDMARK_BOX_SCALE) -> None:
        from mediapipe.python.solutions import hands

        self.box_margin = BOX_MARGIN * box_scale

        # The graph starts on MediaPipe's threads, which print while the first image runs: one
        # blank image is run here, inside the silence, so that every set-up note falls in it.
        with _quiet_native_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self._hands = hands.Hands(static_image_mode=True, max_num_hands=max_hands, model_complexity=1,
                                      min_detection_confidence=min_confidence)
            self._hands.process(np.zeros((64, 64, 3), np.uint8))

    def find(self, image: np.ndarray) -> list[Detection]:
        """Hands in ``image`` (H, W, 3) uint8 RGB (or float in [0, 1]); boxes in its pixels (pixel
        centres at integers)."""
        image = check_photo(image)
        if image.dtype != np.uint8:
            image = (image * 255.0 + 0.5).astype(np.uint8)
        image = np.ascontiguousarray(image)
        height, width = image.shape[:2]
        with warnings.catch_warnings():  # protobuf 4 warns of an API mediapipe 0.10.14 still calls
            warnings.simplefilter("ignore", UserWarning)
            result = self._hands.process(image)
        if not result.multi_hand_landmarks:
            return []
        world = result.multi_hand_world_landmarks or [None] * len(result.multi_hand_landmarks)
        found = []
        for landmarks, handedness, in_world in zip(result.multi_hand_landmarks, result.multi_handedness, world):
            points = np.array([[p.x * width - 0.5, p.y * height - 0.5] for p in landmarks.landmark])
            label = handedness.classification[0]
            box = keypoint_box(points, margin=self.box_margin)
            found.append(Detection(box, 1.0, label.label == "Right", float(label.score), MEDIAPIPE, points,
                                   _millimetres(in_world)))
        return found

    def find_in_box(self, image: np.ndarray, box: tuple[float, float, float, float]) -> Detection | None:
        """The hand MediaPipe finds in a square ``box`` (x0, y0, x1, y1) px of ``image`` (H, W, 3),
        or None: the box is cut with ``BOX_CONTEXT`` x its side around it (black past the border;
        the palm detector misses hands that fill the whole picture) at ``BOX_READ_SIZE`` px, and
        of the hands found there the one whose landmarks' centre lies in the box, nearest its
        centre, and whose own box is at least ``MIN_HAND_SHARE`` of the box's side, is kept;
        landmarks and box in ``image``'s pixels."""
        x0, y0, x1, y1 = (float(v) for v in box)
        side = max(x1 - x0, 1.0) * BOX_CONTEXT
        left, top = 0.5 * (x0 + x1) - 0.5 * side, 0.5 * (y0 + y1) - 0.5 * side
        crop = crop_square(np.ascontiguousarray(check_photo(image)), (left, top, side), BOX_READ_SIZE)
        scale = side / BOX_READ_SIZE
        best, best_distance = None, np.inf
        for det in self.find(crop):
            points = (det.landmarks + 0.5) * scale - 0.5 + np.array([left, top])
            centre = points.mean(0)
            moved = keypoint_box(points, margin=self.box_margin)
            if not (x0 <= centre[0] <= x1 and y0 <= centre[1] <= y1) or moved[2] - moved[0] < MIN_HAND_SHARE * (x1 - x0):
                continue
            distance = float(np.hypot(centre[0] - 0.5 * (x0 + x1), centre[1] - 0.5 * (y0 + y1)))
            if distance < best_distance:
                best, best_distance = replace(det, box=moved, landmarks=points), distance
        return best

    def close(self) -> None:
        self._hands.close()


def _millimetres(world) -> np.ndarray | None:
    """MediaPipe's world landmarks (metres, origin near the hand's centre) -> (21, 3) mm, wrist at 0."""
    if world is None:
        return None
    points = np.array([[p.x, p.y, p.z] for p in world.landmark], np.float64) * 1000.0
    return points - points[:1]
