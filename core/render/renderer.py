"""``HandRenderer``: batched, labelled hand renders in pure torch (one code path for CPU and CUDA).

Bake once, splat per sample: the smooth hand is baked into skinned surface points
(``core.render.bake``); each batch poses them with one matrix multiply, frames the keypoints with
a virtual camera, drops back faces, z-buffers the points into 2x2 supersampled pixels with one
``scatter_reduce``, shades them and averages down. The output is premultiplied colour plus
coverage, so one render composites over any number of backgrounds (``composite``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from core.hand.kinematics import HandShape
from core.render.bake import PART_FOREARM, PART_STUB, BakeConfig, BakedHand, bake_hand
from core.render.bake_attributes import fibonacci_directions
from core.render.camera import CameraParams, place_camera, project
from core.render.shading import Appearance, ShadingConfig, shade_points
from core.render.skinning import SkinningFeatures, pose_bones, skin_points
from core.render.splat import Workspace, splat_points

@dataclass(frozen=True)
class RenderConfig:
    """How the renderer samples images."""

    size: int = 128                 # output crop side, pixels
    supersample: int = 2            # s x s samples per pixel (anti-aliased edges)
    bake: BakeConfig | None = None  # None: point spacing chosen for ``size`` (see bake_for_size)
    shading: ShadingConfig = field(default_factory=ShadingConfig)
    splat_stretch: float = 1.1      # splat side / projected distance to the farther mesh neighbour
    blend_stretch: float = 1.0      # extra splat size per unit of skinning blend (1 - largest weight)
    max_splat_px: int = 6           # largest patch side in supersampled pixels (the fill adds 2)
    fill_radius_px: int = 1         # image-space minimum filter that grows every splat (cheap)
    near_mm: float = 20.0           # points closer than this to the camera are dropped
    backface_tolerance: float = 0.12  # keep points facing slightly away: solid silhouettes
    visibility_margin_mm: float = 3.0  # on top of each keypoint's baked depth under its surface


@dataclass
class RenderOutput:
    """One batch of renders (B hands)."""

    rgb_premul: torch.Tensor     # (B, 3, H, W) colour multiplied by coverage, sRGB in [0, 1]
    coverage: torch.Tensor       # (B, 1, H, W) hand coverage in [0, 1]
    keypoints_3d: torch.Tensor   # (B, 21, 3) mm, camera frame
    keypoints_2d: torch.Tensor   # (B, 21, 2) px, = project(keypoints_3d, K)
    K: torch.Tensor              # (B, 3, 3)
    visible: torch.Tensor        # (B, 21) bool: not self-occluded and inside the crop
    depth: torch.Tensor          # (B, 1, H, W) mm of the nearest surface (supersample minimum), inf off-hand
    camera_rotation: torch.Tensor  # (B, 3, 3) hand frame -> camera frame, mirroring included
    translation: torch.Tensor    # (B, 3) mm


def bake_for_size(size: int) -> BakeConfig:
    """Point spacing for a crop size: ~1-3 supersampled pixels between points at usual framings.

    Finer points only cost time: the splats and the fill close the gaps. (35-60k points at 128 px.)
    """
    step = 2.2 if size <= 80 else (1.45 if size <= 160 else 1.15)
    return BakeConfig(hand_step_mm=step, forearm_step_mm=1.5 * step)


class HandRenderer:
    """Renders batches of posed hands; see the module docstring.

    The bake (seconds, cached on disk) happens on construction; ``device`` holds the features.
    """

    def __init__(self, config: RenderConfig = RenderConfig(), device: torch.device | str = "cpu",
                 baked: BakedHand | None = None):
        torch.set_flush_denormal(True)  # denormal floats make torch's CPU arithmetic several times slower
        self.config = config
        self.device = torch.device(device)
        baked = baked if baked is not None else bake_hand(config.bake or bake_for_size(config.size))
        self.num_points = baked.num_points
        self.features = SkinningFeatures.from_baked(baked, self.device)
        f32 = dict(device=self.device, dtype=torch.float32)
        self.attributes = torch.stack(
            [torch.from_numpy(a) for a in (baked.ao, baked.palmar, baked.forearm_mm, baked.albedo_noise,
                                           baked.crease, baked.redness)]
        ).to(**f32)
        self.neighbours = torch.from_numpy(baked.neighbours).T.contiguous().to(self.device)  # (3, N)
        self.part = torch.from_numpy(baked.part).to(self.device)
        self._not_forearm = self.part != PART_FOREARM  # drawn when the forearm is hidden
        self._not_stub = self.part != PART_STUB  # drawn when the forearm is shown
        self._two_sided = torch.from_numpy(baked.two_sided).to(self.device)
        blend = 1.0 - torch.from_numpy(baked.weights).amax(dim=1)
        self._splat_gain = (config.splat_stretch * (1.0 + config.blend_stretch * blend)).to(**f32)  # (N,)
        self._workspace = Workspace()  # scratch reused across batches (not thread-safe: one renderer per thread)
        self._keypoint_depth = torch.from_numpy(baked.keypoint_depth).to(**f32)  # (21, D)
        self._depth_directions = torch.from_numpy(fibonacci_directions(baked.keypoint_depth.shape[1])).to(**f32)

    def render(
        self,
        angles: torch.Tensor,
        shape: HandShape,
        viewpoint: torch.Tensor,
        is_left: torch.Tensor,
        appearance: Appearance,
        camera: CameraParams,
    ) -> RenderOutput:
        """Render B hands.

        angles: (B, 20) rad; shape: B hand shapes; viewpoint: (B, 3, 3) rotation hand frame ->
        camera frame; is_left: (B,) bool (the right hand's mirror image is drawn);
        appearance and camera: per-hand draws (see ``Appearance``, ``CameraParams``).
        """
        self._check_inputs(angles, shape, viewpoint, is_left, appearance, camera)
        cfg = self.config
        dev = self.device
        batch = angles.shape[0]
        size, ss = cfg.size, cfg.supersample
        angles = angles.to(dev, torch.float32)
        shape = shape.to(dev)
        appearance = appearance.to(dev)
        camera = camera.to(dev)
        is_left = is_left.to(dev)

        pose = pose_bones(self.features, angles, shape, appearance.forearm_rotation.to(torch.float32))
        mirror = torch.ones(batch, 3, device=dev)
        mirror[:, 0] = 1.0 - 2.0 * is_left.float()
        rotation = viewpoint.to(dev, torch.float32) * mirror[:, None, :]  # R @ diag(mirror)
        keypoints = pose.joints @ rotation.transpose(1, 2)
        translation, K = place_camera(keypoints, camera, size)
        keypoints_3d = keypoints + translation[:, None]
        keypoints_2d = project(keypoints_3d, K)

        work = self._workspace
        scratch = tuple(work.get(name, 3 * batch * self.num_points, torch.float32, dev) for name in ("pos", "nrm"))
        positions, normals = skin_points(self.features, pose, rotation, translation, scratch)  # (3, B, N)
        n_points = self.num_points
        show = appearance.show_forearm.to(dev)[:, None]
        keep = torch.where(show, self._not_stub, self._not_forearm)  # (B, N)
        z = positions[2]
        # Back faces: n . p > 0. Blended normals are close to unit length and the view is
        # narrow, so z stands in for |n| |p| in the tolerance.
        facing = torch.linalg.vecdot(normals, positions, dim=0)
        # Skin in joint blends can fold away from the camera under strong bends; culling it would
        # open holes, so it is kept and shaded from its visible side.
        keep &= (z > cfg.near_mm) & ((facing < cfg.backface_tolerance * z) | self._two_sided)
        idx = torch.nonzero(keep.reshape(-1)).squeeze(1)  # packed points (K,)
        hand = torch.div(idx, n_points, rounding_mode="floor")
        point = idx - hand * n_points

        flat = positions.reshape(3, -1)  # (3, B*N), a view
        pos = flat.index_select(1, idx)  # (3, K)
        nrm = normals.reshape(3, -1).index_select(1, idx)
        focal = K[:, 0, 0].index_select(0, hand)
        u, v = self._supersampled_uv(pos, focal)
        # Splat side: the projected distance to the point's farthest of three mesh neighbours, so skin that
        # skinning stretched, and close-ups, get larger splats.
        reach = None
        for j in range(self.neighbours.shape[0]):
            other = flat.index_select(1, hand * n_points + self.neighbours[j].index_select(0, point))
            nu, nv = self._supersampled_uv(other, focal)
            d = (nu - u).square() + (nv - v).square()
            reach = d if reach is None else torch.maximum(reach, d)
        # Skin between bones tears along the blend under strong bends: a little more there.
        reach = reach.sqrt() * self._splat_gain.index_select(0, point) - 2 * cfg.fill_radius_px  # the fill grows every splat
        # Points whose patch cannot reach the image (forearms leaving the crop) splat a single
        # sample into the buffer's margin instead of a large patch.
        hs = size * ss
        edge = float(cfg.max_splat_px)
        off_image = (u < -edge) | (u > hs - 1 + edge) | (v < -edge) | (v > hs - 1 + edge)
        reach = reach.masked_fill(off_image, 1.0)
        splat_px = torch.round(reach).clamp(1, cfg.max_splat_px).to(torch.int64)
        zbuffer = splat_points(u, v, pos[2], hand, splat_px, batch, hs, hs, cfg.max_splat_px, work)

        # Shade once per output pixel (its nearest sample); supersampling only anti-aliases coverage.
        depth, winner, coverage = zbuffer.resolve(ss, cfg.fill_radius_px)
        pixels = torch.nonzero(torch.isfinite(depth).reshape(-1)).squeeze(1)  # (P,)
        shaded = winner.reshape(-1).index_select(0, pixels)  # packed point of each covered pixel
        shaded_point = point.index_select(0, shaded)
        colour = shade_points(
            cfg.shading, appearance, hand.index_select(0, shaded), pos.index_select(1, shaded),
            nrm.index_select(1, shaded), self.attributes.index_select(1, shaded_point),
            self.part.index_select(0, shaded_point),
        )  # (3, P)
        image = torch.zeros(3, batch * size * size, device=dev).index_copy_(1, pixels, colour)
        rgb_premul = image.view(3, batch, 1, size, size).transpose(0, 1).reshape(batch, 3, size, size) * coverage

        visible = self._visibility(keypoints_3d, keypoints_2d, zbuffer, rotation[:, None] @ pose.frames, pose.joints)
        return RenderOutput(
            rgb_premul=rgb_premul,
            coverage=coverage,
            keypoints_3d=keypoints_3d,
            keypoints_2d=keypoints_2d,
            K=K,
            visible=visible,
            depth=depth,
            camera_rotation=rotation,
            translation=translation,
        )

    @staticmethod
    def _check_inputs(angles, shape, viewpoint, is_left, appearance, camera) -> None:
        batch = angles.shape[0] if angles.dim() == 2 else -1
        expected = {
            "angles": (angles.shape, (batch, 20)),
            "viewpoint": (viewpoint.shape, (batch, 3, 3)),
            "is_left": (is_left.shape, (batch,)),
            "shape.segment_lengths": (shape.segment_lengths.shape,
                                      (1, 5, 3) if shape.segment_lengths.shape[0] == 1 else (batch, 5, 3)),
            "appearance.skin_rgb": (appearance.skin_rgb.shape, (batch, 3)),
            "appearance.forearm_rotation": (appearance.forearm_rotation.shape, (batch, 3, 3)),
            "camera.distance_mm": (camera.distance_mm.shape, (batch,)),
        }
        for name, (got, want) in expected.items():
            if tuple(got) != want:
                raise ValueError(f"HandRenderer.render: {name} has shape {tuple(got)}, expected {want} "
                                 f"(B = {batch} hands from angles (B, 20))")

    def _supersampled_uv(self, points: torch.Tensor, focal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Supersampled pixel coordinates of packed camera-frame points (3, K)."""
        ss = self.config.supersample
        centre = (self.config.size - 1) / 2.0
        scale = focal / points[2]
        u = (points[0] * scale + (centre + 0.5)) * ss - 0.5
        v = (points[1] * scale + (centre + 0.5)) * ss - 0.5
        return u, v

    def _visibility(self, keypoints_3d, keypoints_2d, zbuffer, frames_cam, joints_hand) -> torch.Tensor:
        """(B, 21) bool: inside the crop, and no more hand in front than the keypoint's own depth.

        frames_cam: (B, 21, 3, 3) bone frames in the camera frame (mirroring included).
        """
        cfg = self.config
        size, ss = cfg.size, cfg.supersample
        inside = ((keypoints_2d >= -0.5) & (keypoints_2d <= size - 0.5)).all(dim=-1)
        pix = torch.round((keypoints_2d + 0.5) * ss - 0.5).to(torch.int64).clamp(0, size * ss - 1)
        surface = zbuffer.depth_at(pix[..., 0], pix[..., 1], cfg.fill_radius_px)
        # Direction toward the camera in each keypoint's bone frame -> nearest baked direction.
        toward = -keypoints_3d / keypoints_3d.norm(dim=-1, keepdim=True)
        local = torch.linalg.solve(frames_cam, toward[..., None]).squeeze(-1)  # mirrored frames too
        nearest = (local @ self._depth_directions.T).argmax(dim=-1)  # (B, 21)
        own_depth = self._keypoint_depth.gather(1, nearest.T).T  # (B, 21)
        scale = joints_hand[:, 9].norm(dim=-1, keepdim=True) / self.features.rest_joints[9].norm()
        allowance = own_depth * scale + cfg.visibility_margin_mm
        in_front = keypoints_3d[..., 2] - surface  # no surface hit: -inf, visible
        return inside & (in_front < allowance)


def composite(render: RenderOutput | tuple[torch.Tensor, torch.Tensor], background: torch.Tensor) -> torch.Tensor:
    """Hand over background: ``rgb_premul + (1 - coverage) * background``, (B, 3, H, W)."""
    rgb, coverage = (render.rgb_premul, render.coverage) if isinstance(render, RenderOutput) else render
    return rgb + (1.0 - coverage) * background.to(rgb.device, rgb.dtype)
