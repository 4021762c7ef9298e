"""``python -m train.mediapipe_calibration`` moved to ``python -m train.evaluate.mediapipe_calibration``; the old name keeps working."""
from train.moved import run_moved

if __name__ == "__main__":
    run_moved("train.mediapipe_calibration", "train.evaluate.mediapipe_calibration")
