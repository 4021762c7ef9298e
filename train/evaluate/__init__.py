"""Evaluation: every measurement the report (docs/results.md) holds.

    python -m train.evaluate ...                      synthetic pose benchmark against the peers (``synthetic``)
    python -m train.evaluate.real ...                 3D pose on the fixture photos
    python -m train.evaluate.photo_fit ...            the landmark fit against MediaPipe and the encoder
    python -m train.evaluate.judge ...                train the 2D keypoint judge of the syntheses
    python -m train.evaluate.decoder_ablation ...     decoder variants: grid, judge, transfer, sheets
    python -m train.evaluate.decoder_curve RUN ...    a decoder run's curve over its checkpoints
    python -m train.evaluate.finger_follow ...        the finger-follow figure
    python -m train.evaluate.mediapipe_calibration .. MediaPipe's depth scale on labelled photos
"""
