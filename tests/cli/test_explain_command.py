"""respond-cam explain, run as a user would: MRC in, MRC heatmap out, clear errors."""

import numpy as np
import pytest
import torch

from napari_respond_cam import explain_volume, load_model, save_model
from napari_respond_cam.cli import main
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16))
    model.class_names = ("ribosome", "proteasome", "membrane")
    return save_model(model, tmp_path / "small.pt")


@pytest.fixture
def tomogram(tmp_path):
    data = np.random.default_rng(0).normal(size=(20, 24, 30)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size=(10.0, 9.0, 8.0), origin=(1, 2, 3))


def explain_args(tomogram, model_file, out, *extra):
    return ["explain", str(tomogram), "--model", str(model_file), "--out", str(out), *extra]


def test_round_trip_keeps_voxel_size_and_origin(tomogram, model_file, tmp_path, capsys):
    out = tmp_path / "maps"
    extra = ["--target", "proteasome", "--stride", "6"]
    assert main(explain_args(tomogram, model_file, out, *extra)) == 0
    written = read_mrc(out / "tomo_respondcam.mrc")
    assert written.voxel_size == (10.0, 9.0, 8.0)
    assert written.origin == (1.0, 2.0, 3.0)
    expected = explain_volume(
        load_model(model_file), read_mrc(tomogram).data, "maxpool2", target=1, stride=6
    )
    np.testing.assert_array_equal(written.data, expected)
    assert str(out / "tomo_respondcam.mrc") in capsys.readouterr().out


def test_precision_flag_reaches_explain_volume(tomogram, model_file, tmp_path):
    out = tmp_path / "maps"
    extra = ["--target", "1", "--stride", "6", "--precision", "bf16"]
    assert main(explain_args(tomogram, model_file, out, *extra)) == 0
    expected = explain_volume(load_model(model_file), read_mrc(tomogram).data, "maxpool2",
                              target=1, stride=6, precision="bf16")  # fmt: skip
    np.testing.assert_array_equal(read_mrc(out / "tomo_respondcam.mrc").data, expected)


def test_existing_outputs_are_kept_unless_asked(tomogram, model_file, tmp_path, capsys):
    out = tmp_path / "maps"
    assert main(explain_args(tomogram, model_file, out, "--method", "grad")) == 0
    target = out / "tomo_gradcam.mrc"
    before = target.stat().st_mtime_ns
    assert main(explain_args(tomogram, model_file, out, "--method", "grad")) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert target.stat().st_mtime_ns == before
    assert main(explain_args(tomogram, model_file, out, "--method", "grad", "--overwrite")) == 0


def test_an_input_is_never_overwritten(tomogram, model_file, tmp_path, capsys):
    # tomo.mrc would write tomo_respondcam.mrc, which is the second input here
    other = write_mrc(tmp_path / "tomo_respondcam.mrc", np.zeros((16, 16, 16), np.float32))
    args = ["explain", str(tomogram), str(other), "--model", str(model_file)]
    assert main([*args, "--out", str(tmp_path), "--overwrite"]) == 1
    assert "is one of the inputs" in capsys.readouterr().err
    assert not read_mrc(other).data.any()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tomogram": "missing.mrc"}, "No such file"),
        ({"tomogram": "corrupt.mrc"}, "Cannot read 'corrupt.mrc' as an MRC file"),
        ({"extra": ["--layer", "maxpool3"]}, "Did you mean 'maxpool2'"),
        ({"extra": ["--target", "dog"]}, "--target: 'dog' is not a class of this model"),
        ({"extra": ["--target", "3"]}, "--target: Class 3 is out of range: the model has 3"),
        ({"extra": ["--target", "all"]}, "--target all is not available on the command line"),
        ({"extra": ["--window", "8", "8"]}, "one size or three"),
        ({"extra": ["--device", "gpu"]}, "not a device name"),
        ({"model": "no-such-model"}, "neither a model name"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(
    change, message, tomogram, model_file, tmp_path, capsys
):
    (tmp_path / "corrupt.mrc").write_bytes(b"not a map" * 200)
    source = tmp_path / change.get("tomogram", tomogram)
    model = change.get("model", model_file)
    out = tmp_path / "maps"
    assert main(explain_args(source, model, out, *change.get("extra", []))) == 1
    err = capsys.readouterr().err
    assert err.startswith("respond-cam: error: ") and message in err
    assert not list(out.glob("*.mrc")) if out.exists() else True


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "explain" in capsys.readouterr().out
