"""``python -m train.hand_finder``: train the hand finder (``train.hand_finder.training``)."""

from train.hand_finder.training import main

raise SystemExit(main())
