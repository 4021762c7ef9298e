"""Trainers, data generation, evaluation and benchmarks: the command-line side of the project.

libgomp's worker threads spin while they wait for work. On a 2-core machine shared with other
processes that made torch 4-8x slower here (a training step: 5-6 s spinning vs 1.2-1.5 s
passive; the renderer: 6-11 vs 48 images/s); passive waiting costs little on an idle machine.
The setting only takes effect before torch loads, which for ``python -m train.*`` is here; a
value the user exported wins.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
