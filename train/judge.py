"""``python -m train.judge`` moved to ``python -m train.evaluate.judge``; the old name keeps working."""
from train.moved import run_moved

if __name__ == "__main__":
    run_moved("train.judge", "train.evaluate.judge")
