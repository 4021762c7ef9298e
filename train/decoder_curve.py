"""``python -m train.decoder_curve`` moved to ``python -m train.evaluate.decoder_curve``; the old name keeps working."""
from train.moved import run_moved

if __name__ == "__main__":
    run_moved("train.decoder_curve", "train.evaluate.decoder_curve")
