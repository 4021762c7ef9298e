"""The document the app edits and which model call follows which change.

``Session`` owns the state objects of ``app.state`` and the model (``ModelService``); every
model call goes through a ``Runner`` (``app.jobs``): the window's ``ModelRunner`` worker (newest
request per kind), or ``SyncRunner`` in tests and scripts, so a session needs no window. Widgets
get the state objects they show and the request bundles of ``app.edits`` that the session
builds; nothing here draws or imports Qt. The photo half is ``app.photo_session`` (``photos``), the
files it reads and writes ``app.session_files`` (``files``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from app import hand_pose
from app.edits import LatentEdits, ModelInUse, PoseEdits, TransferEdits
from app.events import Signal
from app.history import History, Snapshot
from app.jobs import Runner
from app.model_service import ModelService
from app.photo_session import PhotoSession
from app.session_files import SessionFiles
from app.state import ImageState, LatentState, MessageLog, PhotoState, PoseState
from app.transfer import TransferState
from core.models.config import POSE_BLOCKS, VIEWPOINT

# latent changes whose 3D pose is set by the same edit, not re-derived from the latent
_POSE_SET_BY_EDIT = ("pose-edit", "history", "estimate")
SIDE_KEEPING_DRAWS = 64  # none of 64 keeps the side: 0.7**64 = 1e-10 where 30 % of viewpoints read as it


class Session:
    """Latent, pose, image, photo and transfer state plus the model calls that link them."""

    def __init__(self, model: ModelService, runner: Runner, seed: int = 0) -> None:
        self.model = model
        self.runner = runner
        self.rng = np.random.default_rng(seed)
        self.latent = LatentState(model.blocks)
        self.pose = PoseState()
        self.image = ImageState()
        self.photo = PhotoState()
        self.photos = PhotoSession(self)
        self.files = SessionFiles(self)
        self.transfer = TransferState(model.dim, self.rng)
        self.messages = MessageLog()
        self.history = History()
        self.model_changed = Signal()  # (description)
        self.transfer_replaced = Signal()  # (the new TransferState): another model, another latent size
        self.photo_latent: np.ndarray | None = None
        self._pose_source: np.ndarray | None = None  # the latent the shown pose was derived from
        self._pose_from_latent = False  # whether that latent's pose is being derived from it (a job)
        self._commits = 0
        self.latent.changed.connect(self._on_latent_changed)
        self.photo.crop_changed.connect(self.request_estimate)
        self.transfer.sources_changed.connect(self.update_transfer)

    # --- start / model ----------------------------------------------------------------
    def start(self, latent: np.ndarray | None = None) -> None:
        """Show ``latent`` and record it as the first history entry.

        Default: random content and free blocks with an open right hand facing the camera, so
        the first image shows a pose people recognise rather than a random pose latent.
        """
        self.history.clear()
        if latent is None:
            hand = hand_pose.open_hand_facing_camera()
            latent = self.model.with_pose(self.model.random_latent(self.rng), hand.keypoints(), hand.is_left)
        self.latent.set(latent, "load")
        self.commit("start", latent_now=True)
        self.update_transfer()

    def set_model(self, model: ModelService) -> None:
        """Switch to another model; the latent layout may change, so the document restarts."""
        self.model = model
        self.photo_latent = None
        self.latent.set_layout(model.blocks)
        old = self.transfer
        self.transfer = _replace_transfer(old, model.dim, self.rng)
        old.sources_changed.disconnect(self.update_transfer)
        self.transfer.sources_changed.connect(self.update_transfer)
        self.transfer_replaced.emit(self.transfer)
        self.model_changed.emit(model.description)
        self.start()
        if self.photo.image is not None:
            # the open photo is read again by the new model; a transfer source "photo" is that
            # reading, so the transfer waits for it (jobs deliver in order) instead of saying
            # that no photo is open
            self.request_estimate()
            self.submit("transfer after estimate", lambda: None, lambda _: self.update_transfer())
        else:
            self.update_transfer()

    # --- what the widgets may ask (app.edits) ------------------------------------------
    def latent_edits(self) -> LatentEdits:
        return LatentEdits(commit=lambda label, run=None: self.commit(label, latent_now=True, run=run),
                           randomise=self.randomise_latent,
                           reset=self.reset_latent, interpolate=lambda a, b, steps: self.model.interpolate(a, b, steps))

    def pose_edits(self) -> PoseEdits:
        return PoseEdits(self.drag_joint, self.end_drag, self.turn_hand, self.apply_preset, self.set_left_hand)

    def transfer_edits(self, export: Callable[[], object]) -> TransferEdits:
        return TransferEdits(self.new_transfer_sample, self.keep_transfer_source, self.update_transfer, export)

    def model_in_use(self) -> ModelInUse:
        return ModelInUse(path=lambda: self.model.path, changed=self.model_changed, switch=self.set_model,
                          messages=self.messages)

    def submit(self, key: str, work: Callable[[], Any], on_done: Callable[[Any], None]) -> None:
        """Run ``work`` on the session's runner, ``on_done`` its result; a failure is an error message."""
        self.runner.submit(key, work, on_done, lambda err: self.messages.post("error", f"{key} failed: {err}"))

    # --- latent -> image and pose ------------------------------------------------------
    def _on_latent_changed(self, source: str) -> None:
        z = self.latent.value
        if source != "pose-edit":
            model = self.model
            self.submit("decode", lambda: model.decode(z), lambda image: self.image.set(image, z))
        if source in _POSE_SET_BY_EDIT:
            self._pose_source, self._pose_from_latent = z, False
        elif self._pose_source is None or self._pose_blocks_differ(z, self._pose_source):
            self._pose_source, self._pose_from_latent = z, True
            self._request_pose_from_latent(z)

    def _pose_blocks_differ(self, a: np.ndarray, b: np.ndarray) -> bool:
        if a.shape != b.shape:
            return True
        return any(not np.array_equal(a[self.model.block(n).slice], b[self.model.block(n).slice]) for n in POSE_BLOCKS)

    def _request_pose_from_latent(self, z: np.ndarray) -> None:
        model = self.model

        def done(hand: hand_pose.HandPose) -> None:
            # Shown unless an undo, an estimate or a pose edit set the pose since. A newer latent
            # whose pose is derived too (a walk's next frame) delivers after this one: showing this
            # meanwhile keeps the skeleton moving during a walk instead of frozen until its end.
            if self._pose_source is z or self._pose_from_latent:
                self.pose.set(hand)

        self.submit("pose", lambda: hand_pose.fit_pose(model.decode_pose(z), model.decode_is_left(z)), done)

    def randomise_latent(self, block: str | None) -> None:
        """Draw one block (None: every block) from the prior; one undo step.

        The viewpoint block also holds the hand's side, so a new viewpoint keeps the side: of
        ``SIDE_KEEPING_DRAWS`` draws the first that reads as the same side is taken (a new viewpoint
        must not tick "Left hand" behind the user's back); if none does, the change is said."""
        if block != VIEWPOINT:
            self.latent.randomise(self.rng, block)
            self.commit(f"randomise {block or 'all'}", latent_now=True)
            return
        z, model = self.latent.value, self.model
        where = model.block(VIEWPOINT).slice
        draws = np.repeat(z[None], SIDE_KEEPING_DRAWS, axis=0)
        draws[:, where] = self.rng.standard_normal((SIDE_KEEPING_DRAWS, where.stop - where.start))

        def take(sides: np.ndarray) -> None:
            same = np.flatnonzero(sides[1:] == sides[0])
            if not len(same):
                self.messages.post("info", f"The new viewpoint reads as a {'left' if sides[1] else 'right'} hand.")
            self.latent.set(draws[same[0] if len(same) else 0], "randomise")
            self.commit("randomise viewpoint", latent_now=True)

        self.submit("randomise viewpoint", lambda: np.array([model.decode_is_left(v) for v in [z, *draws]]), take)

    def reset_latent(self) -> None:
        """The prior's mean (all zeros); one undo step."""
        self.latent.reset()
        self.commit("reset latent", latent_now=True)

    def commit(self, label: str, latent_now: bool = False, run: str | None = None) -> None:
        """Record the document in the undo history once the jobs queued before it have delivered.

        ``latent_now``: the edit set the latent itself (a slider, randomise...), so the latent is
        taken now, before later edits change it; edits whose latent comes from a model call (pose
        edits, estimates) are taken when that call has delivered. The 3D pose is kept with the
        snapshot only if nothing changed the latent meanwhile; otherwise undo derives it again.
        ``run``: edits of one run in a row undo as one step (``History.record``).
        """
        latent = self.latent.value if latent_now else None
        self._commits += 1  # each commit its own key: two quick edits stay two undo steps

        def record(_: None) -> None:
            current = self.latent.value
            z = current if latent is None else latent
            if np.array_equal(z, current):
                self.history.record(Snapshot(z, self.pose.hand, self.pose.confidence, label), run)
            else:
                self.history.record(Snapshot(z, None, None, label), run)

        self.submit(f"commit:{self._commits}", lambda: None, record)

    def undo(self) -> None:
        snapshot = self.history.undo()
        if snapshot is not None:
            self._restore(snapshot)

    def redo(self) -> None:
        snapshot = self.history.redo()
        if snapshot is not None:
            self._restore(snapshot)

    def _restore(self, snapshot: Snapshot) -> None:
        if snapshot.hand is None:  # the pose follows the latent
            self._pose_source = None
            self.latent.set(snapshot.latent, "history-latent")
            return
        self.pose.set(snapshot.hand, snapshot.confidence)
        self.latent.set(snapshot.latent, "history")

    # --- 3D pose edits -----------------------------------------------------------------
    def drag_joint(self, joint: int, target: np.ndarray) -> None:
        """Move ``joint`` toward ``target`` (3,) mm, camera frame (inverse kinematics)."""
        if self.pose.hand is None:
            return
        target = np.asarray(target, np.float64).copy()
        # read the newest pose when the job runs: coalesced drags continue from the last result
        self.submit("ik", lambda: hand_pose.drag(self.pose.hand, joint, target), self.edit_pose)

    def end_drag(self) -> None:
        self.commit("drag joint")

    def apply_preset(self, name: str) -> None:
        hand = self.pose.hand
        if hand is None:
            return
        self.edit_pose(hand_pose.preset(hand, name))
        self.commit(f"gesture {name}")

    def turn_hand(self, rotation: np.ndarray, label: str = "turn hand") -> None:
        """Turn the whole hand by ``rotation`` (3, 3, camera frame) and re-synthesise."""
        if self.pose.hand is not None:
            self.edit_pose(hand_pose.turned(self.pose.hand, rotation))
            self.commit(label)

    def set_left_hand(self, is_left: bool) -> None:
        if self.pose.hand is not None and self.pose.hand.is_left != is_left:
            self.edit_pose(hand_pose.mirrored(self.pose.hand, is_left))
            self.commit("left hand" if is_left else "right hand")

    def edit_pose(self, hand: hand_pose.HandPose) -> None:
        """Show ``hand`` and synthesise the latent and image that follow it (one pose edit; the
        caller commits it)."""
        self.pose.set(hand, self.pose.confidence)
        model, z = self.model, self.latent.value
        keypoints, is_left = hand.keypoints(), hand.is_left

        def synthesise() -> tuple[np.ndarray, np.ndarray]:
            new_z = model.with_pose(z, keypoints, is_left)
            return new_z, model.decode(new_z)

        self.submit("synthesise", synthesise, self._on_synthesised)

    def _on_synthesised(self, result: tuple[np.ndarray, np.ndarray]) -> None:
        new_z, image = result
        self.latent.set(new_z, "pose-edit")
        self.image.set(image, new_z)

    # --- photo -> pose (app.photo_session) ---------------------------------------------
    def open_photo(self, path: str | Path) -> bool:
        """Open a photo, find its hands and estimate the best one; False (and a message) if refused."""
        return self.photos.open(path)

    def photo_crop(self) -> np.ndarray | None:
        """The crop box's pixels at the model's input size, (S, S, 3) uint8, or None."""
        return self.photos.crop()

    def request_estimate(self) -> None:
        self.photos.request_estimate()

    # --- transfer ----------------------------------------------------------------------
    def _transfer_source(self, slot: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        kind = self.transfer.kinds[slot]
        if kind == "photo":
            if self.photo_latent is None:
                return None
            return self.photo_latent, self.photo_crop()
        if kind == "sample":
            return self.transfer.samples[slot], None
        if kind == "kept":
            kept = self.transfer.kept.get(slot)
            return None if kept is None else kept[:2]
        return self.latent.value, None

    def new_transfer_sample(self, slot: str) -> None:
        """Draw the random sample of ``slot`` ("A" / "B") again."""
        self.transfer.new_sample(slot, self.rng)

    def keep_transfer_source(self, slot: str) -> None:
        """Keep what ``slot`` shows now (e.g. this photo) while the photo or the edit change."""
        source = self._transfer_source(slot)
        if source is None:
            self.messages.post("warning", f"Transfer source {slot} has nothing to keep yet.")
            return
        kind = self.transfer.kinds[slot]
        label = Path(self.photo.path).name if kind == "photo" and self.photo.path else kind
        self.transfer.keep(slot, source[0], source[1], label)

    def update_transfer(self) -> None:
        """Recompute A, B and the result (content of A, pose of B)."""
        sources = {slot: self._transfer_source(slot) for slot in ("A", "B")}
        missing = [slot for slot, src in sources.items() if src is None]
        if missing and self.photo.image is not None and all(self.transfer.kinds[s] == "photo" for s in missing):
            return  # the open photo is being read (a new model): set_model updates the transfer after
        if missing:
            self.messages.post("warning", f"Transfer source {', '.join(missing)} has no image yet: "
                                          "open a photo first (or keep a source before choosing 'kept').")
            return
        model = self.model
        (za, image_a), (zb, image_b) = sources["A"], sources["B"]

        def run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            a = image_a if image_a is not None else model.decode(za)
            b = image_b if image_b is not None else model.decode(zb)
            return a, b, model.decode(model.transfer(za, zb))

        self.submit("transfer", run, lambda images: self.transfer.set_images(*images))


def _replace_transfer(old: TransferState, dim: int, rng: np.random.Generator) -> TransferState:
    """A new transfer state for latents of size ``dim``: new samples, ``old``'s source kinds (a kept
    source belongs to the old layout, so it becomes a sample), no images yet. ``old`` is left as it is."""
    new = TransferState(dim, rng)
    new.kinds = {slot: "sample" if kind == "kept" else kind for slot, kind in old.kinds.items()}
    return new
