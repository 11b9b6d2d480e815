"""Bringing a dense-output model: registered from the console, or a .pt2 with dynamic sizes."""

import numpy as np
import pytest
import torch

from napari_respond_cam import explain, load_model, region_target, register_model, save_model
from napari_respond_cam.models import registry
from napari_respond_cam.models.unet import UNet3D
from toy_models import TinyUNet

NAMES = ("background", "ribosome", "membrane")


@pytest.fixture(autouse=True)
def private_registry(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))


def volume(*spatial: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 1, *spatial, generator=torch.Generator().manual_seed(seed))


def box_mask(shape, *box: slice) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[box] = True
    return mask


def test_a_unet_built_in_the_console_is_registered_and_explained_by_name():
    torch.manual_seed(0)
    unet = TinyUNet(classes=3).eval()  # the user's own class, as typed in napari's console
    weights = {k: v.clone() for k, v in unet.state_dict().items()}
    register_model("my-unet", unet, class_names=NAMES, background_class=0, input_shape=(1, 8, 8, 8))
    model = load_model("my-unet")
    assert model is unet
    assert (model.class_names, model.background_class, model.input_shape) == (
        NAMES,
        0,
        (1, 8, 8, 8),
    )
    mask = box_mask((8, 8, 8), slice(1, 3), slice(0, 8), slice(4, 7))  # 2 x 8 x 3 = 48 voxels
    result = explain(model, volume(8, 8, 8), "dec", target=region_target(1, mask))
    # 'out' is a 1x1x1 convolution: the score is sum(A * G) plus its bias once per voxel.
    np.testing.assert_allclose(result.bias, [48 * unet.out.bias.detach()[1].item()] * 2, rtol=1e-4)
    np.testing.assert_allclose(result.cam_sums, result.scores - result.bias, rtol=1e-4, atol=1e-5)
    assert all(torch.equal(v, weights[k]) for k, v in unet.state_dict().items())


def export_with_dynamic_sizes(model: torch.nn.Module, path, factor: int):
    """What a user types: torch.export with spatial sides that are multiples of ``factor``."""
    sides = [torch.export.Dim(f"side{i}", min=2, max=64) for i in range(3)]
    batch = torch.export.Dim("batch", min=1, max=64)
    shapes = ({0: batch, 2: factor * sides[0], 3: factor * sides[1], 4: factor * sides[2]},)
    example = torch.zeros(2, 1, 2 * factor, 2 * factor, 2 * factor)
    program = torch.export.export(model, (example,), dynamic_shapes=shapes)
    torch.export.save(program, path)
    return path


@pytest.mark.parametrize("spatial", [(8, 8, 8), (12, 8, 16)])
def test_a_pt2_with_dynamic_spatial_sizes_explains_windows_of_any_size(tmp_path, spatial):
    torch.manual_seed(1)
    unet = UNet3D(3, channels=(2, 3, 4)).eval()
    path = export_with_dynamic_sizes(unet, tmp_path / "unet.pt2", factor=4)
    before = path.read_bytes()
    loaded = load_model(path)  # no trust needed: its size guards are plain arithmetic
    assert getattr(loaded, "input_shape", None) is None
    x = volume(*spatial, seed=2)
    ours, theirs = (explain(m, x, "dec1", target=region_target(2)) for m in (unet, loaded))
    assert theirs.cam.shape == (2, *spatial)
    np.testing.assert_allclose(theirs.cam, ours.cam, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(theirs.scores, ours.scores, rtol=1e-6)
    assert path.read_bytes() == before


def test_save_model_can_leave_the_spatial_sizes_dynamic(tmp_path):
    torch.manual_seed(2)
    unet = UNet3D(3, channels=(2, 3, 4)).eval()
    unet.class_names, unet.background_class, unet.input_shape = NAMES, 0, (1, 8, 8, 8)
    dynamic = load_model(save_model(unet, tmp_path / "dynamic.pt2", dynamic_sizes=True))
    fixed = load_model(save_model(unet, tmp_path / "fixed.pt2"))
    assert (dynamic.class_names, dynamic.background_class) == (NAMES, 0)
    assert dynamic.input_shape == fixed.input_shape == (1, 8, 8, 8)
    other = volume(16, 12, 8, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(dynamic(other), unet(other), rtol=1e-5, atol=1e-6)
        with pytest.raises(Exception, match="16"):
            fixed(other)  # exported for 8^3 windows only


def test_a_monai_dynunet_state_dict_is_brought_as_the_guide_says(tmp_path):
    nets = pytest.importorskip("monai.networks.nets")

    def build():
        return nets.DynUNet(
            spatial_dims=3,
            in_channels=1,
            out_channels=3,
            kernel_size=[3, 3, 3],
            strides=[1, 2, 2],
            upsample_kernel_size=[2, 2],
            filters=[4, 8, 8],
        )

    torch.manual_seed(3)
    torch.save(build().state_dict(), tmp_path / "dynunet_state.pt")  # what a trainer saved
    model = build()
    model.load_state_dict(torch.load(tmp_path / "dynunet_state.pt", weights_only=True))
    model.eval()
    register_model(
        "dynunet", model, class_names=NAMES, background_class=0,
        input_shape=(1, 16, 16, 16), preprocessing="zscore-tomogram",
    )  # fmt: skip
    model = load_model("dynunet")  # the same module, the metadata set on it
    mask = box_mask((16, 16, 16), slice(4, 12), slice(4, 12), slice(4, 12))  # 512 voxels
    live = explain(model, volume(16, 16, 16), "upsamples.1", target=region_target(1, mask))
    head_bias = model.output_block.conv.conv.bias.detach()[1].item()
    np.testing.assert_allclose(live.bias, [512 * head_bias] * 2, rtol=1e-4)
    np.testing.assert_allclose(live.cam_sums, live.scores - live.bias, rtol=1e-4, atol=1e-5)
    exported = load_model(save_model(model, tmp_path / "dynunet.pt2", dynamic_sizes=True))
    assert exported.class_names == NAMES and exported.input_shape == (1, 16, 16, 16)
    other = volume(16, 24, 16, seed=4)
    # torch.export names a module by the path that calls it: DynUNet calls its last
    # decoder block through skip_layers, so the program knows upsamples.1 by that name.
    ours = explain(model, other, "upsamples.1", target=region_target(1))
    theirs = explain(exported, other, "skip_layers.upsample", target=region_target(1))
    np.testing.assert_allclose(theirs.cam, ours.cam, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(theirs.scores, ours.scores, rtol=1e-5)
