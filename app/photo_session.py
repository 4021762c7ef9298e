"""Photo -> pose: open a photo, find and frame its hands, estimate the framed one, choose its side,
save the estimate in the photo's pixels. Plain Python on top of ``app.session.Session``.

Everything stays in the photo's pixel coordinates: the crop box (x, y, side), the found boxes
(x0, y0, x1, y1) and the estimate's 2D keypoints (21, 2); the crop is resampled to the model's
input only for the model call, and its keypoints are mapped back (pixel centres at integers).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app import hand_pose
from app.image_io import ImageFileError, load_photo
from app.model_service import CONFIDENCE_SCALE_MM
from app.state import PhotoEstimate
from core.data.crop import crop_square
from core.export.openpose import OpenPoseHand, write_openpose_json
from core.export.pose_file import save_pose_json
from core.photo_estimate import ENCODER, LANDMARKS, PhotoHandEstimate

if TYPE_CHECKING:
    from app.session import Session
    from core.finder import Detection

# Below this score (``PhotoHandEstimate.score``: 0.5 and more with MediaPipe's landmarks, less
# without) an estimate is called low-confidence, and so is one whose mean joint confidence is below
# it where MediaPipe is not installed; below this finder score, the box is called doubtful.
# docs/results.md ("3D from a photo") has the scores of boxes on and off hands.
LOW_CONFIDENCE = 0.5
DOUBTFUL_BOX = 0.4
ENLARGED_SIZE = 256  # px: side of the enlarged view of the framed box
CONFIDENCE_MEANING = ("joint confidence: with MediaPipe's landmarks, exp(-residual / 10 % of the hand) x "
                      f"exp(-spread / {CONFIDENCE_SCALE_MM:g} mm), the fit's distance to each landmark and the "
                      "joint's spread over the fits that match the landmarks nearly as well; without them, "
                      f"exp(-spread / {CONFIDENCE_SCALE_MM:g} mm) over 8 samples of the image encoder's posterior, "
                      "; the score is 0.5 + half the mean with landmarks, half of it without")


def confidence_note(est: PhotoHandEstimate, box_score: float | None, reader: bool = True) -> str:
    """What an estimate's evidence, confidence and its box's finder score say, in words; starts
    with "Low confidence" when they are doubtful. ``reader``: whether MediaPipe could read the box."""
    confidence = np.asarray(est.confidence)
    mean, score = float(np.mean(confidence)), est.score
    weakest = int(np.sum(confidence < 0.5))
    doubts = []
    if est.evidence == ENCODER and reader:
        doubts.append(f"MediaPipe sees no hand in this box (score {score:.2f})")
    if (score if reader else mean) < LOW_CONFIDENCE and not doubts:
        doubts.append(f"the estimate is unsure (score {score:.2f}, mean joint confidence {mean:.2f})")
    if box_score is not None and box_score < DOUBTFUL_BOX:
        doubts.append(f"the hand finder is unsure there is a hand in this box (score {box_score:.2f})")
    evidence = est.describe() + ("" if reader or est.evidence == LANDMARKS else ": MediaPipe is not installed")
    if doubts:
        return "Low confidence: " + "; ".join(doubts) + f". {evidence}. Check the skeleton against the photo."
    return f"Score {score:.2f} (mean joint confidence {mean:.2f}, {weakest} of 21 joints below 0.5). {evidence}."


def mediapipe_first(found: list["Detection"]) -> list["Detection"]:
    """MediaPipe's hands alone where it found any; otherwise the project's finder's boxes (less sure)."""
    by_mediapipe = [d for d in found if d.by_mediapipe]
    return by_mediapipe or list(found)


def side_by(chosen: bool, framed: "Detection | None", est: PhotoHandEstimate | None = None) -> str:
    """Who decided the side of an estimate, in words: the user, MediaPipe, or the pose model."""
    if chosen:
        return "your choice"
    if framed is not None and framed.by_mediapipe:
        return "found by MediaPipe"
    if est is not None and est.evidence == LANDMARKS:
        return "read by MediaPipe in the box"
    return "the model’s reading"


class PhotoSession:
    """The photo half of a ``Session`` (its ``photo`` state, model, worker and messages)."""

    def __init__(self, session: "Session") -> None:
        self.session = session

    @property
    def photo(self):
        return self.session.photo

    def open(self, path: str | Path) -> bool:
        """Open a photo and look for hands; False (and a message) if the file is refused."""
        try:
            image = load_photo(path)
        except ImageFileError as err:
            self.session.messages.post("error", str(err))
            return False
        self.photo.set_image(image, str(path))
        self.find_hands()
        return True

    def find_hands(self) -> None:
        """Run the hand finder on the photo; frame the best hand unless the user placed the box."""
        photo, session = self.photo, self.session
        image, model = photo.image, session.model
        if image is None:
            return

        def done(found: Any) -> None:
            if photo.image is not image:  # another photo was opened meanwhile
                return
            found = None if found is None else mediapipe_first(found)
            photo.set_hands(found, searched=found is not None)
            if found is None:
                session.messages.post("info", "No hand finder is bundled: move the yellow box over the hand.")
            elif not found:
                session.messages.post("warning", "No hand found in this photo: move or resize the yellow box "
                                                 "over the hand to estimate its pose.")
            else:
                if photo.crop_source == "default":
                    photo.choose_hand(0)
                best = found[0]
                more = f"; {len(found) - 1} more: pick one in the list" if len(found) > 1 else ""
                unsure = "" if best.by_mediapipe else " MediaPipe found none: these are the project's finder's, less sure."
                session.messages.post("info", f"Found {len(found)} hand{'s' if len(found) > 1 else ''}: "
                                              f"framed a {best.hand} hand ({best.evidence}){more}.{unsure}")

        session.runner.submit("find-hands", lambda: model.find_hands(image), done,
                              lambda err: session.messages.post("error", f"finding hands failed: {err}"))

    def choose_hand(self, index: int) -> None:
        """Frame found hand ``index`` (best first) and estimate it."""
        self.photo.choose_hand(index)

    def flip_side(self) -> None:
        """Estimate the framed hand again as the other side of the hand (left <-> right)."""
        estimate = self.photo.estimate
        if estimate is None:
            self.session.messages.post("warning", "There is no estimate to flip yet: open a photo first.")
            return
        self.photo.chosen_left = not estimate.is_left
        self.request_estimate()

    def crop(self) -> np.ndarray | None:
        """The crop box's pixels at the model's input size, (S, S, 3) uint8, or None."""
        if self.photo.image is None or self.photo.crop is None:
            return None
        return crop_square(self.photo.image, self.photo.crop, self.session.model.image_size)

    def _framed_hand(self):
        """The finder's ``Detection`` the crop box shows, or None when the user placed the box."""
        photo = self.photo
        if photo.crop_source == "finder" and photo.hands and photo.hand_index is not None:
            return photo.hands[photo.hand_index]
        return None

    def _box_score(self) -> float | None:
        framed = self._framed_hand()
        return None if framed is None else framed.score

    def request_estimate(self) -> None:
        session, photo = self.session, self.photo
        if photo.image is None or photo.crop is None:
            return
        model, image, (x, y, side), chosen = session.model, photo.image, photo.crop, photo.chosen_left
        box_score = self._box_score()
        framed = self._framed_hand()
        # the user's side, else the side found for the framed hand; for a box the user placed, None:
        # MediaPipe's side where it reads a hand in the box, else the flip-consistent reading
        wanted = chosen if chosen is not None else (None if framed is None else framed.is_left)
        box = (x, y, x + side, y + side)

        def estimate() -> tuple[PhotoHandEstimate, hand_pose.HandPose, np.ndarray]:
            est = model.estimate_in_photo(image, box, wanted, framed)
            enlarged = crop_square(image, (x, y, side), ENLARGED_SIZE)
            return est, hand_pose.fit_pose(est.keypoints_3d, est.is_left, est.confidence), enlarged

        def done(result: tuple[PhotoHandEstimate, hand_pose.HandPose, np.ndarray]) -> None:
            est, hand, enlarged = result
            note = confidence_note(est, box_score, model.box_reader is not None)
            to_enlarged = (est.keypoints_2d - np.array([x, y]) + 0.5) * (ENLARGED_SIZE / side) - 0.5
            photo.set_estimate(PhotoEstimate(est.keypoints_2d, est.confidence, est.is_left, chosen is not None, note,
                                             est.keypoints_3d, side_by(chosen is not None, framed, est), est.describe(),
                                             side, enlarged, to_enlarged))
            session.photo_latent = est.latent
            session.pose.set(hand, est.confidence)
            session.latent.set(np.asarray(est.latent, np.float64), "estimate")

        session.submit("estimate", estimate, done)
        session.commit("estimate from photo")

    def save_estimate(self, base: str | Path) -> list[Path]:
        """Write the estimate in the photo's pixels: ``BASE_pose.json`` (the 3D pose in mm plus a
        ``photo`` block: file, size, crop box, 2D keypoints px, confidence) and
        ``BASE_openpose.json`` (an OpenPose hand on a canvas the photo's size). Returns the paths."""
        photo, estimate = self.photo, self.photo.estimate
        if estimate is None or photo.image is None or estimate.keypoints_3d is None:
            self.session.messages.post("error", "There is no photo estimate to save yet.")
            return []
        base = Path(base)
        h, w = photo.image.shape[:2]
        x, y, side = photo.crop
        block = {"file": photo.path, "width": int(w), "height": int(h), "units": "px",
                 "crop_box": [x, y, x + side, y + side], "keypoints_2d": estimate.keypoints_2d.tolist(),
                 "confidence": np.asarray(estimate.confidence).tolist(), "side_chosen_by_user": estimate.side_chosen}
        paths = [base.with_name(base.name + "_pose.json"), base.with_name(base.name + "_openpose.json")]
        try:
            paths[0].parent.mkdir(parents=True, exist_ok=True)
            save_pose_json(paths[0], estimate.keypoints_3d, estimate.is_left, photo=block)
            write_openpose_json(paths[1], OpenPoseHand(estimate.keypoints_2d.astype(np.float64),
                                                       np.asarray(estimate.confidence, np.float64),
                                                       estimate.is_left, (int(w), int(h))))
        except OSError as err:
            self.session.messages.post("error", f"Cannot save the estimate: {err}")
            return []
        self.session.messages.post("info", f"Saved the photo estimate: {paths[0].name}, {paths[1].name}")
        return paths
