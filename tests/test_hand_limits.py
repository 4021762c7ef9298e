"""Joint limits: the documented ranges, clamping and the range check."""
import math

import pytest
import torch

from core.hand.limits import ANGLE_LOWER, ANGLE_NAMES, ANGLE_UPPER, clamp_angles, within_limits


def _deg(name: str) -> tuple[float, float]:
    i = ANGLE_NAMES.index(name)
    return round(math.degrees(ANGLE_LOWER[i].item())), round(math.degrees(ANGLE_UPPER[i].item()))


def test_documented_ranges():
    for finger in ("index", "middle", "ring", "pinky"):
        assert _deg(f"{finger}_mcp_flex") == (-20, 90)
        assert _deg(f"{finger}_mcp_abd") == (-15, 15)
        assert _deg(f"{finger}_pip_flex") == (0, 110)
        assert _deg(f"{finger}_dip_flex") == (0, 90)
    assert _deg("thumb_mcp_flex") == (0, 50)
    assert _deg("thumb_ip_flex") == (0, 80)
    assert _deg("thumb_cmc_abd")[0] == -70  # palmar abduction up to 70 deg is negative
    assert len(ANGLE_NAMES) == 20 and bool((ANGLE_LOWER < ANGLE_UPPER).all())


def test_clamp_brings_any_angles_within_limits_and_keeps_valid_ones():
    wild = torch.randn(500, 20, dtype=torch.float64) * 3
    clamped = clamp_angles(wild)
    assert clamped.dtype == torch.float64
    assert bool(within_limits(clamped).all())
    inside = (wild >= ANGLE_LOWER.double()) & (wild <= ANGLE_UPPER.double())
    assert torch.equal(clamped[inside], wild[inside])


def test_within_limits_flags_each_pose():
    poses = torch.zeros(3, 20)
    poses[1, 6] = math.radians(120)  # index PIP past 110
    poses[2, 4] = math.radians(-20.5)  # index MCP hyperextended past -20
    assert within_limits(poses).tolist() == [True, False, False]
    assert bool(within_limits(poses[2], tol=math.radians(1)))


def test_wrong_layout_is_named():
    with pytest.raises(ValueError, match="clamp_angles"):
        clamp_angles(torch.zeros(2, 21))
