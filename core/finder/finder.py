"""``HandFinder``: hands in a whole photo, numpy in, ``Detection`` list out; its checkpoint files.

The image is scaled so its longer side is ``config.input_size`` (a 1x pass) and, when it has
more pixels than that, twice as large (a 2x pass that keeps only small boxes, for hands that
would be a few cells wide in the 1x pass); both are padded to a multiple of 32 with the
image's mean colour. Peaks of both passes are merged best first (``boxes.suppress``).

Checkpoints follow ``core.checkpoint``: safetensors with kind ``HandFinderNet.kind``, the
config as JSON, step and package version in the metadata.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from core.api_checks import check_images
from core.checkpoint import CheckpointMeta, load_checkpoint, load_weights_into, save_checkpoint, wrong_kind_message
from core.checkpoint import CheckpointError
from core.finder.boxes import Detection, decode_votes, suppress
from core.finder.config import HandFinderConfig
from core.finder.net import HandFinderNet

DEFAULT_FINDER_PATH = Path(__file__).resolve().parents[2] / "assets" / "hand_finder.safetensors"
_PAD_MULTIPLE = 32


def save_finder(path: str | Path, net: HandFinderNet, step: int = 0, half: bool = False,
                extra: dict[str, Any] | None = None, extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write ``net`` (float16 weights with ``half``) with its config; ``extra_tensors`` named ``prefix/...``."""
    tensors = {n: (t.half() if half and t.is_floating_point() else t) for n, t in net.state_dict().items()}
    tensors.update(extra_tensors or {})
    meta = CheckpointMeta(kind=HandFinderNet.kind, config=net.config.to_dict(), step=step, extra=dict(extra or {}))
    return save_checkpoint(path, tensors, meta)


def load_finder(path: str | Path, device: str | torch.device = "cpu") -> tuple[HandFinderNet, CheckpointMeta, dict]:
    """``(net in eval mode, meta, all tensors)``; ``CheckpointError`` for anything unusable."""
    tensors, meta = load_checkpoint(path)
    if meta.kind != HandFinderNet.kind:
        raise CheckpointError(wrong_kind_message(path, meta.kind, HandFinderNet.kind))
    try:
        config = HandFinderConfig.from_dict(meta.config)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: hand finder config does not fit ({exc})") from exc
    net = HandFinderNet(config)
    load_weights_into(net, tensors, path)
    return net.to(device).eval(), meta, tensors


def letterbox(image: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """(H, W, 3) -> ((h', w', 3) float32 in [0, 1] padded to multiples of 32, scale factor f);
    an input pixel x maps to (x + 0.5) * f - 0.5."""
    h, w = image.shape[:2]
    f = long_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    img = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    resized = cv2.resize(img, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    ph, pw = (-size[1]) % _PAD_MULTIPLE, (-size[0]) % _PAD_MULTIPLE
    mean = [float(v) for v in resized.reshape(-1, 3).mean(axis=0)]
    padded = cv2.copyMakeBorder(resized, 0, max(ph, 0), 0, max(pw, 0), cv2.BORDER_CONSTANT, value=mean)
    return padded.reshape(padded.shape[0], padded.shape[1], 3), f


class HandFinder:
    """A trained ``HandFinderNet`` behind ``find(image)``; ``threads`` as ``HandModel``'s."""

    def __init__(self, net: HandFinderNet, meta: CheckpointMeta | None = None, threads: int | None = 1) -> None:
        self.net = net.eval()
        self.config: HandFinderConfig = net.config
        self.meta = meta
        self.threads = threads

    @classmethod
    def load(cls, path: str | Path | None = None) -> "HandFinder":
        """The finder at ``path``; None: the bundled ``assets/hand_finder.safetensors``
        (``FileNotFoundError`` when it is absent)."""
        if path is None:
            path = DEFAULT_FINDER_PATH
            if not path.exists():
                raise FileNotFoundError(f"no bundled hand finder at {path}: train one with "
                                        "python -m train.hand_finder (README, 'Finding hands')")
        net, meta, _ = load_finder(path)
        return cls(net, meta)

    def save(self, path: str | Path, half: bool = True) -> Path:
        return save_finder(path, self.net, self.meta.step if self.meta else 0, half=half)

    def _pass(self, image: np.ndarray, long_side: int, max_box: float | None) -> list[Detection]:
        canvas, f = letterbox(image, long_side)
        x = torch.from_numpy(canvas).permute(2, 0, 1)[None]
        coverage, side, vector, size = self.net(x)
        cfg = self.config
        found = decode_votes(coverage[0], side[0], vector[0], size[0], cfg.stride, cfg.score_threshold, 4 * cfg.max_hands)
        out = []
        for det in found:
            if max_box is not None and det.side > max_box:
                continue
            box = tuple((v + 0.5) / f - 0.5 for v in det.box)
            out.append(Detection(box, det.score, det.is_left, det.side_score))
        return out

    def find(self, image: np.ndarray) -> list[Detection]:
        """Hands in ``image`` (H, W, 3) uint8 RGB (or float in [0, 1]), best first; [] for none.

        Boxes are in the image's pixels, framed like training crops (``core.finder.boxes``);
        they may reach past the image's border.
        """
        image = check_images(image, "image")
        if len(image) != 1:
            raise ValueError(f"find_hands: one image (H, W, 3) at a time, got {len(image)}")
        image = image[0]
        cfg = self.config
        before = torch.get_num_threads()
        if self.threads and self.threads != before:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                found = self._pass(image, cfg.input_size, None)
                if max(image.shape[:2]) > cfg.input_size:
                    found += self._pass(image, 2 * cfg.input_size, cfg.small_pass_fraction * 2 * cfg.input_size)
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
        return suppress(found, cfg.nms_iou, cfg.cross_side_iou, cfg.max_hands)
