"""``python -m train.experiments``: see ``train.experiments.run``."""
from __future__ import annotations

import sys

from train.experiments.run import main

if __name__ == "__main__":
    sys.exit(main())
