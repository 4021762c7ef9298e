"""Poses that travel: the edited hand in the formats image-generation pipelines read, and back.

- ``core.export.pose_file``: the project's own pose JSON (21 joints, mm).
- ``core.export.maps``: ``PosedHand``, the training-crop framing of a canvas, and depth / mask
  maps rendered by ``core.render``.
- ``core.export.openpose``: OpenPose hand JSON (read and write) and the ControlNet-style skeleton.
- ``core.export.lift``: 2D OpenPose keypoints -> 3D hand (dVAE pose prior, then IK).
- ``core.export.bundle``: all exported files of one pose, written together.
"""
