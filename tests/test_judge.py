"""The keypoint judge that rates syntheses: its targets, its soft-argmax, saving and loading."""
import pytest
import torch

from train.evaluate.judge import (JudgeConfig, KeypointJudge, heatmap_expectation, heatmap_targets, judge_loss, load_judge,
                         save_judge)


def test_heatmap_targets_centre_on_the_keypoint_and_soft_argmax_reads_it_back():
    keypoints = torch.tensor([[[10.0, 20.0], [40.5, 3.25]]])          # (1, 2, 2) pixels of a 64 px crop
    targets = heatmap_targets(keypoints, cells=32, size=64, sigma_cells=1.0)
    assert targets.shape == (1, 2, 32 * 32)
    assert torch.allclose(targets.sum(-1), torch.ones(1, 2))
    # row-major cells: the peak of the first joint is at cell (x 5, y 10) -> pixels (10.5, 20.5) around (10, 20)
    assert int(targets[0, 0].argmax()) == 10 * 32 + 5
    read_back = heatmap_expectation(targets.log().view(1, 2, 32, 32), 64)
    assert torch.allclose(read_back[0, 0], keypoints[0, 0], atol=1e-3)
    assert torch.allclose(read_back[0, 1, 0], keypoints[0, 1, 0], atol=1e-3)   # x away from the border


@pytest.mark.slow
def test_judge_loss_has_named_terms_and_falls_when_fitting_one_batch():
    torch.manual_seed(0)
    judge = KeypointJudge(JudgeConfig(width=8))
    images, keypoints = torch.rand(4, 3, 64, 64), torch.rand(4, 21, 2) * 48 + 8
    optimizer = torch.optim.Adam(judge.parameters(), lr=3e-3)
    first = None
    for _ in range(60):  # about 0.18 of the first error by then; the bar is 0.5
        terms = judge_loss(judge, images, keypoints)
        assert set(terms) == {"heatmap", "coordinates", "total"}
        first = first or terms["coordinates"].item()
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
    assert terms["coordinates"].item() < 0.5 * first


def test_a_saved_judge_loads_with_its_config_and_gives_the_same_keypoints(tmp_path):
    judge = KeypointJudge(JudgeConfig(width=8, steps=5)).eval()
    path = save_judge(judge, tmp_path / "judge.safetensors")
    loaded = load_judge(path)
    assert loaded.config == judge.config
    image = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(image), judge(image))


def test_loading_something_else_as_a_judge_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"kind": "something-else"})
    with pytest.raises(ValueError, match="not a keypoint judge"):
        load_judge(tmp_path / "other.safetensors")


def test_the_flip_tested_judge_reads_a_mirror_image_as_the_mirrored_keypoints():
    torch.manual_seed(1)
    judge = KeypointJudge(JudgeConfig(width=8, flip_test=True)).eval()
    image = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        direct, mirrored = judge(image), judge(image.flip(-1))
    assert torch.allclose(mirrored[..., 0], 63 - direct[..., 0], atol=1e-4)
    assert torch.allclose(mirrored[..., 1], direct[..., 1], atol=1e-4)
