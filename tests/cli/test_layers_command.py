"""respond-cam layers: what --layer can name, in forward order, the default marked."""

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
