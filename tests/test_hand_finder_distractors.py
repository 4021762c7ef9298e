"""The things that are not hands in the finder's composites: faces, lights, skin shapes."""
from __future__ import annotations

import numpy as np

from train.hand_finder.distractors import distractor, face_photos, lights, person, skin_shape


def _canvas(value: float = 0.5) -> np.ndarray:
    return np.full((96, 96, 3), value, np.float32)


def test_the_bundled_face_photos_are_read():
    faces = face_photos()
    assert faces.shape == (100, 25, 25) and faces.dtype == np.float32
    assert 0.0 <= faces.min() and faces.max() <= 1.0 and faces.std() > 0.1


def test_a_person_is_painted_in_place_and_stays_in_range():
    for seed in range(4):
        image = _canvas()
        person(image, np.random.default_rng(seed))
        changed = np.abs(image - 0.5).max(2) > 0.02
        assert changed.sum() > 20, "nothing painted"
        assert 0.0 <= image.min() and image.max() <= 1.0


def test_lights_are_bright_and_stay_in_range():
    for seed in range(6):
        image = _canvas(0.3)
        lights(image, np.random.default_rng(seed))
        assert image.max() > 0.85 and 0.0 <= image.min() and image.max() <= 1.0


def test_distractors_are_deterministic_for_a_seed_and_skin_shapes_paint():
    images = []
    for _ in range(2):
        image = _canvas()
        rng = np.random.default_rng(7)
        for _ in range(12):
            distractor(image, rng)
        images.append(image)
    assert np.array_equal(images[0], images[1])
    image = _canvas()
    skin_shape(image, np.random.default_rng(1))
    assert np.abs(image - 0.5).max() > 0.05
