"""Finding hands in whole photos: a small dense detector learnt from the project's renders.

- ``HandFinderConfig`` (``config``): architecture and decoding settings, stored in checkpoints;
- ``HandFinderNet`` (``net``): the network, (B, 3, H, W) -> hand coverage, side, centre votes, box sides;
- ``Detection``, ``keypoint_box``, ``box_iou`` (``boxes``): boxes framed like training crops;
- ``HandFinder`` (``finder``): numpy image -> detections, and its checkpoint files.

Training data and the trainer live in ``train.hand_finder_data`` / ``train.hand_finder``.
"""
from core.finder.boxes import Detection, box_iou, keypoint_box
from core.finder.config import BOX_MARGIN, HandFinderConfig
from core.finder.finder import DEFAULT_FINDER_PATH, HandFinder, load_finder, save_finder
from core.finder.net import HandFinderNet

__all__ = ["BOX_MARGIN", "DEFAULT_FINDER_PATH", "Detection", "HandFinder", "HandFinderConfig", "HandFinderNet",
           "box_iou", "keypoint_box", "load_finder", "save_finder"]
