"""``python -m train.evaluate``: the synthetic pose benchmark (``train.evaluate.synthetic``)."""

from train.evaluate.synthetic import main

raise SystemExit(main())
