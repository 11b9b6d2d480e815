"""A .pt2 exported as docs/bring_your_model.md shows (dynamic sizes, no metadata), on the
command line: --window says what the model takes, and without it the error says so."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_respond_cam import explain_volume, load_model, region_target
from napari_respond_cam.cli import main
from napari_respond_cam.models.unet import UNet3D
from napari_respond_cam.mrc_io import read_mrc, write_mrc


def export_as_the_guide_says(path, largest_side: int = 64):
    """The guide's recipe: a batch Dim and spatial sides 4 * Dim, saved by torch itself."""
    torch.manual_seed(0)
    unet = UNet3D(3, channels=(2, 3, 4)).eval()
    side = [torch.export.Dim(f"side{i}", min=2, max=largest_side) for i in range(3)]
    shapes = (
        {
            0: torch.export.Dim("batch", min=1, max=64),
            2: 4 * side[0],
            3: 4 * side[1],
            4: 4 * side[2],
        },
    )
    program = torch.export.export(unet, (torch.zeros(2, 1, 8, 8, 8),), dynamic_shapes=shapes)
    torch.export.save(program, path)
    return path


@pytest.fixture(scope="module")
def program_file(tmp_path_factory):
    return export_as_the_guide_says(tmp_path_factory.mktemp("models") / "my_unet.pt2")


@pytest.fixture
def tomogram(tmp_path):
    data = np.random.default_rng(0).normal(size=(20, 24, 28)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size=10.0)


def error_of(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("respond-cam: error: ") and err.count("\n") == 1
    return err.removeprefix("respond-cam: error: ")


def test_layers_of_a_program_with_dynamic_sizes_are_listed_on_a_window(program_file, capsys):
    assert main(["layers", "--model", str(program_file), "--window", "16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "dec1.3 (default)"
    assert lines.index("enc1") < lines.index("bottleneck") < lines.index("dec1")
    assert getattr(load_model(program_file), "input_shape", None) is None  # it declares none
    # Without --window, the model's rank and channels from the program, and cube sizes tried.
    assert main(["layers", "--model", str(program_file)]) == 0
    assert capsys.readouterr().out.splitlines() == lines


def test_a_window_no_size_of_the_program_fits_is_refused_in_command_line_words(
    program_file, capsys
):
    assert main(["layers", "--model", str(program_file), "--window", "15"]) == 1
    message = error_of(capsys)
    assert message.startswith("The model does not run on a window of 15 x 15 x 15 voxels")
    assert message.endswith("pass a --window N (or D H W) that it takes.\n")
    assert main(["layers", "--model", str(program_file), "--window", "16", "16"]) == 1
    assert error_of(capsys) == "--window takes one size or three (D H W), not 2.\n"


def test_a_program_that_runs_on_no_size_tried_needs_a_window(tmp_path, capsys):
    small = export_as_the_guide_says(tmp_path / "small.pt2", largest_side=3)  # sides 8 to 12
    assert main(["layers", "--model", str(small)]) == 1
    message = error_of(capsys)
    assert message.startswith(
        "The model declares no input size and runs on none of the window sizes tried "
        "(32 x 32 x 32, 40 x 40 x 40, "
    )
    assert message.endswith("pass --window N (or D H W), a window size it takes.\n")
    assert "input_shape" not in message
    assert main(["layers", "--model", str(small), "--window", "12", "8", "12"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "dec1.3 (default)"


def test_a_model_of_unknown_rank_is_asked_for_a_window():
    from napari_respond_cam.cli.run_arguments import target_layer_names

    model = nn.Sequential(nn.MaxPool3d(2), nn.Flatten())  # no convolution shows its input
    with pytest.raises(ValueError, match=r"^Cannot tell .*; pass --window N \(or D H W\)"):
        target_layer_names(model)
    assert target_layer_names(model, 8) == ["0"]  # one size: a cube, of one channel


def test_explain_with_a_window_finds_the_layer_and_sums_to_score_minus_bias(
    program_file, tomogram, tmp_path, capsys
):
    out = tmp_path / "maps"
    args = ["explain", str(tomogram), "--model", str(program_file), "--out", str(out)]
    assert main([*args, "--window", "16", "--channel", "1", "--region", "whole"]) == 0
    written = read_mrc(out / "tomo_respondcam.mrc").data
    model, data = load_model(program_file), read_mrc(tomogram).data
    expected, windows = explain_volume(
        model, data, "dec1.3", target=region_target(1), window=16, return_windows=True
    )
    np.testing.assert_allclose(written, expected, rtol=1e-6, atol=1e-7)
    printed = capsys.readouterr().out.splitlines()
    check = next(line for line in printed if "sum − (score − bias) = " in line)
    residual = float(check.rsplit("= ", 1)[1])
    assert abs(residual) <= 1e-3 * abs(windows.total_score)
    total = float(written.sum(dtype=np.float64))
    assert total == pytest.approx(windows.total_score - windows.total_bias, rel=1e-3, abs=1e-3)


def test_explain_without_a_window_says_to_pass_one(program_file, tomogram, tmp_path, capsys):
    out = tmp_path / "maps"
    args = ["explain", str(tomogram), "--model", str(program_file), "--out", str(out)]
    assert main([*args, "--channel", "1"]) == 1
    message = error_of(capsys)
    assert message.startswith("The model declares no input size")
    assert "pass --window N (or D H W)" in message and "input_shape" not in message
    assert not out.exists()
