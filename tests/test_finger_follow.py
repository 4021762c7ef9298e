"""The README's finger-follow figure is drawn by one command from any model."""
from __future__ import annotations

import pytest

from core.api import HandModel
from tests.model_builders import pose_guided_config
from train.evaluate import finger_follow

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_figure_has_a_synthesis_and_a_skeleton_row_per_step():
    model = HandModel.untrained(pose_guided_config())
    image = finger_follow.figure(model, tile=48)
    assert image.shape == (96, 48 * len(finger_follow.STEPS), 3)
    # the skeleton row differs from the synthesis row only where the skeleton is drawn
    changed = (image[48:].astype(int) - image[:48].astype(int)).any(-1).mean()
    assert 0.02 < changed < 0.5


def test_the_steps_curl_the_fingers_they_name():
    keypoints = finger_follow.requested_keypoints(32)
    wrist_to_tip = (keypoints[:, [8, 12, 16, 20]] - keypoints[:, :1]).norm(dim=-1)  # index..little tips
    open_hand, index_curled, ring_little = wrist_to_tip[0], wrist_to_tip[1], wrist_to_tip[3]
    assert index_curled[0] < 0.8 * open_hand[0] and abs(float(index_curled[1] - open_hand[1])) < 1.0
    assert (ring_little[2:] < 0.8 * open_hand[2:]).all() and (ring_little[:2] - open_hand[:2]).abs().max() < 1.0
