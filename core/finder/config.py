"""The hand finder's typed config (architecture and decoding), stored in its checkpoint."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import config_io

# The framing of a found hand's box, the training crops' (``core.data.crop.CropConfig.margin``):
# box side = this x the longer side of the hand's 2D keypoint box, centred on that box.
BOX_MARGIN = 4.0 / 3.0


@dataclass(frozen=True)
class HandFinderConfig:
    """A small fully convolutional detector (``core.finder.net``): at ``stride`` px per cell it
    says which cells show a hand, which side that hand is, where its box centre is and how large
    its box is; hand cells vote for centres (``core.finder.boxes.decode_votes``).

    input_size: side of the square canvas it is trained on; at inference the image is scaled so
        its longer side is this (plus a 2x pass for small hands, see ``HandFinder``).
    widths: channels of the backbone stages at strides 2, 4, 8, 16, 32.
    head_width: channels of the upsampling path and of the heads.
    stride: output stride (4 or 8).
    score_threshold: detections scoring below this are dropped (score: ``decode_votes``).
    max_hands: at most this many detections per image.
    nms_iou: a detection overlapping a better one of the same side by more than this is dropped.
    cross_side_iou: the same for a better one of the other side (one hand seen as both sides;
        two clasped hands of different sides can overlap more than ``nms_iou``).
    small_pass_fraction: in the 2x pass, only boxes under this share of the (2x) canvas side
        are kept; larger ones come from the 1x pass.
    """

    input_size: int = 192
    widths: tuple[int, ...] = (16, 24, 48, 64, 96)
    head_width: int = 32
    stride: int = 4
    score_threshold: float = 0.3
    max_hands: int = 10
    nms_iou: float = 0.5
    cross_side_iou: float = 0.75
    small_pass_fraction: float = 0.3

    def __post_init__(self) -> None:
        if self.stride not in (4, 8):
            raise ValueError(f"HandFinderConfig.stride must be 4 or 8, got {self.stride}")
        if len(self.widths) != 5:
            raise ValueError(f"HandFinderConfig.widths needs 5 stage widths, got {self.widths}")
        if self.input_size % 32:
            raise ValueError(f"HandFinderConfig.input_size must be a multiple of 32, got {self.input_size}")

    def to_dict(self) -> dict[str, Any]:
        return config_io.to_table(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HandFinderConfig":
        return config_io.from_dict(cls, data)
