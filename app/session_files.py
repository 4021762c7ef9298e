"""What the document reads from and writes to files: pose files, an OpenPose hand (import and the
export bundle), the image, a latent walk and the transfer. Plain Python on top of
``app.session.Session`` (``session.files``), like ``app.photo_session``: every file is written or
read on the session's worker (``Session.submit``) or at once when it is small, and every refusal
or failure is a message in the session's log, never an exception in the window.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from app import hand_pose
from app.image_io import ImageFileError, save_animation, save_image
from core.export.bundle import ExportedPose, export_pose
from core.export.lift import LiftResult, lift_to_3d
from core.export.maps import FramingConfig, PosedHand
from core.export.openpose import OpenPoseFormatError, read_openpose_json

if TYPE_CHECKING:
    from app.session import Session


class SessionFiles:
    """The file half of a ``Session``: its pose, image, transfer and model, its worker and messages."""

    def __init__(self, session: "Session") -> None:
        self.session = session

    # --- pose files --------------------------------------------------------------------
    def save_pose(self, path: str | Path) -> None:
        session = self.session
        if session.pose.hand is None:
            session.messages.post("error", "There is no pose to save yet.")
            return
        hand_pose.save_pose_json(path, session.pose.hand.keypoints(), session.pose.hand.is_left)
        session.messages.post("info", f"Saved the pose to {path}")

    def load_pose(self, path: str | Path) -> None:
        session = self.session
        try:
            keypoints, is_left = hand_pose.load_pose_json(path)
        except ValueError as err:
            session.messages.post("error", str(err))
            return
        session.submit("pose-load", lambda: hand_pose.fit_pose(keypoints, is_left), session.edit_pose)
        session.commit("load pose")

    def export_pose_as(self, base: str | Path, size: int = FramingConfig.size,
                       view_rotation: np.ndarray | None = None) -> None:
        """Write the hand as OpenPose JSON, skeleton, depth map, mask and image (``core.export.bundle``)
        next to ``base`` at ``size`` px, seen turned by ``view_rotation`` (3, 3), camera frame (the
        3D view's orbit; None: as the image shows it). A turned hand's image is synthesised anew."""
        session = self.session
        hand = session.pose.hand
        if hand is None:
            session.messages.post("error", "There is no pose to export yet.")
            return
        try:
            framing = FramingConfig(size=int(size))
        except ValueError as err:
            session.messages.post("error", str(err))
            return
        posed = PosedHand(hand.angles, hand.viewpoint, hand.size_mm, hand.is_left)
        turned = view_rotation is not None and not np.allclose(view_rotation, np.eye(3), atol=1e-9)
        posed = posed.turned(view_rotation) if turned else posed
        model, z, shown = session.model, session.latent.value, session.image.image

        def run() -> ExportedPose:
            image = shown
            if turned or image is None:
                image = model.decode(model.with_pose(z, posed.keypoints(), posed.is_left))
            return export_pose(posed, base, framing, image)

        def done(exported: ExportedPose) -> None:
            names = ", ".join(p.name for p in exported.files.values())
            session.messages.post("info", f"Exported the pose ({size} x {size}) to {Path(base).parent}: {names}")

        session.runner.submit(f"export-pose:{base}", run, done,
                              lambda err: session.messages.post("error", f"Export of the pose failed: {err}"))

    def import_openpose(self, path: str | Path) -> None:
        """Lift the first hand of an OpenPose JSON file to 3D (dVAE prior + IK) and edit it; its
        joint confidences are shown like a photo estimate's. Files with no hand are refused."""
        session = self.session
        try:
            hand2d = read_openpose_json(path)
        except OpenPoseFormatError as err:
            session.messages.post("error", str(err))
            return
        model = session.model.model
        root = np.zeros(3) if session.pose.hand is None else session.pose.hand.root

        def done(result: LiftResult) -> None:
            lifted = result.hand
            session.pose.set(hand_pose.HandPose(np.asarray(lifted.angles, np.float64), np.asarray(lifted.viewpoint),
                                                float(lifted.size_mm), root, lifted.is_left), hand2d.confidence)
            session.edit_pose(session.pose.hand)
            side = "left" if lifted.is_left else "right"
            session.messages.post("info", f"Imported the {side} hand of {Path(path).name} "
                                          f"(mean 2D error {result.mean_error_px:.1f} px)")

        session.submit("pose-import", lambda: lift_to_3d(hand2d, model), done)
        session.commit("import OpenPose hand")

    # --- images ------------------------------------------------------------------------
    def export_image(self, path: str | Path) -> None:
        session = self.session
        if session.image.image is None:
            session.messages.post("error", "There is no image to export yet.")
            return
        try:
            save_image(path, session.image.image)
        except ImageFileError as err:
            session.messages.post("error", str(err))
            return
        session.messages.post("info", f"Saved the image to {path}")

    def export_transfer(self, path: str | Path) -> None:
        session = self.session
        try:
            save_image(path, session.transfer.composite())
        except (ValueError, ImageFileError) as err:
            session.messages.post("error", str(err))
            return
        session.messages.post("info", f"Saved the transfer to {path}")

    def export_walk(self, path: str | Path, frames: np.ndarray, fps: float = 25.0,
                    on_done: Callable[[], None] | None = None) -> None:
        """Decode every latent of ``frames`` (T, D) and write a GIF or MP4 (on the worker)."""
        session = self.session
        if Path(path).suffix.lower() not in (".gif", ".mp4"):
            session.messages.post("error", f"{Path(path).name}: choose a .gif or .mp4 file name for a walk.")
            return
        model = session.model

        def run() -> None:
            save_animation(path, [model.decode(z) for z in frames], fps)

        def done(_: None) -> None:
            session.messages.post("info", f"Saved the walk ({len(frames)} frames) to {path}")
            if on_done is not None:
                on_done()

        session.submit(f"export-walk:{path}", run, done)  # one key per file: exports are never dropped
