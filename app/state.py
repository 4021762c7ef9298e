"""Plain-Python state of the app: what the widgets show. No Qt here (see ``app.events``).

Each object owns one piece of data, emits a :class:`Signal` when it changes, and offers the
methods the widgets call to change it. Orchestration (which change triggers which model call)
lives in ``app.session``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from app.events import Signal
from app.hand_pose import HandPose
from app.model_service import LatentBlockSpec

if TYPE_CHECKING:
    from core.finder import Detection

# Slider range of every latent dimension: the prior N(0, 1) rarely leaves +-3.
LATENT_RANGE = 3.0
MIN_CROP_SIDE = 8.0  # px of the photo; photos are at least app.image_io.MIN_SIDE = 16 px


class LatentState:
    """The current latent vector z (D,), its named blocks and two saved latents "A" / "B".

    ``changed(source)`` fires after every change; ``source`` says who changed it ("slider",
    "randomise", "reset", "walk", "pose-edit", "estimate", "history", "history-latent", "load") so the session
    knows whether the 3D pose must follow.
    """

    def __init__(self, blocks: tuple[LatentBlockSpec, ...]) -> None:
        self.blocks = blocks
        self.dim = sum(b.size for b in blocks)
        self._z = np.zeros(self.dim)
        self.saved: dict[str, np.ndarray] = {}
        self.changed = Signal()
        self.saved_changed = Signal()
        self.layout_changed = Signal()

    def set_layout(self, blocks: tuple[LatentBlockSpec, ...]) -> None:
        """Another model's blocks: the latent restarts at zeros and saved latents are dropped."""
        self.blocks = blocks
        self.dim = sum(b.size for b in blocks)
        self._z = np.zeros(self.dim)
        self.saved.clear()
        self.layout_changed.emit()

    @property
    def value(self) -> np.ndarray:
        return self._z.copy()

    def set(self, latent: np.ndarray, source: str) -> None:
        # Not clipped to the sliders' range: an encoded pose or photo can lie outside it, and a
        # clipped latent would show another pose than the one asked for (the sliders clamp).
        self._z = np.asarray(latent, np.float64).reshape(self.dim).copy()
        self.changed.emit(source)

    def set_dim(self, dim: int, value: float, source: str = "slider") -> None:
        z = self._z.copy()
        z[dim] = value
        self.set(z, source)

    def block_of(self, dim: int) -> LatentBlockSpec:
        for block in self.blocks:
            if block.start <= dim < block.start + block.size:
                return block
        raise IndexError(f"latent dimension {dim} outside 0..{self.dim - 1}")

    def randomise(self, rng: np.random.Generator, block: str | None = None) -> None:
        """Draw one block (or all, ``block=None``) from the prior N(0, I)."""
        z = self._z.copy()
        for b in self.blocks:
            if block is None or b.name == block:
                z[b.slice] = rng.standard_normal(b.size)
        self.set(z, "randomise")

    def reset(self) -> None:
        """The prior's mean: all zeros."""
        self.set(np.zeros(self.dim), "reset")

    def save_slot(self, name: str) -> None:
        self.saved[name] = self._z.copy()
        self.saved_changed.emit(name)


class PoseState:
    """The 3D hand shown and edited in the viewport.

    ``hand`` is the kinematic skeleton (None before the first pose arrives); ``confidence``
    (21,) in (0, 1] when the pose is an estimate from a photo, else None. ``image_follows_view``:
    orbiting the 3D view turns the hand in the image (``view_link_changed`` emits the flag).
    """

    def __init__(self) -> None:
        self.hand: HandPose | None = None
        self.confidence: np.ndarray | None = None
        self.image_follows_view = False
        self.changed = Signal()
        self.view_link_changed = Signal()

    def set_image_follows_view(self, linked: bool) -> None:
        """Link (or unlink) the image's viewpoint to the 3D view's orbit camera."""
        if linked != self.image_follows_view:
            self.image_follows_view = linked
            self.view_link_changed.emit(linked)

    @property
    def keypoints(self) -> np.ndarray | None:
        """(21, 3) mm, camera frame."""
        return None if self.hand is None else self.hand.keypoints()

    def set(self, hand: HandPose | None, confidence: np.ndarray | None = None) -> None:
        self.hand = hand
        self.confidence = None if confidence is None else np.asarray(confidence, np.float64)
        self.changed.emit()


class ImageState:
    """The synthesised image (S, S, 3) uint8, the latent (D,) it shows; ``version`` counts updates."""

    def __init__(self) -> None:
        self.image: np.ndarray | None = None
        self.latent: np.ndarray | None = None  # the latent the image was decoded from
        self.version = 0
        self.changed = Signal()

    def set(self, image: np.ndarray, latent: np.ndarray | None = None) -> None:
        self.image = np.ascontiguousarray(image)
        self.latent = None if latent is None else np.array(latent)
        self.version += 1
        self.changed.emit()


@dataclass
class PhotoEstimate:
    """An estimate drawn on the photo: 2D keypoints (21, 2) in photo pixels, confidence (21,) in
    (0, 1], the side it was estimated as, whether the user chose that side, and ``note``: what
    the confidence says, in words (``app.session.confidence_note``); ``side_by``: who decided
    the side, in words."""

    keypoints_2d: np.ndarray
    confidence: np.ndarray
    is_left: bool
    side_chosen: bool = False
    note: str = ""
    keypoints_3d: np.ndarray | None = None  # (21, 3) mm, crop camera
    side_by: str = "the model’s reading"
    evidence: str = ""  # what the estimate is made of, in words (``PhotoHandEstimate.describe``)
    box_side: float = 0.0  # px: side of the box estimated (the skeleton is drawn to its scale)
    enlarged: np.ndarray | None = None  # (E, E, 3) uint8: the box's pixels enlarged for a second view
    enlarged_keypoints: np.ndarray | None = None  # (21, 2) the 2D keypoints in ``enlarged``'s pixels

    @property
    def low_confidence(self) -> bool:
        return self.note.startswith("Low confidence")


class PhotoState:
    """The opened photo (H, W, 3) uint8 RGB, its square crop box, the hands found in it and the
    estimate in the box.

    ``crop`` = (x, y, side) in photo pixels, top-left corner and side of the square;
    ``crop_source``: who placed it ("default", "finder" or "user"). ``hands``: the hand finder's
    ``core.finder.Detection`` list, best first (None: not searched yet or no finder);
    ``hand_index``: the one framed; ``searched`` False when there is no finder to ask. ``chosen_left``: the side the user chose (None: the model's).
    """

    def __init__(self) -> None:
        self.path: str | None = None
        self.image: np.ndarray | None = None
        self.crop: tuple[float, float, float] | None = None
        self.crop_source = "default"
        self.estimate: PhotoEstimate | None = None
        self.hands: list[Detection] | None = None
        self.hand_index: int | None = None
        self.searched = True
        self.chosen_left: bool | None = None
        self.image_changed = Signal()
        self.crop_changed = Signal()
        self.estimate_changed = Signal()
        self.hands_changed = Signal()

    def set_image(self, image: np.ndarray, path: str | None) -> None:
        self.image = np.ascontiguousarray(image)
        self.path = path
        self.estimate = None
        self.hands, self.hand_index, self.chosen_left = None, None, None
        self.searched = True  # until a search says there is no finder
        h, w = self.image.shape[:2]
        side = 0.8 * min(h, w)
        self.image_changed.emit()
        self.hands_changed.emit()
        self.set_crop(((w - side) / 2, (h - side) / 2, side), source="default")

    def set_hands(self, hands: list[Detection] | None, searched: bool = True) -> None:
        """The hand finder's answer for this photo (best first); ``searched`` False: there is no
        finder to ask (``hands`` None)."""
        self.hands, self.hand_index = (None if hands is None else list(hands)), None
        self.searched = searched
        self.hands_changed.emit()

    def choose_hand(self, index: int) -> None:
        """Frame found hand ``index``: the crop becomes its box (which may reach past the border)."""
        if not self.hands or not 0 <= index < len(self.hands):
            raise IndexError(f"no found hand {index}")
        self.hand_index, self.chosen_left = index, None
        self.hands_changed.emit()
        self.set_crop(self.hands[index].crop, source="finder", inside=False)

    def set_crop(self, crop: tuple[float, float, float], source: str = "user", inside: bool = True) -> None:
        """Set the crop box (side >= ``MIN_CROP_SIDE``), moved and resized to lie inside the photo
        unless ``inside`` is False (a found hand at the border: its box stays centred on it)."""
        x, y, side = (float(v) for v in crop)
        self.crop_source = source
        if self.image is not None and inside:
            h, w = self.image.shape[:2]
            side = min(max(side, MIN_CROP_SIDE), float(min(h, w)))
            x, y = min(max(x, 0.0), w - side), min(max(y, 0.0), h - side)
        else:
            side = max(side, MIN_CROP_SIDE)
        self.crop = (x, y, side)
        self.crop_changed.emit()

    def set_estimate(self, estimate: PhotoEstimate | None) -> None:
        self.estimate = estimate
        self.estimate_changed.emit()


@dataclass
class Message:
    level: str  # "info", "warning", "error"
    text: str


@dataclass
class MessageLog:
    """Messages for the user; the window shows them (a dialog for errors), tests read ``messages``."""

    messages: list[Message] = field(default_factory=list)
    posted: Signal = field(default_factory=Signal)

    def post(self, level: str, text: str) -> None:
        message = Message(level, text)
        self.messages.append(message)
        self.posted.emit(message)
