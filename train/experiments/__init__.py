"""The experiments of docs/results.md: ``python -m train.experiments`` (``run.main``).

- ``run``: the command line and the order of the experiments (``Experiments``, ``ExperimentConfig``);
- ``data``: which seeds train and test, the labelled / weak / unlabelled splits, the sources;
- ``training``: trains the dVAE and the two baselines at an equal budget;
- ``probe``: pose errors, content and latent-block swaps, synthesis fidelity;
- ``breakdown``: pose errors split by viewpoint and finger;
- ``figures``: the pictures; ``report``: ``results.md`` from the numbers.

This package imports nothing itself, so ``train.evaluate.synthetic`` can use ``data`` and ``breakdown``
while ``run`` uses ``train.evaluate.synthetic``.
"""
