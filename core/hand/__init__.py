"""The hand model: joint orders, kinematics, limits, shapes, canonical frame, sampling, IK.

- ``joints``: the internal 21-joint order and dataset converters.
- ``kinematics``: the one forward kinematics (angles (B, 20) -> joints (B, 21, 3) mm), mean hand.
- ``limits``: anatomical ranges of the 20 angles, ``clamp_angles``, ``within_limits``.
- ``shape``: random adult hand shapes and skeleton measurements (bone lengths, proportions).
- ``canonical``: canonical pose / viewpoint / scale / root split and 6D rotations.
- ``gestures``: named gesture presets; ``sampling``: seeded pose, viewpoint, handedness samplers.
- ``ik``: keypoint fitting (``fit_angles``) and interactive joint dragging (``drag_joint``).
"""
