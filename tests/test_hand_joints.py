"""Joint-order converters: round trips and the datasets' documented orders."""
import numpy as np

from core.hand import joints as J


def _labelled() -> np.ndarray:
    """Keypoints whose x coordinate is the internal joint index."""
    points = np.zeros((2, J.NUM_JOINTS, 3))
    points[..., 0] = np.arange(J.NUM_JOINTS)
    points[1, :, 1] = 5.0
    return points


def test_rhd_round_trip_and_finger_order_is_tip_to_mcp():
    internal = _labelled()
    rhd = J.to_rhd(internal)
    np.testing.assert_array_equal(J.from_rhd(rhd), internal)
    # RHD: wrist, then thumb tip, IP, MCP, CMC, then index tip .. MCP, ...
    assert rhd[0, 0, 0] == J.WRIST
    assert rhd[0, 1, 0] == J.FINGER_TIPS[0]
    assert rhd[0, 4, 0] == 1  # thumb CMC last in its group
    assert rhd[0, 5, 0] == J.FINGER_TIPS[1]
    assert rhd[0, 8, 0] == 5  # index MCP
    assert rhd[0, 20, 0] == J.PINKY_MCP


def test_stb_palm_becomes_wrist_and_fingers_run_pinky_first():
    rng = np.random.default_rng(0)
    internal = rng.normal(size=(3, J.NUM_JOINTS, 3)) * 50
    stb = J.to_stb(internal)
    np.testing.assert_allclose(stb[:, 0], 0.5 * (internal[:, J.WRIST] + internal[:, J.MIDDLE_MCP]))
    np.testing.assert_allclose(stb[:, 1], internal[:, J.PINKY_MCP])  # pinky base first
    np.testing.assert_allclose(stb[:, 20], internal[:, J.FINGER_TIPS[0]])  # thumb tip last
    np.testing.assert_allclose(J.from_stb(stb), internal, atol=1e-9)


def test_freihand_order_is_internal_and_mirror_flips_x_only():
    internal = _labelled()
    np.testing.assert_array_equal(J.from_freihand(internal), internal)
    mirrored = J.mirror_x(internal)
    np.testing.assert_array_equal(mirrored[..., 0], -internal[..., 0])
    np.testing.assert_array_equal(mirrored[..., 1:], internal[..., 1:])


def test_parents_form_one_tree_rooted_at_wrist():
    for joint in range(1, J.NUM_JOINTS):
        steps, node = 0, joint
        while node != J.WRIST:
            node = J.PARENTS[node]
            steps += 1
            assert steps <= 4
    assert J.JOINT_NAMES[J.MIDDLE_PIP] == "middle_pip"
