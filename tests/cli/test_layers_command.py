"""respond-cam layers: what --layer can name, in forward order, the default marked."""

import pytest
import torch

from napari_respond_cam import save_model
from napari_respond_cam.cli import main
from napari_respond_cam.models.paper_cnns import CNN1


def test_the_layers_of_a_model_file_are_listed_with_the_default_last(tmp_path, capsys):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=16, channels=(2, 2, 2, 2), dense=(4, 4))
    path = save_model(model, tmp_path / "small.pt")
    before = path.read_bytes()
    assert main(["layers", "--model", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "conv1" and lines[-1] == "maxpool2 (default)"
    assert lines.index("maxpool1") < lines.index("conv3") < lines.index("conv4")
    assert path.read_bytes() == before


def test_an_unknown_model_is_a_one_line_error(capsys):
    assert main(["layers", "--model", "no-such-model"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("respond-cam: error: 'no-such-model' is neither a model name")


def small_cnn1_file(tmp_path):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=16, channels=(2, 2, 2, 2), dense=(4, 4))
    return str(save_model(model, tmp_path / "small.pt"))


@pytest.mark.parametrize("sizes", [["0"], ["16", "-1", "16"]])
def test_a_window_of_no_voxels_is_refused(tmp_path, capsys, sizes):
    assert main(["layers", "--model", small_cnn1_file(tmp_path), "--window", *sizes]) == 1
    err = capsys.readouterr().err
    shown = " ".join(sizes)
    assert err == f"respond-cam: error: --window takes sizes in voxels, 1 or more, not {shown}.\n"


def test_a_window_is_tried_on_a_model_with_its_own_size_and_its_size_named(tmp_path, capsys):
    path = small_cnn1_file(tmp_path)
    assert main(["layers", "--model", path, "--window", "12"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "respond-cam: error: The model does not run on a window of 12 x 12 x 12 voxels "
        "(1 channel(s)): mat1 and mat2 shapes cannot be multiplied"
    )
    assert err.endswith(
        "; pass a --window N (or D H W) that it takes, or leave --window out for its own "
        "size, 16 x 16 x 16.\n"
    )
    assert main(["layers", "--model", path, "--window", "16"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "maxpool2 (default)"
