"""The small 3D U-Net: its output grid, named layers, size, state dicts and sum-to-score."""

import json
from dataclasses import asdict
from importlib.resources import files

import numpy as np
import pytest
import torch

from napari_respond_cam import explain, load_model, region_target, save_model
from napari_respond_cam.engine.preprocessing import Preprocessing
from napari_respond_cam.models.architectures import architecture
from napari_respond_cam.models.unet import UNet3D, unet_config_from_state_dict
from napari_respond_cam.simulation import class_names
from napari_respond_cam.training.reproducible_kernels import PINNED_CAPABILITY
from napari_respond_cam.training.segmentation import SegmentationConfig

BLOCKS = ["enc1", "pool1", "enc2", "pool2", "bottleneck", "up2", "dec2", "up1", "dec1", "head"]


def tiny(seed: int = 0, classes: int = 3) -> UNet3D:
    torch.manual_seed(seed)
    return UNet3D(classes, channels=(2, 3, 4)).eval()


def volume(*spatial: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 1, *spatial, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("spatial", [(4, 4, 4), (8, 12, 16), (16, 8, 4)])
def test_the_output_is_one_logit_per_class_on_the_input_grid(spatial):
    with torch.no_grad():
        assert tiny(classes=6)(volume(*spatial)).shape == (2, 6, *spatial)


def test_the_layers_are_named_in_the_order_the_input_meets_them():
    assert [name for name, _ in tiny().named_children()] == BLOCKS


def test_the_demo_sized_unet_has_339334_weights_under_10_mb():
    # enc1 7376 + enc2 41536 + bottleneck 166016 + up2 16416 + dec2 83008 + up1 4112
    # + dec1 20768 + head 102 (3x3x3 kernels, biases, 2x2x2 transposed kernels, 1x1x1 head).
    model = UNet3D(6, channels=(16, 32, 64))
    n_weights = sum(p.numel() for p in model.parameters())
    assert n_weights == 339_334
    assert n_weights * 4 < 10e6


def test_a_state_dict_gives_back_its_hyper_parameters():
    state = UNet3D(6, in_channels=2, channels=(5, 7, 9)).state_dict()
    assert unet_config_from_state_dict(state) == {
        "num_classes": 6,
        "in_channels": 2,
        "channels": [5, 7, 9],
    }


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_saved_weights_load_back_as_the_same_network(tmp_path, suffix):
    model = tiny(seed=3, classes=4)
    model.class_names = ("background", "a", "b", "c")
    model.background_class = 0
    loaded = load_model(save_model(model, tmp_path / f"unet{suffix}"))
    assert isinstance(loaded, UNet3D) and not loaded.training
    assert (loaded.class_names, loaded.background_class) == (model.class_names, 0)
    x = volume(8, 8, 12, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_bare_weights_load_into_the_named_architecture(tmp_path):
    model = tiny(seed=4)
    path = tmp_path / "bare.pt"
    torch.save(model.state_dict(), path)
    loaded = load_model(path, architecture="unet3d")
    assert loaded.config == model.config
    assert architecture("unet3d").build is UNet3D
    x = volume(4, 8, 8, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_maps_before_the_one_by_one_head_sum_to_the_score_minus_the_head_bias():
    # head is linear: score = sum_v (w . A(v) + b) over the region, so the bias is b x voxels.
    model = tiny(seed=5)
    mask = np.zeros((8, 8, 8), dtype=bool)
    mask[2:5, 1:7, 3:4] = True  # 18 voxels
    result = explain(model, volume(8, 8, 8, seed=3), "dec1", target=region_target(2, mask))
    head_bias = model.head.bias.detach()[2].item()
    np.testing.assert_allclose(result.bias, [18 * head_bias] * 2, rtol=1e-4)
    np.testing.assert_allclose(result.cam_sums, result.scores - result.bias, rtol=1e-4, atol=1e-5)
    assert result.cam.shape == (2, 8, 8, 8)


def test_the_shipped_demo_unet_is_the_default_training_run_with_its_metadata():
    model = load_model("unet-demo")
    assert isinstance(model, UNet3D) and not model.training
    assert model.class_names == ("background", *class_names())
    assert model.background_class == 0
    assert model.input_shape == (1, 48, 48, 48)
    assert model.preprocessing == Preprocessing("zscore-window")
    assert model.voxel_size_a == 11.4
    record = model.training_record
    as_json = [json.dumps(c) for c in (record["config"], asdict(SegmentationConfig()))]
    assert as_json[0] == as_json[1]
    assert record["history"]["steps"][-1] == record["config"]["steps"]
    # trained as the documented command trains: the kernels any AVX2 CPU runs, one thread
    environment = record["environment"]
    assert environment["kernels_pinned"] and environment["cpu_capability"] == PINNED_CAPABILITY
    assert environment["threads"] == 1 and environment["torch"] == "2.13.0+cpu"
    weights = files("napari_respond_cam.models") / "weights" / "demo_unet.pt"
    assert weights.stat().st_size < 10e6
