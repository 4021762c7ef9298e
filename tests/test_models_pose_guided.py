"""The pose-guided image decoder: maps where the crop framing puts the joints, images that follow
the pose locally, gradients that reach the pose blocks, compositing, and old checkpoints."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from core.checkpoint import load_model
from core.hand.joints import BONES, FINGER_TIPS
from core.models import DVAE, DVAEConfig, DisentangleObjective, EmbeddingObjective, POSE, VIEWPOINT
from core.models.pose_guided import PoseGuidedDecoder, upsampling
from core.models.pose_maps import Framing, frame_keypoints, skeleton_maps
from core.render.camera import CameraParams, place_camera
from tests.model_builders import pose_guided_config, random_batch
from tests.data_builders import hand_joints

pytestmark = pytest.mark.usefixtures("one_thread")

DATA = Path(__file__).parent / "data"


def test_a_flat_pose_is_framed_centred_with_its_box_filling_the_crop_share():
    # Hand-computed: four points in a plane facing the camera, a 60 x 30 mm box. Framed in a
    # 64 px crop at fill 0.75 the longer side spans 48 px, centred on (31.5, 31.5).
    points = torch.tensor([[[0.0, 0.0, 0.0], [60.0, 0.0, 0.0], [0.0, 30.0, 0.0], [60.0, 30.0, 0.0]]])
    padded = torch.cat([points, points[:, :1].expand(1, 17, 3)], dim=1)  # 21 joints, the rest on the first
    uv, _ = frame_keypoints(padded, 64, Framing(fill=0.75))
    expected = torch.tensor([[7.5, 19.5], [55.5, 19.5], [7.5, 43.5], [55.5, 43.5]])
    assert torch.allclose(uv[0, :4], expected, atol=1e-3)


def test_framing_matches_the_synthetic_camera_placement():
    kp = torch.from_numpy(hand_joints(3)[0]).float()[None] @ torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    uv, depth = frame_keypoints(kp, 64, Framing(fill=0.7, distance_mm=400.0))
    params = CameraParams(torch.tensor([400.0]), torch.tensor([0.7]), torch.zeros(1, 2))
    translation, K = place_camera(kp, params, 64)
    uvw = (kp + translation[:, None]) @ K.transpose(1, 2)
    assert torch.allclose(uv, uvw[..., :2] / uvw[..., 2:3], atol=1e-4)
    nearest = int(kp[0, :, 2].argmin())
    assert float(depth[0, nearest]) == pytest.approx(1.0)


def test_each_limb_map_peaks_on_its_bone_and_the_joint_map_on_the_joints():
    uv = torch.zeros(1, 21, 2)
    uv[0, :, 0] = torch.linspace(4, 27, 21)
    uv[0, :, 1] = 16.0
    maps = skeleton_maps(uv, torch.zeros(1, 21), 32, 32)  # (1, 22, 32, 32)
    for index, (parent, child) in enumerate(BONES):
        middle = 0.5 * (uv[0, parent] + uv[0, child])
        x, y = int(round(float(middle[0]))), int(round(float(middle[1])))
        peak = maps[0, index].flatten().argmax()
        py, px = divmod(int(peak), 32)
        lo, hi = sorted((float(uv[0, parent, 0]), float(uv[0, child, 0])))
        assert py == 16 and lo - 1 <= px <= hi + 1, (index, px, py, x, y)
    joints = maps[0, 20]
    tip = uv[0, 20].round().long()
    assert float(joints[tip[1], tip[0]]) > 0.9
    assert float(joints[0, 0]) < 1e-3


def test_moving_a_fingertip_changes_the_image_near_it_more_than_far_from_it():
    torch.manual_seed(0)
    config = pose_guided_config()
    decoder = PoseGuidedDecoder(config)
    optimiser = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    batch = random_batch(8, 32, seed=1)
    for _ in range(20):  # a few steps, so the decoder has learnt to use its inputs at all
        z = torch.randn(8, config.latent_dim)
        loss = (decoder(z, batch.keypoints_3d).image - batch.image).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    kp = torch.from_numpy(hand_joints(5)[0]).float()[None] @ torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    z = torch.randn(1, config.latent_dim)
    tip = FINGER_TIPS[1]  # index finger
    moved = kp.clone()
    moved[0, tip] = 0.5 * (kp[0, tip] + kp[0, tip - 2])  # curl the tip toward the PIP joint
    with torch.no_grad():
        before, after = decoder(z, kp).image, decoder(z, moved).image
    change = (after - before).abs().sum(1)[0]  # (32, 32)
    uv_before, _ = frame_keypoints(kp, 32)
    uv_after, _ = frame_keypoints(moved, 32)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    def distance(uv):
        return ((xs - uv[0]).square() + (ys - uv[1]).square()).sqrt()
    nearest = torch.minimum(distance(uv_before[0, tip]), distance(uv_after[0, tip]))
    near, far = change[nearest <= 3].mean(), change[nearest >= 12].mean()
    assert float(near) > 3 * float(far), (float(near), float(far))


def test_image_loss_reaches_the_pose_and_viewpoint_blocks_through_the_decoder():
    # what lets unlabelled images (semi-supervised step 2) teach the encoder's pose blocks
    torch.manual_seed(0)
    model = DVAE(pose_guided_config())
    z = torch.randn(4, model.layout.dim, requires_grad=True)
    target = torch.rand(4, 3, 32, 32)
    (model.decode_image(z) - target).abs().mean().backward()
    for name in (POSE, VIEWPOINT):
        assert float(z.grad[:, model.layout.slice(name)].abs().sum()) > 0, name
    unlabelled = random_batch(4, 32, seed=2, has_3d=[False] * 4, has_2d=[False] * 4, has_content=[False] * 4)
    terms = EmbeddingObjective()(model, unlabelled, generator=torch.Generator().manual_seed(0))
    model.zero_grad()
    terms["image"].backward()
    head = model.image_encoder.head.linear.weight.grad
    assert float(head[model.layout.slice(POSE)].abs().sum()) > 0


def test_alpha_learns_from_the_coverage_mask_and_is_skipped_without_one():
    torch.manual_seed(0)
    model = DVAE(pose_guided_config())
    batch = random_batch(4, 32, seed=3)
    terms = DisentangleObjective()(model, batch, generator=torch.Generator().manual_seed(0))
    assert float(terms["alpha"].detach()) > 0
    maskless = dataclasses.replace(batch, mask=torch.zeros_like(batch.mask))
    terms = DisentangleObjective()(model, maskless, generator=torch.Generator().manual_seed(0))
    assert float(terms["alpha"].detach()) == 0.0 and torch.isfinite(terms["total"])
    layers = model.decode_layers(torch.randn(2, model.layout.dim))
    assert layers.alpha is not None and layers.alpha.shape == (2, 1, 32, 32)
    assert DVAE(pose_guided_config(compositing=False)).decode_layers(torch.randn(2, model.layout.dim)).alpha is None


def test_compositing_needs_the_pose_guided_decoder():
    with pytest.raises(ValueError, match="decoder_compositing"):
        dataclasses.replace(DVAEConfig.tiny(), decoder_compositing=True)


def test_a_plain_decoder_checkpoint_saved_before_the_pose_guided_decoder_loads_and_decodes_the_same():
    model, _ = load_model(DATA / "plain_decoder_v1_tiny.safetensors")
    assert not model.config.decoder_pose_maps
    expected = np.load(DATA / "plain_decoder_v1_tiny_expected.npz")
    with torch.no_grad():
        image = model.eval().decode_image(torch.from_numpy(expected["latent"]))
    np.testing.assert_allclose(image.numpy(), expected["image"], atol=1e-4)  # float rounding differs between CPUs


def test_the_experiments_report_rewrites_only_its_own_section_of_the_report(tmp_path):
    from train.doc_sections import markers, write_section
    from train.experiments.report import ExperimentResults, write_report

    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nheadline table\n")
    start, end = markers("decoder-ablation")
    write_section(doc, f"{start}\ntable\n{end}", start, end)
    write_section(doc, f"{start}\nnew table\n{end}", start, end)
    for command in ("first", "second"):
        write_report(ExperimentResults(command, "machine", "date", []), doc)
    text = doc.read_text()
    assert text.startswith("# Results\n\nheadline table\n") and "new table" in text and "table\n" in text
    assert text.count("decoder-ablation:start") == text.count("experiments:start") == 1
    assert "Command: `second`" in text and "Command: `first`" not in text
    assert write_report(ExperimentResults("c", "m", "d", []), tmp_path / "new" / "results.md").read_text().startswith(
        "# Results\n")


def test_a_partial_init_loads_the_named_networks_and_leaves_the_decoder_fresh(tmp_path):
    from core.api import HandModel
    from train.config import ConfigError, InitConfig
    from train.fit import load_init_weights

    plain = dataclasses.replace(DVAEConfig.tiny(), colour_paths=True)
    path = HandModel.untrained(plain, seed=1).save(tmp_path / "plain.safetensors")
    trained, _ = load_model(path)
    torch.manual_seed(5)
    model = DVAE(pose_guided_config())
    fresh_decoder = {k: v.clone() for k, v in model.image_decoder.state_dict().items()}
    report = load_init_weights(model, InitConfig(str(path), ("image_encoder", "pose_decoder")))
    assert "loaded ['image_encoder', 'pose_decoder']" in report and "image_decoder" in report.split("fresh:")[1]
    for name in ("image_encoder", "pose_decoder"):
        for key, value in getattr(model, name).state_dict().items():
            assert torch.equal(value, getattr(trained, name).state_dict()[key])
    assert all(torch.equal(v, fresh_decoder[k]) for k, v in model.image_decoder.state_dict().items())
    with pytest.raises(ConfigError, match="unknown network"):
        load_init_weights(model, InitConfig(str(path), ("image_encodr",)))
    with pytest.raises(ConfigError, match="image_decoder .* does not fit"):
        load_init_weights(model, InitConfig(str(path), ("image_decoder",)))
    with pytest.raises(ConfigError, match="another architecture"):
        load_init_weights(model, InitConfig(str(path)))


def test_a_pose_guided_checkpoint_of_config_version_2_loads_with_transposed_convs_and_decodes_the_same():
    model, _ = load_model(DATA / "pose_guided_v2_tiny.safetensors")
    assert model.config.decoder_pose_maps and not model.config.decoder_resize_conv
    expected = np.load(DATA / "pose_guided_v2_tiny_expected.npz")
    with torch.no_grad():
        image = model.eval().decode_image(torch.from_numpy(expected["latent"]))
    np.testing.assert_allclose(image.numpy(), expected["image"], atol=1e-4)  # float rounding differs between CPUs


def stage_pattern(resize_conv: bool) -> torch.Tensor:
    """A stage's upsampling of a constant feature map, interior pixels (B, C, 12, 12)."""
    torch.manual_seed(0)
    up = upsampling(8, 8, resize_conv)
    with torch.no_grad():
        return up(torch.ones(1, 8, 8, 8))[..., 2:-2, 2:-2]


def test_resize_convolution_upsamples_a_flat_map_to_a_flat_map_where_a_transposed_conv_draws_a_grid():
    flat = stage_pattern(resize_conv=True)
    assert float((flat - flat.mean(dim=(-2, -1), keepdim=True)).abs().max()) < 1e-5
    grid = stage_pattern(resize_conv=False)
    assert float((grid - grid.mean(dim=(-2, -1), keepdim=True)).abs().max()) > 1e-2


def test_a_decoder_image_size_model_synthesises_larger_images_and_its_encoders_read_them_resampled():
    config = dataclasses.replace(pose_guided_config(), decoder_image_size=64, decoder_widths=(32, 32, 16, 8, 8))
    model = DVAE(config).eval()
    assert [stage.resolution for stage in model.image_decoder.stages] == [8, 16, 32, 64]
    with torch.no_grad():
        layers = model.decode_layers(torch.randn(2, model.layout.dim))
        assert layers.image.shape == (2, 3, 64, 64) and layers.alpha.shape == (2, 1, 64, 64)
        large = torch.rand(2, 3, 64, 64)
        small = torch.nn.functional.avg_pool2d(large, 2)
        assert torch.allclose(model.image_posterior(large).mu, model.image_posterior(small).mu, atol=1e-5)
    batch = random_batch(2, 64)
    terms = DisentangleObjective()(model.train(), batch)
    assert torch.isfinite(terms["total"])
    for bad in (16, 48):
        with pytest.raises(ValueError, match="decoder_image_size"):
            dataclasses.replace(config, decoder_image_size=bad)
    with pytest.raises(ValueError, match="decoder_widths"):
        dataclasses.replace(pose_guided_config(), decoder_image_size=64)


def test_resize_convolution_is_nearest_upsampling_then_its_3x3_convolution():
    torch.manual_seed(1)
    up = upsampling(5, 7, resize_conv=True)
    x = torch.randn(2, 5, 6, 6)
    with torch.no_grad():
        expected = torch.nn.functional.conv2d(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"),
                                              up[1].weight, padding=1)
        assert torch.allclose(up(x), expected, atol=1e-5)


def test_a_resize_convolution_decoding_without_gradients_follows_a_weight_change():
    up = upsampling(3, 4, resize_conv=True)
    x = torch.randn(1, 3, 5, 5)
    with torch.no_grad():
        before = up(x)
        up[1].weight.mul_(2.0)  # e.g. a checkpoint loaded into the running model
        assert torch.allclose(up(x), 2.0 * before, atol=1e-5)
