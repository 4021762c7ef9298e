"""A latent value beyond a slider's range (an estimate from a photo can lie there) is not pinned
at the slider's end without a sign: its readout shows the value, marked, with a tooltip."""
from __future__ import annotations

import numpy as np

from app.state import LATENT_RANGE
from tests.app_helpers import settle


def test_values_beyond_the_sliders_range_are_marked(window, qtbot):
    session, panel = window.session, window.latent_panel
    z = np.zeros(session.latent.dim)
    z[0], z[1] = LATENT_RANGE + 1.5, -1.0
    session.latent.set(z, "estimate")
    settle(qtbot, window)
    slider, readout = panel.sliders[0], panel._readouts[0]
    assert slider.value() == slider.maximum()                     # pinned at its end...
    assert readout.text().startswith("+4.50") and "›" in readout.text()   # ...and said so
    assert "beyond the slider's range" in readout.toolTip() and readout.styleSheet()
    assert panel._readouts[1].text() == "-1.00" and not panel._readouts[1].toolTip()
    z[0] = 1.0
    session.latent.set(z, "estimate")
    settle(qtbot, window)
    assert readout.text() == "+1.00" and not readout.toolTip() and not readout.styleSheet()
