"""The disentangled VAE (dVAE): configs, networks, objectives."""
from core.models.config import (CONTENT, LABELLED_BLOCKS, POSE, POSE_BLOCKS, VIEWPOINT, DVAEConfig, LatentBlock,
                                LatentLayout)
from core.models.dvae import DVAE, MODEL_KIND, DecodedLabels, Step, compose_pose_3d
from core.models.gaussian import Gaussian
from core.models.objectives import (
    DisentangleConfig,
    DisentangleObjective,
    EmbeddingConfig,
    EmbeddingObjective,
    LabelLossWeights,
)

__all__ = [
    "CONTENT", "LABELLED_BLOCKS", "POSE", "POSE_BLOCKS", "VIEWPOINT", "DVAEConfig", "LatentBlock", "LatentLayout",
    "DVAE", "MODEL_KIND", "DecodedLabels", "Step", "compose_pose_3d", "Gaussian",
    "DisentangleConfig", "DisentangleObjective", "EmbeddingConfig", "EmbeddingObjective", "LabelLossWeights",
]
