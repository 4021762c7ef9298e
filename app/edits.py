"""What each widget asks for: small bundles of callables, built by ``app.session.Session``.

A widget is given the state object it shows (``app.state``, ``app.transfer``) and one of these
for what the user asks of it, never the ``Session`` itself (napari's layer -> layer controls
pattern): so a widget can be built, and read, knowing only what it displays. No Qt here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from app.events import Signal
from app.model_service import ModelService
from app.state import MessageLog


@dataclass(frozen=True)
class LatentEdits:
    """The latent panel's and the walk player's requests."""

    commit: Callable[..., None]                   # (label, run=None): the latent now becomes one undo step;
                                                  # steps of one run in a row are one (History.record)
    randomise: Callable[[str | None], None]       # draw one block (None: all) from the prior; one undo step
    reset: Callable[[], None]                     # all zeros (the prior mean); one undo step
    interpolate: Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (steps, D) latents from a to b


@dataclass(frozen=True)
class PoseEdits:
    """The 3D pose dock's requests (each re-synthesises the image)."""

    drag_joint: Callable[[int, np.ndarray], None]  # joint index, target (3,) mm, camera frame
    end_drag: Callable[[], None]
    turn_hand: Callable[[np.ndarray, str], None]   # rotation (3, 3), camera frame; undo label
    apply_preset: Callable[[str], None]            # a gesture name of app.hand_pose.PRESET_NAMES
    set_left_hand: Callable[[bool], None]


@dataclass(frozen=True)
class TransferEdits:
    """The transfer panel's requests; the source kinds and swapping are ``TransferState``'s own."""

    new_sample: Callable[[str], None]  # slot "A" / "B": draw its random sample again
    keep: Callable[[str], None]        # slot: keep what it shows now
    update: Callable[[], None]         # recompute A, B and the result
    export: Callable[[], object]       # ask for a file and save A | B | result


@dataclass(frozen=True)
class ModelInUse:
    """What the Train dialog knows of the app's model: its file, when it changes, how to switch."""

    path: Callable[[], Path | None]       # the model's file; None for an untrained model
    changed: Signal                       # emits (description) after a switch
    switch: Callable[[ModelService], None]
    messages: MessageLog
