"""``python -m train.decoder_ablation`` moved to ``python -m train.evaluate.decoder_ablation``; the old name keeps working."""
from train.moved import run_moved

if __name__ == "__main__":
    run_moved("train.decoder_ablation", "train.evaluate.decoder_ablation")
