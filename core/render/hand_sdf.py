"""A smooth signed-distance hand at the rest pose, built from the rest skeleton (numpy, bake time only).

The surface is a smooth union of round cones (fingers, thumb, thenar mass, forearm) and a
rounded palm slab whose outline follows the knuckles. Everything is placed relative to the
rest joints of ``core.hand.kinematics.forward_kinematics`` (angles 0, ``mean_hand_shape``), so
the geometry follows the mean hand if the skeleton is retuned. Hand frame: x toward the thumb,
y toward the fingers, z out of the palm; millimetres. Distances are approximate (elliptic
cross-sections, smooth blends) but their zero level set and gradient are what the bake needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.hand.joints import finger_joints

# (base, 2nd, 3rd, tip) half-widths in mm per digit (thumb: CMC, MCP, IP, tip).
_RADII_MM = (
    (11.0, 10.0, 9.2, 8.0),
    (9.8, 8.9, 7.8, 7.0),
    (10.1, 9.2, 8.0, 7.2),
    (9.5, 8.6, 7.5, 6.8),
    (8.4, 7.6, 6.7, 6.0),
)


@dataclass(frozen=True)
class HandGeometryConfig:
    """Shape parameters of the baked hand (mm unless stated)."""

    finger_radii_mm: tuple[tuple[float, float, float, float], ...] = _RADII_MM
    finger_depth_ratio: float = 0.86   # palmar-dorsal thickness / width of a finger
    finger_blend_mm: float = 2.5       # smooth-min radius between a finger's segments
    web_blend_mm: float = 7.0          # finger -> palm blend (webs between fingers)
    wrist_half_width_mm: float = 25.0
    palm_half_thickness_wrist_mm: float = 14.5
    palm_half_thickness_knuckles_mm: float = 11.5
    palm_rounding_mm: float = 9.0
    palm_palmar_offset_mm: float = 1.5  # the palm's pads make it thicker on the palm side
    thenar_radius_mm: tuple[float, float] = (15.0, 11.0)
    thenar_blend_mm: float = 10.0
    forearm_radius_mm: tuple[float, float] = (27.0, 33.0)  # at the wrist, at forearm_length_mm
    forearm_depth_ratio: float = 0.68
    forearm_length_mm: float = 230.0
    forearm_blend_mm: float = 14.0
    stub_length_mm: float = 24.0        # the closed wrist end drawn when the forearm is hidden


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of two distance fields, blend radius ``k`` mm."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(k - np.abs(a - b), 0.0, None) / k
    return np.minimum(a, b) - h * h * k * 0.25


def round_cone(p: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> np.ndarray:
    """Distance (N,) from points p (N, 3) to a cone from sphere (a, ra) to sphere (b, rb)."""
    ba = b - a
    l2 = float(ba @ ba)
    rr = ra - rb
    a2 = l2 - rr * rr
    pa = p - a
    y = pa @ ba
    z = y - l2
    x2 = np.sum((pa * l2 - y[:, None] * ba) ** 2, axis=1)
    y2 = y * y * l2
    z2 = z * z * l2
    k = np.sign(rr) * rr * rr * x2
    d_b = np.sqrt(x2 + z2) / l2 - rb
    d_a = np.sqrt(x2 + y2) / l2 - ra
    d_side = (np.sqrt(np.maximum(x2 * a2 / l2, 0.0)) + y * rr) / l2 - ra
    return np.where(np.sign(z) * a2 * z2 > k, d_b, np.where(np.sign(y) * a2 * y2 < k, d_a, d_side))


def flat_round_cone(
    p: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float, frame: np.ndarray, depth_ratio: float
) -> np.ndarray:
    """``round_cone`` with an elliptic cross-section: local z of ``frame`` (3, 3) squashed by depth_ratio."""
    local = (p - a) @ frame
    local[:, 2] /= depth_ratio
    axis = (b - a) @ frame
    return round_cone(local, np.zeros(3), axis, ra, rb)


def polygon_2d(p: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Signed distance (N,) from points p (N, 2) to a closed polygon (V, 2); negative inside."""
    d = np.sum((p - vertices[0]) ** 2, axis=1)
    sign = np.ones(len(p))
    j = len(vertices) - 1
    for i in range(len(vertices)):
        e = vertices[j] - vertices[i]
        w = p - vertices[i]
        t = np.clip((w @ e) / float(e @ e), 0.0, 1.0)
        b = w - t[:, None] * e
        d = np.minimum(d, np.sum(b * b, axis=1))
        c1 = p[:, 1] >= vertices[i, 1]
        c2 = p[:, 1] < vertices[j, 1]
        c3 = e[0] * w[:, 1] > e[1] * w[:, 0]
        flip = (c1 & c2 & c3) | (~c1 & ~c2 & ~c3)
        sign = np.where(flip, -sign, sign)
        j = i
    return sign * np.sqrt(d)


class HandSDF:
    """Distance field of the rest-pose hand; call ``distance(points, forearm=...)``.

    joints: (21, 3) rest joints, frames: (21, 3, 3) rest bone frames (columns = local axes).
    ``forearm=True`` adds the long forearm, ``False`` a short closed wrist stub.
    ``only_finger=f`` (0..4) keeps the palm, thenar and forearm but only finger f: used to bake
    ambient occlusion that does not depend on where the other fingers are.
    """

    def __init__(self, joints: np.ndarray, frames: np.ndarray, config: HandGeometryConfig = HandGeometryConfig()):
        self.joints = np.asarray(joints, dtype=np.float64)
        self.frames = np.asarray(frames, dtype=np.float64)
        self.config = config
        self._build_palm()

    def _build_palm(self) -> None:
        c, j = self.config, self.joints
        thumb_cmc, index, middle, ring, pinky = (j[k] for k in (1, 5, 9, 13, 17))
        r = c.finger_radii_mm
        w = c.wrist_half_width_mm
        self.palm_outline = np.array(
            [
                (-w, -8.0),
                (w, -8.0),
                (thumb_cmc[0] + 3.0, thumb_cmc[1] + 4.0),
                (index[0] + r[1][0] * 0.9, index[1] - 6.0),
                (index[0], index[1] + 2.0),
                (middle[0], middle[1] + 2.0),
                (ring[0], ring[1] + 2.0),
                (pinky[0] - 1.0, pinky[1] + 1.0),
                (pinky[0] - r[4][0] * 0.9, pinky[1] - 8.0),
                (pinky[0] - r[4][0] * 0.7, 0.45 * pinky[1]),
            ]
        )
        # Mid-surface of the palm slab: the least-squares plane through the wrist and the MCPs.
        pts = np.stack([j[0], index, middle, ring, pinky])
        design = np.stack([pts[:, 0], pts[:, 1], np.ones(len(pts))], axis=1)
        self.palm_plane = np.linalg.lstsq(design, pts[:, 2], rcond=None)[0]
        self.knuckle_y = float(middle[1])

    def palm(self, p: np.ndarray) -> np.ndarray:
        """Rounded slab (N,) through the knuckles, thicker at the wrist and on the palm side."""
        c = self.config
        d2 = polygon_2d(p[:, :2], self.palm_outline)
        t = np.clip(p[:, 1] / self.knuckle_y, 0.0, 1.0)
        half = c.palm_half_thickness_wrist_mm + (c.palm_half_thickness_knuckles_mm - c.palm_half_thickness_wrist_mm) * t
        mid = p[:, 0] * self.palm_plane[0] + p[:, 1] * self.palm_plane[1] + self.palm_plane[2] + c.palm_palmar_offset_mm
        dz = np.abs(p[:, 2] - mid) - half
        rr = c.palm_rounding_mm
        q = np.stack([d2 + rr, dz + rr], axis=1)
        return np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0) - rr

    def finger(self, p: np.ndarray, f: int) -> np.ndarray:
        """Digit f's three segments (N,), blended; the tip keypoint on the surface."""
        c = self.config
        idx = finger_joints(f)
        radii = c.finger_radii_mm[f]
        d = None
        for k in range(3):
            a, b = self.joints[idx[k]], self.joints[idx[k + 1]]
            ra, rb = radii[k], radii[k + 1]
            if k == 2:  # the tip keypoint lies on the surface: end the cone one radius short
                direction = (b - a) / np.linalg.norm(b - a)
                b = b - direction * rb
            seg = flat_round_cone(p, a, b, ra, rb, self.frames[idx[k]], c.finger_depth_ratio)
            d = seg if d is None else smooth_min(d, seg, c.finger_blend_mm)
        return d

    def thenar(self, p: np.ndarray) -> np.ndarray:
        """The thumb's muscle mass between its metacarpal and the palm, palm side."""
        c = self.config
        cmc, mcp = self.joints[1], self.joints[2]
        start = np.array([0.45 * cmc[0], 0.35 * cmc[1], 0.45 * cmc[2]])
        end = cmc + 0.55 * (mcp - cmc) + np.array([-6.0, -2.0, -5.0])
        return round_cone(p, start, end, *c.thenar_radius_mm)

    def thumb_web(self, p: np.ndarray) -> np.ndarray:
        """The skin between the thumb and the index knuckle: a fold from the thumb's first
        phalanx to the index knuckle, and a fuller sheet under it down to the thenar mass."""
        cmc, mcp, ip, index = self.joints[1], self.joints[2], self.joints[3], self.joints[5]
        fold = round_cone(p, mcp + 0.25 * (ip - mcp), index + np.array([2.0, -12.0, 4.0]), 5.5, 6.5)
        sheet = round_cone(p, cmc + 0.75 * (mcp - cmc), index + np.array([-2.0, -22.0, 6.0]), 9.0, 8.0)
        return smooth_min(fold, sheet, 6.0)

    def forearm(self, p: np.ndarray, long: bool) -> np.ndarray:
        """Elliptic forearm (N,) down -y from the wrist; ``long=False``: the closed wrist stub."""
        c = self.config
        top = np.array([0.0, 14.0, 0.0])
        length = c.forearm_length_mm if long else c.stub_length_mm
        r0, r1 = c.forearm_radius_mm
        # The stub keeps the long forearm's taper so both agree above the cut.
        r_end = r0 + (r1 - r0) * (length + top[1]) / (c.forearm_length_mm + top[1])
        bottom = np.array([0.0, -length, 0.0])
        return flat_round_cone(p, top, bottom, r0, r_end, np.eye(3), c.forearm_depth_ratio)

    def distance(self, p: np.ndarray, forearm: bool = True, only_finger: int | None = None) -> np.ndarray:
        """Signed distance (N,) mm at points p (N, 3) in the rest hand frame."""
        c = self.config
        p = np.asarray(p, dtype=np.float64)
        body = smooth_min(self.palm(p), self.forearm(p, forearm), c.forearm_blend_mm)
        body = smooth_min(body, self.thenar(p), c.thenar_blend_mm)
        fingers = range(5) if only_finger is None else (only_finger,)
        for f in fingers:
            k = c.thenar_blend_mm if f == 0 else c.web_blend_mm
            body = smooth_min(body, self.finger(p, f), k)
        if only_finger in (None, 0):
            body = smooth_min(body, self.thumb_web(p), c.web_blend_mm)
        return body

    def bounds(self, margin: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box (lo, hi) of the hand without the forearm, mm."""
        r = max(max(x) for x in self.config.finger_radii_mm)
        lo = self.joints.min(axis=0) - r - margin
        hi = self.joints.max(axis=0) + r + margin
        lo[2] = min(lo[2], -self.config.palm_half_thickness_wrist_mm - margin)
        hi[2] = max(hi[2], self.config.palm_half_thickness_wrist_mm + margin)
        w = self.config.forearm_radius_mm[1] + margin
        lo[0], hi[0] = min(lo[0], -w), max(hi[0], w)
        return lo, hi
