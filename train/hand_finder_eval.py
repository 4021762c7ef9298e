"""``python -m train.hand_finder_eval`` moved to ``python -m train.hand_finder.eval``; the old name keeps working."""
from train.moved import run_moved

if __name__ == "__main__":
    run_moved("train.hand_finder_eval", "train.hand_finder.eval")
