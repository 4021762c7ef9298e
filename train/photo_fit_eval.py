"""``python -m train.photo_fit_eval`` moved to ``python -m train.evaluate.photo_fit``; the old name keeps working."""
from train.moved import run_moved

if __name__ == "__main__":
    run_moved("train.photo_fit_eval", "train.evaluate.photo_fit")
