"""Every method through explain and explain_volume: shapes, all classes, tiling, records."""

from pathlib import Path

import numpy as np
import pytest
import torch

from napari_respond_cam import explain, explain_volume
from napari_respond_cam.engine.options import METHOD_LABELS
from napari_respond_cam.engine.perturbation_cost import perturbation_cost
from toy_models import DenseHead, GapHead

X = torch.rand(2, 1, 8, 8, 8, generator=torch.Generator().manual_seed(4))


def model() -> DenseHead:
    torch.manual_seed(1)
    return DenseHead(dims=3, classes=3).eval()


@pytest.mark.parametrize("method", METHOD_LABELS)
def test_all_classes_have_every_class_map_and_the_same_bias_for_every_method(method):
    every = explain(model(), X, "pool", target="all", method=method)
    assert every.cam.shape == (2, 3, 4, 4, 4) and every.heatmap.shape == (2, 3, 8, 8, 8)
    assert every.method == method and every.targets.tolist() == [0, 1, 2]
    respond = explain(model(), X, "pool", target="all")
    np.testing.assert_allclose(every.bias, respond.bias, rtol=1e-6)
    for k in range(3):
        one = explain(model(), X, "pool", target=k, method=method)
        np.testing.assert_allclose(every.cam[:, k], one.cam, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["respond", "xgrad", "hires"])
def test_maps_of_the_relevance_methods_sum_to_the_score_minus_the_bias(method):
    result = explain(model(), X, "pool", target="all", method=method)
    np.testing.assert_allclose(result.cam_sums, result.scores - result.bias, atol=1e-5)


def test_grad_cam_maps_do_not_sum_to_the_score():
    result = explain(model(), X, "pool", target="all", method="grad")
    assert np.abs(result.cam_sums - (result.scores - result.bias)).max() > 1e-3


def test_eigen_cam_is_the_same_map_for_every_class():
    result = explain(model(), X, "pool", target="all", method="eigen")
    np.testing.assert_allclose(result.cam[:, 1:], np.repeat(result.cam[:, :1], 2, axis=1))
    np.testing.assert_allclose(result.cam_sums, 0.0, atol=1e-5)


@pytest.mark.parametrize("method", METHOD_LABELS)
def test_a_whole_volume_window_is_explain_on_the_volume(method):
    torch.manual_seed(0)
    gap = GapHead(dims=3, in_channels=1, width=3, classes=2)
    volume = np.random.default_rng(3).random((10, 12, 14))
    heatmap = explain_volume(gap, volume, "features", window=(10, 12, 14), target=0, method=method)
    reference = explain(gap, volume[None, None], "features", target=0, method=method)
    np.testing.assert_allclose(heatmap, reference.heatmap[0], rtol=1e-5, atol=1e-6)


def test_ablation_is_tiled_by_explain_volume_into_its_windows():
    volume = np.random.default_rng(4).random((12, 8, 8)).astype(np.float32)
    tiled = explain_volume(model(), volume, "pool", window=8, stride=4, method="ablation")
    assert tiled.shape == (12, 8, 8) and np.isfinite(tiled).all()
    first = explain(model(), volume[None, None, :8], "pool", method="ablation")
    # The first window alone covers voxels 0-3 (the blending weights of the second
    # window start at zero there).
    np.testing.assert_allclose(tiled[0], first.heatmap[0, 0], rtol=1e-4, atol=1e-6)


def test_perturbation_cost_counts_the_extra_passes_and_calls():
    cost = perturbation_cost(
        model(),
        "pool",
        (8, 8, 8),
        samples=10,
        method="ablation",
        batch_size=4,
        perturbation_batch_size=8,
    )
    # 4 channels x 10 samples; batches of 4, 4 and 2 samples take 2, 2 and 1 calls.
    assert (cost.channels, cost.extra_forward_passes, cost.model_calls) == (4, 40, 5)
    assert str(cost) == (
        "Ablation-CAM runs the model on 40 more samples (4 channels x 10 samples) in 5 "
        "calls, on top of one forward and one backward pass."
    )
    one = perturbation_cost(model(), "pool", (8, 8, 8), method="ablation", batch_size=1)
    assert str(one).startswith("Ablation-CAM runs the model on 4 more samples (4 channels x 1 "
                               "sample) in 1 call, on top")  # fmt: skip
    none = perturbation_cost(model(), "pool", (8, 8, 8), samples=10, method="hires")
    assert none.extra_forward_passes == 0
    assert str(none) == "HiResCAM takes one forward and one backward pass, and no extra pass."


def test_the_readmes_perturbation_cost_sentence_is_the_demo_models():
    from napari_respond_cam import load_model

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    cost = perturbation_cost(load_model("cnn1-demo"), "maxpool2", (40, 40, 40), samples=10,
                             method="ablation", device="cpu")  # fmt: skip
    said = str(cost).removesuffix(".")
    assert " ".join(said.split()) in " ".join(readme.split())


def test_perturbation_cost_matches_the_calls_a_run_makes():
    calls = []
    counted = model()
    counted.register_forward_hook(lambda module, args, output: calls.append(len(output)))
    cost = perturbation_cost(
        counted, "pool", (8, 8, 8), samples=2, method="ablation", perturbation_batch_size=4
    )
    calls.clear()  # the probe's own run
    explain(counted, X, "pool", method="ablation", perturbation_batch_size=4)
    assert len(calls) - 1 == cost.model_calls == 2
    assert sum(calls) - 2 == cost.extra_forward_passes == 8
