"""The synthesis measures: a grid is found at the period it was drawn at and nowhere else, the
contact sheet holds every gesture and view, the content-transfer share means what it says."""
from __future__ import annotations

import numpy as np
import torch

from train.evaluate.synthesis_quality import TransferColours, decoder_periods, grid_ratios
from train.sheets import pose_sheet


def smooth_images(count: int = 16, size: int = 64) -> torch.Tensor:
    """Blurred random images (B, 3, S, S): natural-image-like power, falling with frequency."""
    g = torch.Generator().manual_seed(0)
    low = torch.rand(count, 3, size // 8, size // 8, generator=g)
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def test_the_decoder_periods_are_every_stage_s_checkerboard():
    assert decoder_periods(64) == [2, 4, 8, 16]
    assert decoder_periods(128) == [2, 4, 8, 16, 32]


def test_a_grid_drawn_at_one_period_stands_out_there_and_only_there():
    renders = smooth_images()
    assert all(abs(r - 1.0) < 1e-4 for r in grid_ratios(renders, renders).values())
    y = torch.arange(64)
    dashes = 0.04 * torch.cos(2 * torch.pi * y / 4)[:, None].expand(64, 64)  # rows darker every 4 px
    ratios = grid_ratios(renders + dashes, renders)
    assert ratios[4] > 10.0
    assert all(r < 1.5 for period, r in ratios.items() if period != 4)


def test_the_kept_share_is_one_for_a_perfect_transfer_and_zero_for_a_random_one():
    assert TransferColours(0.0, 0.3, 0.0, 0.4).kept_share == 1.0
    assert abs(TransferColours(0.3, 0.3, 0.4, 0.4).kept_share) < 1e-9


def test_the_pose_sheet_holds_a_render_and_a_synthesis_for_every_gesture_and_view():
    images = torch.rand(4 * 7, 3, 32, 32)
    sheet = pose_sheet(images, images, [f"g{i}" for i in range(7)], 4, tile=40)
    assert sheet.dtype == np.uint8 and sheet.shape[0] == 22 + 7 * 40
    assert sheet.shape[1] == 110 + 4 * (2 * 40 + 6)


def test_the_curve_reads_each_phase_s_kept_checkpoints_in_step_order_then_its_last(tmp_path):
    from train.evaluate.decoder_curve import checkpoints

    phase = tmp_path / "checkpoints" / "disentangle"
    phase.mkdir(parents=True)
    for name in ("step_0002000.safetensors", "last.safetensors", "step_0001000.safetensors"):
        (phase / name).write_bytes(b"")
    assert [p.name for p in checkpoints(tmp_path)] == ["step_0001000.safetensors", "step_0002000.safetensors",
                                                       "last.safetensors"]


def test_the_curve_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    import pytest

    from train.evaluate.decoder_curve import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path)])
    assert exit_info.value.code == 2 and "not a train.fit run folder" in capsys.readouterr().err


def test_a_curve_goes_on_from_the_earlier_stages_points(tmp_path):
    from train.evaluate.decoder_curve import FIELDS, CurvePoint, curve, read_curve

    earlier = tmp_path / "curve.csv"
    earlier.write_text(",".join(FIELDS) + "\nstage_1,4000,1.65,1.70,0.33,0.068\nstage_2,1000,2.03,1.46,0.47,0.077\n")
    points = read_curve(earlier)
    assert points[-1] == CurvePoint("stage_2", 1000, 2.03, 1.46, 0.47, 0.077)
    assert curve([], measure=None, earlier=points) == points  # no new runs: the earlier points as they were
