"""Finding hands in whole photos: a window classifier and box regressor learnt from the project's renders.

- ``HandFinderConfig`` (``config``): architecture and search settings, stored in checkpoints;
  ``MAX_HANDS``: at most this many hands a photo, for every finder (each ``max_hands``'s default);
- ``HandFinderNet`` (``net``): the network, window crops (B, 3, c, c) -> hand score, box, side;
- ``pyramid``, ``WindowCropper`` (``windows``): the search windows of a photo and their crops;
- ``Detection``, ``keypoint_box``, ``box_iou`` (``boxes``): boxes framed like training crops;
- ``HandFinder`` (``finder``): numpy image -> detections (search, refinement, suppression), and
  its checkpoint files;
- ``MediaPipeHands`` (``mediapipe_hands``): the packaged MediaPipe Hands detector, where installed;
- ``CombinedFinder``, ``default_finder`` (``combined``): MediaPipe's boxes first, then the
  finder's others: what ``HandModel.find_hands`` uses.

Training data, windows and the trainer live in ``train.hand_finder.data`` /
``train.hand_finder.loss`` / ``train.hand_finder.training``.
"""
from core.finder.boxes import Detection, box_iou, keypoint_box
from core.finder.combined import CombinedFinder, default_finder
from core.finder.config import BOX_MARGIN, MAX_HANDS, HandFinderConfig
from core.finder.finder import DEFAULT_FINDER_PATH, HandFinder, load_finder, save_finder
from core.finder.mediapipe_hands import MediaPipeHands, mediapipe_available
from core.finder.net import HandFinderNet
from core.finder.windows import WindowCropper, pyramid

__all__ = ["BOX_MARGIN", "DEFAULT_FINDER_PATH", "MAX_HANDS", "CombinedFinder", "Detection", "HandFinder",
           "HandFinderConfig", "HandFinderNet", "MediaPipeHands", "WindowCropper", "box_iou", "default_finder",
           "keypoint_box", "load_finder", "mediapipe_available", "pyramid", "save_finder"]
