"""``HandModel``: the trained dVAE behind numpy-in, numpy-out calls (what the GUI and scripts use).

Conventions:
- images: uint8 RGB, (N, H, W, 3) or one (H, W, 3); float arrays are read as RGB in [0, 1]. Any
  size is resized (OpenCV) to the model's ``image_size``; an input is taken to be a hand crop
  framed like the training crops (``core.data.crop``: keypoint box centred, ~75 % of the side).
- keypoints: internal joint order (FreiHAND order, ``core.hand.joints``), millimetres, in the
  crop camera's frame (OpenCV axes: x right, y down, z forward). 3D outputs are root-relative:
  the wrist is at the origin.
- latents: float32 (N, D) in the order of ``layout`` (default pose 24, viewpoint 8, content 24,
  free 8). "Posterior mean" is used wherever an image is encoded.
- scale: a single image does not reveal the hand's size, so decoded poses are scaled to the mean
  adult hand (``core.hand.kinematics.MEAN_REFERENCE_MM`` from wrist to middle MCP). The
  evaluation protocol rescales by the ground truth's bone anyway.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import cv2
import numpy as np
import torch

from core.api_checks import as_numeric_array, check_batch, check_images, check_is_left, check_photo
from core.checkpoint import CheckpointMeta, load_model, save_model
from core.finder import Detection, default_finder
from core.finder.combined import Finds
from core.finder.boxes import MEDIAPIPE
from core.hand.canonical import rotation_to_6d, to_canonical
from core.hand.joints import NUM_JOINTS
from core.hand.kinematics import MEAN_REFERENCE_MM
from core.models.config import CONTENT, POSE_BLOCKS, DVAEConfig, LatentLayout
from core.models.dvae import DVAE
from core.precision import cpu_has_bf16
from core.sides import left_probability, with_read_sides

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "assets" / "default_model.safetensors"
# The crop framing the 2D output assumes: crop side = CROP_MARGIN x keypoint box side.
CROP_MARGIN = 4.0 / 3.0
# Appearance tag used with a user-given background: mid values of each parameter.
NEUTRAL_APPEARANCE = 0.5
UNCERTAINTY_SAMPLES = 8
# Intra-op threads of each HandModel call (torch's OpenMP thread count is per calling thread, so
# this does not touch other threads, e.g. a training worker). One image is a small job: a second
# thread gains little, and on a busy machine libgomp's spin-waiting threads (its default, as in
# the GUI's process) make it many times slower (docs/development.md, "Measurements behind the rules").
INFERENCE_THREADS = 1

_Result = TypeVar("_Result")


def _inference(method: Callable[..., _Result]) -> Callable[..., _Result]:
    """Run a HandModel method under ``torch.inference_mode`` with the model's thread count."""

    @functools.wraps(method)
    def run(self: "HandModel", *args: Any, **kwargs: Any) -> _Result:
        before = torch.get_num_threads()
        if self.threads and self.threads != before:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                return method(self, *args, **kwargs)
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)

    return run


@dataclass
class PoseEstimate:
    """Poses estimated from N images.

    keypoints_3d: (N, 21, 3) float32 mm, root-relative (wrist at 0), crop-camera frame.
    keypoints_2d: (N, 21, 2) float32 px in each INPUT image's pixel coordinates: the 3D pose
        projected weak-perspectively and framed like a training crop (box centred, 3/4 of the side).
    uncertainty: (N, 21) float32 mm, per joint: root of the summed per-axis variance of the
        joint over ``UNCERTAINTY_SAMPLES`` posterior samples (fixed seed, so repeatable).
    is_left: (N,) bool predicted handedness.
    latent: (N, D) float32 posterior means.
    """

    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    uncertainty: np.ndarray
    is_left: np.ndarray
    latent: np.ndarray


class HandModel:
    """A dVAE in evaluation mode with numpy in / numpy out (see the module docstring).

    ``threads``: torch intra-op threads used by each call (None: the caller's setting).
    """

    def __init__(self, model: DVAE, device: str | torch.device = "cpu", meta: CheckpointMeta | None = None,
                 threads: int | None = INFERENCE_THREADS, finder: Finds | None = None) -> None:
        torch.set_flush_denormal(True)  # removes multi-x timing swings on CPU
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if self.device.type == "cpu":
            # channels_last: the image encoder's and decoder's convolutions run faster on CPU (train.bench)
            self.model.to(memory_format=torch.channels_last)
        self.meta = meta
        self.threads = threads
        # ``decode`` (and so ``synthesize`` and ``transfer``) in bfloat16 autocast where the CPU has
        # it natively (``core.precision.cpu_has_bf16``): for display, where pixel values may move
        # by a few levels; off by default, so results do not depend on the CPU
        self.bf16_decode = False
        self.config: DVAEConfig = model.config
        self._finder = finder

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, device: str | torch.device = "cpu") -> "HandModel":
        """The model saved at ``path``; None or ``"default"`` (as the CLIs' ``--checkpoint default``)
        loads the bundled ``assets/default_model.safetensors``.

        Raises ``FileNotFoundError`` when there is no bundled model yet and
        ``core.checkpoint.CheckpointError`` when a file cannot be used.
        """
        if path is None or (str(path) == "default" and not Path(path).exists()):
            path = DEFAULT_MODEL_PATH
            if not path.exists():
                raise FileNotFoundError(
                    f"no bundled model at {path}: train one (see README, 'Training') and export it with "
                    "core.checkpoint.save_model(path, model, half=True), or use HandModel.untrained() "
                    "for an untrained model"
                )
        model, meta = load_model(path, device=device)
        return cls(model, device, meta)

    @classmethod
    def untrained(cls, config: DVAEConfig | None = None, seed: int = 0, device: str | torch.device = "cpu") -> "HandModel":
        """A randomly initialised model (tests, and the GUI before a model exists); the global
        RNG is left untouched."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = DVAE(config or DVAEConfig())
        return cls(model, device)

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Save the model (``half=True``: float16 weights, as for the bundled model), with how it was
        made (``recipe``) when it carries that."""
        step = self.meta.step if self.meta is not None else 0
        extra = {"recipe": self.recipe} if self.recipe else {}
        return save_model(path, self.model, step=step, half=half, extra=extra)

    @property
    def recipe(self) -> list[dict]:
        """How the model was made, oldest stage first: ``{"config", "disentangle_steps",
        "embed_steps", "commit"}`` per training stage (``train.recipe``); [] when not recorded."""
        return list(self.meta.extra.get("recipe", [])) if self.meta is not None else []

    @property
    def layout(self) -> LatentLayout:
        """Names, sizes and slices of the latent blocks."""
        return self.config.layout

    @property
    def image_size(self) -> int:
        return self.config.image_size

    # ---- conversions -----------------------------------------------------------------------
    def _images(self, images: np.ndarray, name: str = "images") -> tuple[torch.Tensor, np.ndarray]:
        """(N, H, W, 3) or (H, W, 3) -> tensor (N, 3, S, S) in [0, 1] and the input sizes (N, 2) (w, h)."""
        arr = check_images(images, name)  # uint8, or float32 in [0, 1]; ValueError otherwise
        s = self.image_size
        out = np.empty((len(arr), s, s, 3), np.float32)
        for i, img in enumerate(arr):
            img = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
            if img.shape[:2] != (s, s):
                shrink = img.shape[0] > s or img.shape[1] > s
                img = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            out[i] = img
        sizes = np.array([[a.shape[1], a.shape[0]] for a in arr], np.float64)
        tensor = torch.from_numpy(out).permute(0, 3, 1, 2).clamp(0, 1).to(self.device)
        return tensor, sizes

    def _latent(self, latent: np.ndarray, name: str = "latent", dtype: type = np.float32) -> torch.Tensor:
        z = check_batch(latent, name, f"(N, {self.layout.dim}) latents", (self.layout.dim,))
        if dtype is not np.float32:  # checked above; now read at the precision asked for
            z = np.asarray(latent, dtype).reshape(z.shape)
        return torch.from_numpy(z).to(self.device)

    def _keypoints(self, keypoints_3d: np.ndarray, is_left: np.ndarray | bool) -> tuple[torch.Tensor, torch.Tensor]:
        kp = check_batch(keypoints_3d, "keypoints_3d", f"(N, {NUM_JOINTS}, 3) mm", (NUM_JOINTS, 3))
        left = check_is_left(is_left, len(kp))
        return torch.from_numpy(kp).to(self.device), torch.from_numpy(left).to(self.device)

    @staticmethod
    def _numpy(t: torch.Tensor) -> np.ndarray:
        return t.detach().to("cpu", torch.float32).numpy()

    # ---- encoding / decoding ---------------------------------------------------------------
    @_inference
    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images -> posterior means of q(z | x), (N, D) float32."""
        x, _ = self._images(images)
        return self._numpy(self.model.image_posterior(x).mu)

    @_inference
    def decode(self, latent: np.ndarray) -> np.ndarray:
        """Latents (N, D) -> images (N, S, S, 3) uint8 RGB (decoder means), S the model's
        ``config.output_size``."""
        bf16 = self.bf16_decode and self.device.type == "cpu" and cpu_has_bf16()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            image = self.model.decode_image(self._latent(latent)).float()
        return (image.permute(0, 2, 3, 1) * 255.0).round().clamp(0, 255).to("cpu", torch.uint8).numpy()

    @_inference
    def decode_pose(self, latent: np.ndarray) -> np.ndarray:
        """Latents (N, D) -> 3D poses (N, 21, 3) float32 mm, wrist at 0, predicted handedness."""
        return self._numpy(self.model.decode_labels(self._latent(latent)).pose_3d(MEAN_REFERENCE_MM))

    @_inference
    def decode_is_left(self, latent: np.ndarray) -> np.ndarray:
        """Latents (N, D) -> (N,) bool handedness read from the viewpoint block."""
        return self.model.decode_labels(self._latent(latent)).is_left.cpu().numpy()

    @_inference
    def encode_pose(self, keypoints_3d: np.ndarray, is_left: np.ndarray | bool) -> np.ndarray:
        """Poses (N, 21, 3) mm (any root, any size) and handedness (N,) -> latents (N, D):
        pose and viewpoint blocks from the label encoders' means, every other block 0 (prior mean)."""
        return self._numpy(self.model.latent_from_labels(*self._pose_labels(keypoints_3d, is_left)))

    def _pose_labels(self, keypoints_3d: np.ndarray, is_left: np.ndarray | bool
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The pose and viewpoint labels of poses (N, 21, 3) mm: canonical pose (N, 21, 3),
        rotation (N, 6) and handedness (N,) bool, as ``DVAE.latent_from_labels`` takes them."""
        kp, left = self._keypoints(keypoints_3d, is_left)
        canonical = to_canonical(kp, left)
        return canonical.pose, rotation_to_6d(canonical.viewpoint), left

    @_inference
    def with_pose(self, latent: np.ndarray, keypoints_3d: np.ndarray, is_left: np.ndarray | bool) -> np.ndarray:
        """Latents (N, D) with the pose and viewpoint blocks replaced by those of the given poses
        (N, 21, 3) mm; content and free blocks are kept. The GUI calls this on every joint drag."""
        z = self._latent(latent)
        labels = self._pose_labels(keypoints_3d, is_left)
        if len(labels[0]) != len(z):
            raise ValueError(f"with_pose: {len(z)} latents but {len(labels[0])} poses")
        return self._numpy(self.model.latent_from_labels(*labels, rest=z))

    @_inference
    def swap_blocks(self, latent: np.ndarray, source: np.ndarray, names: Iterable[str] = POSE_BLOCKS) -> np.ndarray:
        """Latents (N, D) with the blocks ``names`` (default: pose and viewpoint) taken from
        ``source`` (N, D); either may be one latent ((D,) or (1, D)) and is broadcast. Values are
        copied, not rounded: float32, or float64 when either input is float64."""
        wide = any(np.asarray(x).dtype == np.float64 for x in (latent, source))
        dtype = np.float64 if wide else np.float32
        z, other = self._latent(latent, dtype=dtype), self._latent(source, "source", dtype)
        return self.model.swap_blocks(z, other, names).cpu().numpy()

    # ---- pose estimation -------------------------------------------------------------------
    @_inference
    def read_side(self, images: np.ndarray, flip: bool = False) -> np.ndarray:
        """Images (N, H, W, 3) / (H, W, 3) -> (N,) float32 probability that each shows a LEFT hand
        (``> 0.5``: the side ``estimate`` reads). ``flip=True``: test-time flip consistency,
        (p(image) + 1 - p(mirrored image)) / 2 (``core.sides``); the mirrored image then reads 1 - p.
        ``estimate(images, is_left=model.read_side(images, flip=True) > 0.5)`` estimates with it."""
        return self._numpy(left_probability(self.model, self._images(images)[0], flip))

    def _posterior_pose(self, x: torch.Tensor, is_left: torch.Tensor | None
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (N, 3, S, S) -> pose (N, 21, 3) mm, uncertainty (N, 21) mm, is_left (N,), posterior
        means (N, D); the side is the model's reading unless ``is_left`` (N,) is given."""
        q = self.model.image_posterior(x)
        labels = self.model.decode_labels(q.mu)
        left = labels.is_left if is_left is None else is_left
        pose = labels.pose_3d(MEAN_REFERENCE_MM, left)
        n, k = len(x), UNCERTAINTY_SAMPLES
        generator = torch.Generator(device=self.device).manual_seed(0)
        eps = torch.randn((k, *q.mu.shape), generator=generator, device=self.device)
        samples = (q.mu + eps * torch.exp(0.5 * q.logvar)).reshape(k * n, -1)
        sampled = self.model.decode_labels(samples).pose_3d(MEAN_REFERENCE_MM, left.repeat(k))
        uncertainty = sampled.reshape(k, n, NUM_JOINTS, 3).var(dim=0, unbiased=False).sum(-1).sqrt()
        return pose, uncertainty, left, q.mu

    @_inference
    def estimate(self, images: np.ndarray, is_left: np.ndarray | bool | None = None) -> PoseEstimate:
        """3D (and framed 2D) hand poses from images; see ``PoseEstimate`` for every field.

        is_left: None, or the side (N,) / one bool each hand is to be estimated as. Where the model
        reads the other side, the mirrored image is estimated as the opposite side and the pose
        mirrored back (x -> -x in the crop camera; the crop is centred, so the 2D skeleton stays on
        the hand); its latent then carries that pose through the label encoders.
        """
        x, sizes = self._images(images)
        pose, uncertainty, left, latent = self._posterior_pose(x, None)
        if is_left is not None:
            wanted = torch.from_numpy(check_is_left(is_left, len(x))).to(self.device)
            flip = torch.nonzero(left != wanted).squeeze(1)
            if flip.numel():
                other = ~wanted.index_select(0, flip)
                m_pose, m_unc, _, m_mu = self._posterior_pose(x.index_select(0, flip).flip(-1), other)
                m_pose = m_pose * torch.tensor([-1.0, 1.0, 1.0], device=self.device)
                canonical = to_canonical(m_pose, ~other)
                m_mu = self.model.latent_from_labels(canonical.pose, rotation_to_6d(canonical.viewpoint), ~other,
                                                     rest=m_mu)
                pose, uncertainty, latent = pose.clone(), uncertainty.clone(), latent.clone()
                pose[flip], uncertainty[flip], latent[flip] = m_pose, m_unc, m_mu
                left = wanted
        return PoseEstimate(
            keypoints_3d=self._numpy(pose),
            keypoints_2d=frame_keypoints_2d(self._numpy(pose), sizes, self.image_size),
            uncertainty=self._numpy(uncertainty),
            is_left=left.cpu().numpy(),
            latent=self._numpy(latent),
        )

    # ---- finding hands in whole photos --------------------------------------------------------
    @property
    def finder(self) -> Finds:
        """What finds hands (anything with ``find(image) -> list[Detection]``, ``core.finder``):
        unless one was given, ``core.finder.default_finder``: MediaPipe Hands where installed,
        then the bundled ``assets/hand_finder.safetensors``; ``FileNotFoundError`` when there is
        no bundled finder."""
        if self._finder is None:
            self._finder = default_finder(self.threads)
        return self._finder

    @finder.setter
    def finder(self, finder: Finds) -> None:
        self._finder = finder

    def find_hands(self, image: np.ndarray) -> list[Detection]:
        """Hands in a whole image (H, W, 3) uint8 RGB (or float in [0, 1]): a list, best first, of
        ``Detection`` (``box`` (x0, y0, x1, y1) in the image's pixels, framed like a training crop:
        square, the hand's keypoint box centred and 3/4 of the side; ``score`` in [0, 1];
        ``is_left``: MediaPipe's side for its boxes (``source == "mediapipe"``), else the
        flip-consistent reading of the box's crop, ``read_side(flip=True)``); [] when there is no
        hand. ``box`` may reach past the image's border. The image is checked once, here
        (``core.api_checks.check_photo``: a ``ValueError`` saying what was expected); the finder
        and the side reading get the checked pixels."""
        photo = check_photo(image)
        return with_read_sides(self.finder.find(photo), photo,
                               lambda crops: self.read_side(crops, flip=True), self.image_size, (MEDIAPIPE,))

    # ---- synthesis ---------------------------------------------------------------------------
    @_inference
    def synthesize(
        self,
        keypoints_3d: np.ndarray,
        is_left: np.ndarray | bool = False,
        content: np.ndarray | None = None,
        appearance: np.ndarray | None = None,
    ) -> np.ndarray:
        """Images (N, S, S, 3) uint8 of hands in the given poses (N, 21, 3) mm.

        content: None (prior mean, 0), a content latent block (N, d_content) / (d_content,), or
            background image(s) (N, H, W, 3) / (H, W, 3) uint8 encoded with the content-tag
            encoder (the paper's variant a) together with ``appearance`` (N, A) (default: every
            parameter ``NEUTRAL_APPEARANCE``). Free blocks take the prior mean.
        """
        labels = self._pose_labels(keypoints_3d, is_left)
        block = None if content is None else self._content_block(
            as_numeric_array(content, "content", "a content block or background image(s)"), len(labels[0]), appearance)
        return self.decode(self._numpy(self.model.latent_from_labels(*labels, content=block)))

    def _content_block(self, content: np.ndarray, n: int, appearance: np.ndarray | None) -> torch.Tensor:
        size = self.layout.size(CONTENT)
        if content.dtype != np.uint8 and content.shape[-1] == size and content.ndim <= 2:
            block = torch.from_numpy(check_batch(content.reshape(-1, size), "content", f"(N, {size}) content blocks",
                                                 (size,))).to(self.device)
        else:
            background, _ = self._images(content, "content")
            if appearance is None:
                tags = torch.full((len(background), self.config.appearance_dim), NEUTRAL_APPEARANCE, device=self.device)
            else:
                tags = torch.from_numpy(np.asarray(appearance, np.float32).reshape(-1, self.config.appearance_dim))
                tags = tags.to(self.device).expand(len(background), -1)
            block = self.model.content_posterior(background, tags).mu
        if len(block) not in (1, n):
            raise ValueError(f"content: {len(block)} content blocks for {n} poses")
        return block.expand(n, -1)

    @_inference
    def transfer(self, content_image: np.ndarray, pose_source: np.ndarray, is_left: np.ndarray | bool = False) -> np.ndarray:
        """The pose of B on the content of A: (N, S, S, 3) uint8.

        content_image: image(s) A (N, H, W, 3). pose_source: image(s) B (uint8, (N, H, W, 3)) whose
        pose and viewpoint blocks are encoded, or keypoints (N, 21, 3) mm with ``is_left``.
        Content and free blocks come from A's posterior mean (the paper's variant b).
        """
        z = self.encode(content_image)
        source = as_numeric_array(pose_source, "pose_source", "images (N, H, W, 3) or keypoints (N, 21, 3) mm")
        if source.dtype != np.uint8 and source.shape[-2:] == (NUM_JOINTS, 3):
            kp = source.reshape(-1, NUM_JOINTS, 3)
            z = np.broadcast_to(z, (len(kp), z.shape[1])) if len(z) == 1 else z
            return self.decode(self.with_pose(z, kp, is_left))
        return self.decode(self.swap_blocks(z, self.encode(source), POSE_BLOCKS))

    @staticmethod
    def interpolate(a: np.ndarray, b: np.ndarray, steps: int, spherical: bool = False) -> np.ndarray:
        """(steps, D) latents from ``a`` (D,) to ``b`` (D,), ends included; linear, or slerp
        (keeps the norm typical of prior samples) with ``spherical=True``."""
        a64, b64 = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
        t = np.linspace(0.0, 1.0, steps)[:, None]
        if spherical:
            cos = np.dot(a64, b64) / max(np.linalg.norm(a64) * np.linalg.norm(b64), 1e-12)
            omega = np.arccos(np.clip(cos, -1.0, 1.0))
            if omega > 1e-6:
                return ((np.sin((1 - t) * omega) * a64 + np.sin(t * omega) * b64) / np.sin(omega)).astype(np.float32)
        return ((1.0 - t) * a64 + t * b64).astype(np.float32)


def frame_keypoints_2d(keypoints_3d: np.ndarray, sizes_wh: np.ndarray, crop_size: int) -> np.ndarray:
    """Weak-perspective 2D keypoints (N, 21, 2) in input pixels for poses (N, 21, 3) in a crop frame.

    The x, y coordinates are scaled and shifted so that the keypoints' box is centred in the crop
    and its longer side is ``1 / CROP_MARGIN`` of the crop side (the training crops' framing),
    then mapped from the ``crop_size`` crop to each input size (w, h) (pixel centres at integers).
    """
    xy = keypoints_3d[..., :2].astype(np.float64)
    low, high = xy.min(axis=1, keepdims=True), xy.max(axis=1, keepdims=True)
    side = np.maximum((high - low).max(axis=-1, keepdims=True), 1e-6)
    centre = (crop_size - 1) / 2.0
    crop_uv = centre + (xy - 0.5 * (low + high)) * (crop_size / (CROP_MARGIN * side))
    factor = np.asarray(sizes_wh, np.float64)[:, None, :] / crop_size
    return ((crop_uv + 0.5) * factor - 0.5).astype(np.float32)
