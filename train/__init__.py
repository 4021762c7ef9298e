"""Trainers, data generation, evaluation and benchmarks: the command-line side of the project.

libgomp's worker threads spin while they wait for work, which on a machine shared with other
processes makes torch several times slower (docs/development.md, "Measurements behind the
rules"); passive waiting costs little on an idle machine, so it is the setting here.
The setting only takes effect before torch loads, which for ``python -m train.*`` is here; a
value the user exported wins.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
