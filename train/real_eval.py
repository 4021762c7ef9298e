"""``python -m train.real_eval`` moved to ``python -m train.evaluate.real``; the old name keeps working."""
from train.moved import run_moved

if __name__ == "__main__":
    run_moved("train.real_eval", "train.evaluate.real")
