"""Synthetic hand rendering: bake once, splat per sample (see docs/renderer.md).

Main entry points: ``HandRenderer`` / ``RenderConfig`` / ``RenderOutput`` / ``composite``
(``core.render.renderer``), ``sample_scene`` (``core.render.scene``), ``BackgroundSource``
(``core.render.backgrounds``), ``augment_images`` (``core.render.augment``). Datasets built on
them live in ``core.data.synthetic``.
"""
from core.render.augment import AugmentConfig, augment_images
from core.render.backgrounds import BackgroundConfig, BackgroundSource
from core.render.camera import CameraParams
from core.render.renderer import HandRenderer, RenderConfig, RenderOutput, composite
from core.render.scene import SceneConfig, sample_scene
from core.render.shading import Appearance

__all__ = [
    "Appearance",
    "AugmentConfig",
    "BackgroundConfig",
    "BackgroundSource",
    "CameraParams",
    "HandRenderer",
    "RenderConfig",
    "RenderOutput",
    "SceneConfig",
    "augment_images",
    "composite",
    "sample_scene",
]
