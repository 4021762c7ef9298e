"""The hand finder's training and evaluation (the finder itself is ``core.finder``).

    python -m train.hand_finder ...        train it (``train.hand_finder.training``)
    python -m train.hand_finder.eval ...   measure it on the fixture photos and on composites
"""
