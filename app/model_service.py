"""The app's one door to the model: ``core.HandModel`` behind single-sample numpy calls.

Every model call the GUI makes goes through :class:`ModelService`, so a change of the model's
API changes this file only. Calls are blocking; the GUI runs them on the worker thread of
``app.runner.ModelRunner``. Arrays: latent (D,), image (S, S, 3) uint8 RGB, keypoints (21, 3) mm
in the crop-camera frame (OpenCV axes: x right, y down, z forward), internal joint order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.api import DEFAULT_MODEL_PATH, HandModel
from core.checkpoint import CheckpointError
from core.finder import Detection
from core.models.config import POSE_BLOCKS, DVAEConfig
from core.photo_estimate import PhotoHandEstimate, ReadsBoxes, default_box_reader, estimate_in_box

MODEL_LOAD_ERRORS = (CheckpointError, OSError, ValueError, RuntimeError)
"""What ``ModelService.load`` raises for a file that is not a usable model."""

_UNSET = object()  # ModelService.box_reader before its first use

# Joint confidence shown in the GUI = exp(-uncertainty / this), uncertainty in mm.
CONFIDENCE_SCALE_MM = 20.0


@dataclass(frozen=True)
class LatentBlockSpec:
    """One named block of the latent vector: dims ``start .. start + size - 1``."""

    name: str
    start: int
    size: int

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)


@dataclass
class Estimate:
    """A pose estimated from one crop."""

    keypoints_3d: np.ndarray  # (21, 3) mm, crop-camera frame
    keypoints_2d: np.ndarray  # (21, 2) px in the crop given to ``estimate``
    uncertainty: np.ndarray   # (21,) mm
    is_left: bool
    latent: np.ndarray        # (D,)

    @property
    def confidence(self) -> np.ndarray:
        """(21,) in (0, 1]: 1 = certain."""
        return np.exp(-np.asarray(self.uncertainty, dtype=np.float64) / CONFIDENCE_SCALE_MM)


class ModelService:
    """A loaded model, a one-line description of where it came from and its file (``path``,
    None for an untrained model)."""

    def __init__(self, model: HandModel, description: str, path: Path | None = None) -> None:
        self.model = model
        # images for the screen: bfloat16 where the CPU has it natively (a 128 px decode in about
        # 0.7x the time; pixels move by a level or two); estimates stay float32
        model.bf16_decode = True
        self.description = description
        self.path = path
        layout = model.layout
        blocks, start = [], 0
        for block in layout.blocks:
            blocks.append(LatentBlockSpec(block.name, start, block.size))
            start += block.size
        self.blocks: tuple[LatentBlockSpec, ...] = tuple(blocks)
        self.dim = start
        self.image_size = int(model.image_size)  # the crops the encoders read
        self._box_reader: ReadsBoxes | None | object = _UNSET
        self.output_size = int(model.config.output_size)  # the images it synthesises

    # --- construction -----------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu") -> "ModelService":
        """The model at ``path`` (None: the bundled default). Raises when it cannot be read."""
        model = HandModel.load(path, device=device)
        if path is None:
            return cls(model, "default model", DEFAULT_MODEL_PATH)
        return cls(model, f"model {path}", Path(path))

    @classmethod
    def untrained(cls, config: DVAEConfig | None = None, seed: int = 0) -> "ModelService":
        return cls(HandModel.untrained(config, seed=seed), "untrained model")

    @classmethod
    def default_or_untrained(cls) -> tuple["ModelService", str | None]:
        """The bundled default model, or an untrained one and a note saying why."""
        try:
            return cls.load(None), None
        except FileNotFoundError:
            return cls.untrained(), "No trained model is bundled yet: showing an untrained model (Train menu)."
        except (CheckpointError, OSError, ValueError, RuntimeError) as err:
            return cls.untrained(), f"The bundled model cannot be loaded ({err}): showing an untrained model."

    def block(self, name: str) -> LatentBlockSpec:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no latent block {name!r}; blocks are {[b.name for b in self.blocks]}")

    # --- calls --------------------------------------------------------------------------
    def random_latent(self, rng: np.random.Generator) -> np.ndarray:
        """A latent drawn from the prior N(0, I), (D,)."""
        return rng.standard_normal(self.dim)

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """The image a latent (D,) decodes to: (S, S, 3) uint8 RGB."""
        return np.asarray(self.model.decode(np.asarray(latent, np.float32)[None]))[0]

    def decode_pose(self, latent: np.ndarray) -> np.ndarray:
        """The 3D pose a latent (D,) encodes: (21, 3) mm, crop-camera frame."""
        return np.asarray(self.model.decode_pose(np.asarray(latent, np.float32)[None]), np.float64)[0]

    def decode_is_left(self, latent: np.ndarray) -> bool:
        """The handedness the latent encodes."""
        return bool(np.asarray(self.model.decode_is_left(np.asarray(latent, np.float32)[None]))[0])

    def with_pose(self, latent: np.ndarray, keypoints_3d: np.ndarray, is_left: bool) -> np.ndarray:
        """``latent`` (D,) with its pose and viewpoint blocks replaced by those of ``keypoints_3d``
        (21, 3) mm; content and free blocks kept. Returns (D,)."""
        out = self.model.with_pose(np.asarray(latent, np.float32)[None],
                                   np.asarray(keypoints_3d, np.float32)[None], np.array([is_left]))
        return np.asarray(out, np.float64)[0]

    def encode(self, image: np.ndarray) -> np.ndarray:
        """The latent (D,) (posterior mean) of an image (H, W, 3) uint8 RGB, squared to the model's size."""
        return np.asarray(self.model.encode(_square(image, self.image_size)[None]), np.float64)[0]

    def estimate(self, crop: np.ndarray, is_left: bool | None = None) -> Estimate:
        """Estimate the hand in ``crop`` (H, W, 3) uint8 RGB; 2D keypoints in crop pixels.
        ``is_left``: estimate it as that side (None: the side the model reads flip-consistently,
        ``HandModel.read_side(flip=True)``, which is right more often on real photos than its
        reading of the crop alone, docs/results.md)."""
        crops = np.ascontiguousarray(crop)[None]
        if is_left is None:
            is_left = bool(np.asarray(self.model.read_side(crops, flip=True))[0] > 0.5)
        est = self.model.estimate(crops, is_left=np.array([is_left]))
        return Estimate(
            keypoints_3d=np.asarray(est.keypoints_3d, np.float64)[0],
            keypoints_2d=np.asarray(est.keypoints_2d, np.float64)[0],
            uncertainty=np.asarray(est.uncertainty, np.float64)[0],
            is_left=bool(np.asarray(est.is_left)[0]),
            latent=np.asarray(est.latent, np.float64)[0],
        )

    @property
    def box_reader(self) -> ReadsBoxes | None:
        """What reads MediaPipe's landmarks in a box (``core.photo_estimate.default_box_reader``:
        MediaPipe Hands where installed, else None), made on first use; tests set a stand-in."""
        if self._box_reader is _UNSET:
            self._box_reader = default_box_reader()
        return self._box_reader

    @box_reader.setter
    def box_reader(self, reader: ReadsBoxes | None) -> None:
        self._box_reader = reader

    def estimate_in_photo(self, photo: np.ndarray, box: tuple[float, float, float, float], is_left: bool | None,
                          detection: Detection | None = None) -> PhotoHandEstimate:
        """The hand in ``box`` (x0, y0, x1, y1) px of ``photo`` (H, W, 3) uint8: the pose prior fitted to
        MediaPipe's landmarks (the ``detection``'s, else read in the box), or the image encoder
        alone (``core.photo_estimate.estimate_in_box``); 2D keypoints in photo pixels."""
        return estimate_in_box(self.model, photo, box, is_left, detection, self.box_reader)

    def find_hands(self, image: np.ndarray) -> list[Detection] | None:
        """Hands in a whole photo (H, W, 3) uint8 RGB, best first (``core.finder.Detection``, boxes
        in photo pixels); None when no hand finder is bundled."""
        try:
            return self.model.find_hands(np.ascontiguousarray(image))
        except FileNotFoundError:
            return None

    def transfer(self, content_latent: np.ndarray, pose_latent: np.ndarray) -> np.ndarray:
        """Latent (D,) with the pose and viewpoint of ``pose_latent`` (D,) and everything else of
        ``content_latent`` (D,) (``core.models.config.POSE_BLOCKS``)."""
        out = self.model.swap_blocks(np.asarray(content_latent, np.float64)[None],
                                     np.asarray(pose_latent, np.float64)[None], POSE_BLOCKS)
        return out[0]

    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
        """(steps, D) latents from ``a`` to ``b``."""
        return np.asarray(self.model.interpolate(np.asarray(a, np.float32), np.asarray(b, np.float32), steps),
                          np.float64).reshape(steps, self.dim)


def _square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize any (H, W, 3) image to the model's (size, size, 3) input."""
    import cv2

    image = np.asarray(image)
    if image.shape[:2] == (size, size):
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
