"""The hand finder's typed config (architecture and search), stored in its checkpoint."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import config_io

# The framing of a found hand's box, the training crops' (``core.data.crop.CropConfig.margin``):
# box side = this x the longer side of the hand's 2D keypoint box, centred on that box.
BOX_MARGIN = 4.0 / 3.0
# At most this many hands a photo, whichever finds them (the project's finder, MediaPipe Hands or
# both): ``HandFinderConfig.max_hands``'s default and the limit of every finder built without one.
MAX_HANDS = 10


@dataclass(frozen=True)
class HandFinderConfig:
    """A window classifier and box regressor (``core.finder.net``) run over a pyramid of square
    windows of the photo (``core.finder.windows``), whose best windows are moved onto the hand
    it says is there, ``refine_steps`` times, then suppressed (``core.finder.boxes.suppress``).

    crop_size: side (px) every window is resampled to before the network sees it.
    widths: channels of the network's four stride-2 stages.
    hidden: width of the layer before the heads.
    smallest_window: the smallest window side, as a share of the photo's shorter side...
    smallest_window_px: ...and at least this many pixels.
    largest_window: the largest, as a share of the photo's longer side.
    scale_step: ratio of one window size to the next.
    window_stride: step between windows of one size, as a share of their side.
    candidate_threshold: windows scoring below this are not refined.
    max_candidates: at most this many windows are refined (best first).
    refine_steps: times a candidate is moved onto the box its network output says.
    score_threshold: found boxes scoring below this are dropped.
    max_hands: at most this many boxes per photo.
    nms_iou: a box overlapping a better one of the same side by more than this is dropped.
    cross_side_iou: the same for a better one of the other side (one hand seen as both sides;
        two clasped hands of different sides can overlap more than ``nms_iou``).
    merge_power: > 0: a kept box is the mean of the boxes it suppresses, weighted by score to
        this power (``core.finder.boxes.suppress``); 0: the best box as it is.
    min_evidence: > 0: a kept box scores 1 - prod(1 - score) over the boxes it suppresses and
        is dropped below this (``core.finder.boxes.suppress``); 0: its own score.
    """

    crop_size: int = 64
    widths: tuple[int, ...] = (24, 48, 64, 96)
    hidden: int = 128
    smallest_window: float = 0.1
    smallest_window_px: float = 16.0
    largest_window: float = 1.3
    scale_step: float = 1.5
    window_stride: float = 0.45
    candidate_threshold: float = 0.05
    max_candidates: int = 150
    refine_steps: int = 2
    score_threshold: float = 0.5
    max_hands: int = MAX_HANDS
    nms_iou: float = 0.4
    cross_side_iou: float = 0.4
    merge_power: float = 4.0
    min_evidence: float = 0.9

    def __post_init__(self) -> None:
        if len(self.widths) != 4:
            raise ValueError(f"HandFinderConfig.widths needs 4 stage widths, got {self.widths}")
        if self.crop_size % 16:
            raise ValueError(f"HandFinderConfig.crop_size must be a multiple of 16, got {self.crop_size}")
        if self.scale_step <= 1.0:
            raise ValueError(f"HandFinderConfig.scale_step must be above 1, got {self.scale_step}")

    def to_dict(self) -> dict[str, Any]:
        return config_io.to_table(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HandFinderConfig":
        return config_io.from_dict(cls, data)
