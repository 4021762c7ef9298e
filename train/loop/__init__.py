"""The training loop and its parts: the trainer (``train.loop.trainer``), its hooks (progress,
checkpoints, the sample grid), the optimiser and schedule, supervision masks, the data sources it
draws from, saving and resuming its state, and several processes (``torchrun``)."""
