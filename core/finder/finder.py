"""``HandFinder``: hands in a whole photo, numpy in, ``Detection`` list out; its checkpoint files.

Every window of the search pyramid (``core.finder.windows.pyramid``) is scored by the network;
the best ``max_candidates`` above ``candidate_threshold`` are moved onto the box the network
says their hand has, ``refine_steps`` times (each move re-reads the photo under the new
window), and scored where they end; what scores ``score_threshold`` or more is kept, best
first, one box per hand (``boxes.suppress``).

Checkpoints follow ``core.checkpoint``: safetensors with kind ``HandFinderNet.kind``, the
config as JSON, step and package version in the metadata.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.api_checks import check_photo
from core.checkpoint import CheckpointMeta, load_checkpoint, load_weights_into, save_checkpoint, wrong_kind_message
from core.checkpoint import CheckpointError
from core.finder.boxes import Detection, suppress
from core.finder.config import HandFinderConfig
from core.finder.net import HandFinderNet
from core.finder.windows import WindowCropper, apply_relative, pyramid, window_boxes

DEFAULT_FINDER_PATH = Path(__file__).resolve().parents[2] / "assets" / "hand_finder.safetensors"
_BATCH = 256  # windows per network call


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

    def _read(self, cropper: WindowCropper, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hand probability (N,), relative box (N, 3) and left-hand probability (N,) of windows (N, 3)."""
        scores, boxes, sides = [], [], []
        for start in range(0, len(windows), _BATCH):
            crops = torch.from_numpy(cropper(windows[start:start + _BATCH])).permute(0, 3, 1, 2)
            score, box, side = self.net(crops)
            scores.append(torch.sigmoid(score).numpy())
            boxes.append(box.double().numpy())
            sides.append(torch.sigmoid(side).numpy())
        if not scores:
            return np.zeros(0), np.zeros((0, 3)), np.zeros(0)
        return np.concatenate(scores), np.concatenate(boxes), np.concatenate(sides)

    def _search(self, image: np.ndarray) -> list[Detection]:
        cfg = self.config
        cropper = WindowCropper(image, cfg.crop_size)
        windows = pyramid(image.shape[0], image.shape[1], cfg)
        score, rel, left = self._read(cropper, windows)
        order = np.argsort(-score, kind="stable")
        order = order[score[order] >= cfg.candidate_threshold][: cfg.max_candidates]
        windows, rel = windows[order], rel[order]
        for _ in range(cfg.refine_steps):
            windows = apply_relative(windows, rel)
            windows[:, 2] = np.maximum(windows[:, 2], 8.0)
            score, rel, left = self._read(cropper, windows)
        boxes = window_boxes(apply_relative(windows, rel))
        return [Detection(tuple(float(v) for v in box), float(p), bool(q > 0.5), float(max(q, 1 - q)))
                for box, p, q in zip(boxes, score, left) if p >= cfg.score_threshold]

    def find(self, image: np.ndarray) -> list[Detection]:
        """Hands in ``image`` (H, W, 3) uint8 RGB (or float in [0, 1]), best first; [] for none.

        Boxes are in the image's pixels, framed like training crops (``core.finder.boxes``);
        they may reach past the image's border.
        """
        image = check_photo(image)
        cfg = self.config
        before = torch.get_num_threads()
        if self.threads and self.threads != before:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                found = self._search(image)
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
        return suppress(found, cfg.nms_iou, cfg.cross_side_iou, cfg.max_hands, cfg.merge_power, cfg.min_evidence)
