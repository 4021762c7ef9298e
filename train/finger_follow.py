"""``python -m train.finger_follow`` moved to ``python -m train.evaluate.finger_follow``; the old name keeps working."""
from train.moved import run_moved

if __name__ == "__main__":
    run_moved("train.finger_follow", "train.evaluate.finger_follow")
