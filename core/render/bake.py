"""Bake the smooth hand once into oriented, skinned surface points (the renderer's only geometry).

``bake_hand()`` samples the zero level set of ``HandSDF`` with marching cubes, takes normals
from the distance field's gradient, and stores per point: skinning weights to 17 bones, a part
label (skin, nail, forearm, wrist stub), baked ambient occlusion and a few shading attributes.
The result is cached in memory and as ``~/.cache/dvae-hands/<BAKE_VERSION>-<key>.npz`` (key =
geometry config and rest skeleton; older versions' files are removed), so a process pays the few
seconds of baking once.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from core.hand.joints import finger_joints
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.render.bake_attributes import (
    ambient_occlusion,
    creases_and_redness,
    finger_bone,
    keypoint_depths,
    value_noise_3d,
)
from core.render.hand_sdf import HandGeometryConfig, HandSDF

BAKE_VERSION = "hand-bake-v10"
NUM_BONES = 17  # palm, forearm, then 5 digits x 3 segments
PALM_BONE, FOREARM_BONE = 0, 1
PART_SKIN, PART_NAIL, PART_FOREARM, PART_STUB = 0, 1, 2, 3
WRIST_CUT_Y_MM = -10.0  # below this, points belong to the forearm (or to the closed stub)


def bone_start_joints() -> list[int]:
    """Joint index each bone rotates about (palm and forearm: the wrist)."""
    starts = [0, 0]
    for f in range(5):
        starts += list(finger_joints(f)[:3])
    return starts


def bone_parents() -> list[int]:
    """Parent bone of each bone (-1 for the palm)."""
    parents = [-1, PALM_BONE]
    for f in range(5):
        parents += [PALM_BONE, finger_bone(f, 0), finger_bone(f, 1)]
    return parents


@dataclass(frozen=True)
class BakeConfig:
    """Sampling of the baked surface."""

    geometry: HandGeometryConfig = HandGeometryConfig()
    hand_step_mm: float = 1.3      # marching-cubes cell of the hand: ~ point spacing
    forearm_step_mm: float = 1.9   # the forearm is smooth and mostly off-crop: coarser
    skin_sigma_mm: float = 5.0     # width of the skinning blend at joints
    ao_strength: float = 1.6
    two_sided_below_weight: float = 0.85  # points blended more than this are drawn from both sides


@dataclass
class BakedHand:
    """Baked surface points (N of them), numpy arrays; see the module docstring."""

    positions: np.ndarray    # (N, 3) float32 mm, rest hand frame
    normals: np.ndarray      # (N, 3) float32 unit outward normals
    spacing: np.ndarray      # (N,) float32 mm: square root of the point's share of the surface
    neighbours: np.ndarray   # (N, 3) int64 mesh neighbours whose projected distances size the splat
    part: np.ndarray         # (N,) int8: PART_SKIN / PART_NAIL / PART_FOREARM / PART_STUB
    ao: np.ndarray           # (N,) float32 ambient occlusion in [0, 1] (1 = open)
    palmar: np.ndarray       # (N,) float32 in [0, 1]: on the palm side of hand or finger
    crease: np.ndarray       # (N,) float32 in [0, 1]: on a palm-side flexion crease of a finger
    redness: np.ndarray      # (N,) float32 in [0, 1]: fingertip pads and back of the knuckles
    forearm_mm: np.ndarray   # (N,) float32: distance below the wrist cut (sleeve placement)
    albedo_noise: np.ndarray  # (N,) float32 low-frequency skin variation, ~N(0, 1)
    two_sided: np.ndarray    # (N,) bool: in a skinning blend (folds can turn it away): never culled
    weights: np.ndarray      # (N, 17) float32 skinning weights (rows sum to 1)
    along: np.ndarray        # (N, 17) float32 position along each bone, clamped to [0, rest length]
    rest_joints: np.ndarray  # (21, 3) float32 rest skeleton the points were baked on
    rest_frames: np.ndarray  # (21, 3, 3) float32
    rest_lengths: np.ndarray  # (17,) float32 rest length of each bone (0 for palm and forearm)
    keypoint_depth: np.ndarray  # (21, 96) float32 mm: depth of each keypoint toward fibonacci_directions()

    @property
    def num_points(self) -> int:
        return len(self.positions)


def _rest_skeleton() -> tuple[np.ndarray, np.ndarray]:
    joints, frames = forward_kinematics(torch.zeros(1, 20), mean_hand_shape())
    return joints[0].double().numpy(), frames[0].double().numpy()


def _bone_segments(joints: np.ndarray, geometry: HandGeometryConfig) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Line segments that stand for each bone when measuring skinning distances."""
    palm = [(joints[0], joints[k]) for k in (1, 5, 9, 13, 17)]
    forearm = [(np.array([0.0, -6.0, 0.0]), np.array([0.0, -geometry.forearm_length_mm, 0.0]))]
    segments = [palm, forearm]
    for f in range(5):
        idx = finger_joints(f)
        segments += [[(joints[idx[k]], joints[idx[k + 1]])] for k in range(3)]
    return segments


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / float(ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - a - t[:, None] * ab, axis=1)


def _march(sdf_fn, lo: np.ndarray, hi: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Surface vertices (V, 3), their areas (V,), splat neighbours (V, 2) and faces (F, 3) inside [lo, hi]."""
    from skimage.measure import marching_cubes

    from scipy.ndimage import map_coordinates

    axes = [np.arange(lo[i], hi[i] + step, step) for i in range(3)]
    shape = tuple(len(a) for a in axes)
    # Narrow band: a coarse grid first; only points near its zero level get the exact field.
    coarse_factor = 4
    coarse_axes = [np.arange(lo[i], hi[i] + coarse_factor * step + step, coarse_factor * step) for i in range(3)]
    coarse_grid = np.stack(np.meshgrid(*coarse_axes, indexing="ij"), axis=-1).reshape(-1, 3)
    coarse = sdf_fn(coarse_grid).reshape(tuple(len(a) for a in coarse_axes))
    fine_index = np.stack(np.meshgrid(*[np.arange(n) / coarse_factor for n in shape], indexing="ij"), axis=0)
    volume = map_coordinates(coarse, fine_index.reshape(3, -1), order=1, mode="nearest")
    near = np.abs(volume) < 1.2 * coarse_factor * step
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    volume[near] = sdf_fn(grid[near])
    volume = volume.reshape(shape).astype(np.float32)
    verts, faces, _, _ = marching_cubes(volume, level=0.0, spacing=(step, step, step))
    verts = verts + lo
    tri = verts[faces]
    tri_area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    area = np.zeros(len(verts))
    np.add.at(area, faces.reshape(-1), np.repeat(tri_area / 3.0, 3))
    return verts, area, _splat_neighbours(verts, faces), faces


def _splat_neighbours(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Two mesh neighbours per vertex (V, 2): along its longest edge, and the most across it.

    After posing, the projected distances to them give each point's splat size, which follows
    skin stretched by skinning and foreshortening.
    """
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    vec = verts[edges[:, 1]] - verts[edges[:, 0]]
    length = np.linalg.norm(vec, axis=1)
    first = np.arange(len(verts))
    second = np.arange(len(verts))
    order = np.lexsort((length, edges[:, 0]))  # by vertex, then length: the last per vertex wins
    first[edges[order, 0]] = edges[order, 1]
    along = verts[first[edges[:, 0]]] - verts[edges[:, 0]]
    along /= np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-9)
    across = np.linalg.norm(np.cross(vec, along), axis=1)
    order = np.lexsort((across, edges[:, 0]))
    second[edges[order, 0]] = edges[order, 1]
    return np.stack([first, second], axis=1)


def _gradient_normals(sdf_fn, p: np.ndarray, eps: float = 0.2) -> np.ndarray:
    grad = np.zeros_like(p)
    for axis in range(3):
        offset = np.zeros(3)
        offset[axis] = eps
        grad[:, axis] = sdf_fn(p + offset) - sdf_fn(p - offset)
    return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-9)


def _sample_surface(sdf: HandSDF, config: BakeConfig) -> dict[str, np.ndarray]:
    """Points, normals, spacing, splat neighbours and part of the three regions: hand, forearm, stub."""
    g = config.geometry
    lo, hi = sdf.bounds()
    cut = WRIST_CUT_Y_MM
    r_arm = g.forearm_radius_mm[1] + 4.0
    long_fn = lambda q: sdf.distance(q, forearm=True)  # noqa: E731
    stub_fn = lambda q: sdf.distance(q, forearm=False)  # noqa: E731
    regions = [
        (long_fn, np.array([lo[0], cut - 3.0, lo[2]]), hi, config.hand_step_mm, True, PART_SKIN),
        (long_fn, np.array([-r_arm, -g.forearm_length_mm - r_arm, -r_arm]), np.array([r_arm, cut + 3.0, r_arm]),
         config.forearm_step_mm, False, PART_FOREARM),
        (stub_fn, np.array([-r_arm, -g.stub_length_mm - r_arm, -r_arm]), np.array([r_arm, cut + 3.0, r_arm]),
         config.hand_step_mm, False, PART_STUB),
    ]
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "n", "spacing", "neighbours", "part", "edges")}
    offset = 0
    for fn, rlo, rhi, step, above, part in regions:
        verts, area, neighbours, faces = _march(fn, rlo, rhi, step)
        # The arm regions overlap the hand by half a cell so no seam opens at the cut.
        keep = verts[:, 1] >= cut if above else verts[:, 1] < cut + 0.6 * step
        new_index = np.cumsum(keep) - 1
        kept = np.nonzero(keep)[0]
        neighbours = neighbours[kept]
        neighbours = np.where(keep[neighbours], new_index[neighbours], new_index[kept][:, None]) + offset
        edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        edges = edges[keep[edges].all(axis=1)]
        out["edges"].append(new_index[np.concatenate([edges, edges[:, ::-1]])] + offset)
        verts, area = verts[kept], area[kept]
        out["p"].append(verts)
        out["n"].append(_gradient_normals(fn, verts))
        out["spacing"].append(np.sqrt(np.maximum(area, 1e-6)))
        out["neighbours"].append(neighbours)
        out["part"].append(np.full(len(verts), part, dtype=np.int8))
        offset += len(verts)
    return {k: np.concatenate(v) for k, v in out.items()}


def _blend_neighbour(edges: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The mesh neighbour (N,) whose skinning weights differ most from the point's: skin tears
    across the blend when the two sides' bones turn apart, so that distance must size the splat."""
    difference = np.abs(weights[edges[:, 0]] - weights[edges[:, 1]]).sum(axis=1)
    best = np.arange(len(weights))
    order = np.lexsort((difference, edges[:, 0]))
    best[edges[order, 0]] = edges[order, 1]
    return best


def _skinning(p: np.ndarray, segments, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (N, 17) blended among the nearest bone and its neighbours only, and nearest bone (N,)."""
    dist = np.stack([np.min([_segment_distance(p, a, b) for a, b in segs], axis=0) for segs in segments], axis=1)
    parents = bone_parents()
    allowed = np.eye(NUM_BONES, dtype=bool)
    for j, parent in enumerate(parents):
        if parent >= 0:
            allowed[j, parent] = allowed[parent, j] = True
    nearest = np.argmin(dist, axis=1)
    logits = -(dist**2) / (2.0 * sigma**2)
    logits = np.where(allowed[nearest], logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    w[w < 1e-3] = 0.0
    return w / w.sum(axis=1, keepdims=True), nearest


def _bake(config: BakeConfig) -> BakedHand:
    joints, frames = _rest_skeleton()
    sdf = HandSDF(joints, frames, config.geometry)
    surface = _sample_surface(sdf, config)
    p, n, part = surface["p"], surface["n"], surface["part"]
    segments = _bone_segments(joints, config.geometry)
    weights, nearest = _skinning(p, segments, config.skin_sigma_mm)
    neighbours = np.concatenate([surface["neighbours"], _blend_neighbour(surface["edges"], weights)[:, None]], axis=1)

    starts = bone_start_joints()
    rest_lengths = np.zeros(NUM_BONES)
    along = np.zeros((len(p), NUM_BONES))
    for f in range(5):
        idx = finger_joints(f)
        for k in range(3):
            j = finger_bone(f, k)
            axis = joints[idx[k + 1]] - joints[idx[k]]
            rest_lengths[j] = np.linalg.norm(axis)
            along[:, j] = np.clip((p - joints[starts[j]]) @ (axis / rest_lengths[j]), 0.0, rest_lengths[j])

    # Occlusion from the palm and the point's own finger only: other fingers move.
    finger_of = np.where(nearest >= 2, (nearest - 2) // 3, -1)
    ao = np.ones(len(p))
    for f in range(-1, 5):
        sel = finger_of == f
        for stub in (False, True):
            sub = sel & ((part == PART_STUB) == stub)
            only = None if f < 0 else f
            fn = lambda q, o=only, s=stub: sdf.distance(q, forearm=not s, only_finger=o)  # noqa: E731
            ao[sub] = ambient_occlusion(fn, p[sub], n[sub], config.ao_strength)

    # Palm side: +z of the nearest bone's frame (the thumb is pronated), the hand frame elsewhere.
    local_z = np.where(
        nearest[:, None] >= 2, frames[np.array(starts)[nearest], :, 2], np.array([0.0, 0.0, 1.0])
    )
    nz = np.sum(n * local_z, axis=1)
    palmar = np.clip((nz + 0.35) / 0.8, 0.0, 1.0)
    palmar = palmar * palmar * (3 - 2 * palmar)
    crease, redness = creases_and_redness(p, joints, weights, palmar)

    # Nails: a rounded patch on the back of each distal segment.
    for f in range(5):
        idx = finger_joints(f)
        j = finger_bone(f, 2)
        sel = np.nonzero(nearest == j)[0]
        local = (p[sel] - joints[idx[2]]) @ frames[idx[2]]
        n_local = n[sel] @ frames[idx[2]]
        length = np.linalg.norm(joints[idx[3]] - joints[idx[2]])
        r_tip = config.geometry.finger_radii_mm[f][3]
        y0, y1 = 0.36 * length, length - 0.45 * r_tip
        u = local[:, 0] / (0.74 * r_tip)
        v = (local[:, 1] - 0.5 * (y0 + y1)) / (0.5 * (y1 - y0))
        is_nail = (np.abs(u) ** 3 + np.abs(v) ** 3 < 1.0) & (n_local[:, 2] < -0.3) & (local[:, 2] < 0)
        part[sel[is_nail]] = PART_NAIL

    return BakedHand(
        positions=p.astype(np.float32),
        normals=n.astype(np.float32),
        spacing=surface["spacing"].astype(np.float32),
        neighbours=neighbours.astype(np.int64),
        part=part,
        two_sided=weights.max(axis=1) < config.two_sided_below_weight,
        ao=ao.astype(np.float32),
        palmar=palmar.astype(np.float32),
        forearm_mm=np.clip(WRIST_CUT_Y_MM - p[:, 1], 0.0, None).astype(np.float32),
        albedo_noise=value_noise_3d(p, 22.0, seed=7).astype(np.float32),
        crease=crease.astype(np.float32),
        redness=redness.astype(np.float32),
        weights=weights.astype(np.float32),
        along=along.astype(np.float32),
        rest_joints=joints.astype(np.float32),
        rest_frames=frames.astype(np.float32),
        rest_lengths=rest_lengths.astype(np.float32),
        keypoint_depth=keypoint_depths(sdf, joints, frames).astype(np.float32),
    )


def bake_key(config: BakeConfig) -> str:
    """Cache key: bake version, config and the rest skeleton (a retuned mean hand re-bakes)."""
    joints, frames = _rest_skeleton()
    h = hashlib.sha1()
    h.update(BAKE_VERSION.encode())
    h.update(repr(config).encode())
    h.update(np.round(joints, 3).tobytes())
    h.update(np.round(frames, 4).tobytes())
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    """``$DVAE_HANDS_CACHE`` or ``~/.cache/dvae-hands``."""
    return Path(os.environ.get("DVAE_HANDS_CACHE", Path.home() / ".cache" / "dvae-hands"))


_MEMORY_CACHE: dict[str, BakedHand] = {}


def bake_hand(config: BakeConfig = BakeConfig(), cache_dir: Path | None = None, use_disk: bool = True) -> BakedHand:
    """The baked hand for ``config``: from memory, else from the disk cache, else baked (seconds)."""
    key = bake_key(config)
    if key in _MEMORY_CACHE:
        return _MEMORY_CACHE[key]
    folder = cache_dir or default_cache_dir()
    path = folder / f"{BAKE_VERSION}-{key}.npz"
    baked = None
    if use_disk and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                baked = BakedHand(**{f.name: data[f.name] for f in fields(BakedHand)})
        except (OSError, KeyError, ValueError):
            baked = None  # a partial or stale file: bake again
    if baked is None:
        baked = _bake(config)
        if use_disk:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
                np.savez(tmp, **{f.name: getattr(baked, f.name) for f in fields(BakedHand)})
                os.replace(tmp, path)
                for stale in folder.glob("hand-bake-*.npz"):  # bakes of older versions
                    if not stale.name.startswith(BAKE_VERSION + "-"):
                        stale.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only home still renders, it just bakes per process
    _MEMORY_CACHE[key] = baked
    return baked
