"""Dataset loaders: every one returns ``core.data.sample.HandSample`` in the internal joint order.

- ``RHDDataset``            RHD native layout (3D, 2D, visibility, hand mask)
- ``STBDataset``            STB native layout (3D, left hands)
- ``FreiHANDDataset``       FreiHAND layout (3D); ``write_freihand_layout`` writes one
- ``SyntheticCachedDataset`` the project's cached renders: FreiHAND layout + dVAE labels
- ``Coco2DDataset``         COCO keypoint json (2D-only weak labels)
- ``PhotoFolderDataset``    any folder of photos (unlabelled)
- ``read_interhand_frames`` InterHand2.6M whole frames with their labelled hands (mmpose's test layout)

Bad input raises ``DatasetError`` naming the file; ``skip_bad=True`` skips and records it.
"""
from core.data.loaders.cached import SyntheticCachedDataset, content_path, write_dvae_labels
from core.data.loaders.coco import Coco2DDataset
from core.data.loaders.common import DEFAULT_CROP, HandDataset, check_image_file
from core.data.loaders.errors import DatasetError, SkippedSample
from core.data.loaders.freihand import (
    FreiHANDDataset,
    freihand_image_path,
    freihand_mask_path,
    write_freihand_labels,
    write_freihand_layout,
)
from core.data.loaders.interhand import read_interhand_frames
from core.data.loaders.photos import PhotoFolderDataset
from core.data.loaders.rhd import RHDDataset
from core.data.loaders.stb import STBDataset

__all__ = [
    "Coco2DDataset",
    "DEFAULT_CROP",
    "DatasetError",
    "FreiHANDDataset",
    "HandDataset",
    "PhotoFolderDataset",
    "RHDDataset",
    "STBDataset",
    "SkippedSample",
    "SyntheticCachedDataset",
    "check_image_file",
    "read_interhand_frames",
    "content_path",
    "freihand_image_path",
    "freihand_mask_path",
    "write_dvae_labels",
    "write_freihand_labels",
    "write_freihand_layout",
]
