"""respond-cam compare, run as a user would: an MRC file in, a table (and a CSV) out."""

import csv

import numpy as np
import pytest
import torch

from napari_respond_cam import load_model, save_model
from napari_respond_cam.cli import main
from napari_respond_cam.faithfulness import compare_methods_on_volume
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=8, channels=(2, 2, 2, 2), dense=(4, 4))
    model.class_names = ("ribosome", "proteasome", "membrane")
    return save_model(model, tmp_path / "small.pt")


@pytest.fixture
def tomogram(tmp_path):
    data = np.random.default_rng(0).normal(size=(8, 8, 12)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size=10.0)


def compare_args(tomogram, model_file, *extra):
    return ["compare", str(tomogram), "--model", str(model_file), "--steps", "4", *extra]


def test_the_table_and_the_csv_hold_the_comparisons_numbers(tomogram, model_file, tmp_path,
                                                            capsys):  # fmt: skip
    mask = write_mrc(tmp_path / "mask.mrc", np.ones((8, 8, 12), np.float32))
    table = tmp_path / "scores.csv"
    extra = ["--methods", "respond,grad", "--target", "proteasome", "--stride", "4"]
    extra += ["--mask", str(mask), "--csv", str(table)]
    before = tomogram.read_bytes()
    assert main(compare_args(tomogram, model_file, *extra)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "tomo.mrc: 2 window(s), layer maxpool2, 4 steps, fill mean"
    assert out[1].split("  ")[0] == "method"
    assert out[2].startswith("Respond-CAM ") and out[3].startswith("Grad-CAM ")
    assert len({len(line) for line in out[1:4]}) == 1  # aligned
    rows = compare_methods_on_volume(
        load_model(model_file), read_mrc(tomogram).data, "maxpool2", methods=["respond", "grad"],
        target=1, stride=4, steps=4, mask=np.ones((8, 8, 12), bool),
    )  # fmt: skip
    with table.open() as file:
        written = list(csv.DictReader(file))
    assert [r["method"] for r in written] == ["respond", "grad"]
    for line, row in zip(written, rows, strict=True):
        for key in ("sum_to_score_error", "deletion_auc", "insertion_auc", "road_score"):
            assert float(line[key]) == pytest.approx(getattr(row, key), rel=1e-6, abs=1e-9)
        assert float(line["mass_inside"]) == 1.0
    assert f"{rows[1].deletion_auc:.4g}" in out[3]
    assert tomogram.read_bytes() == before


def error_of(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("respond-cam: error: ") and err.count("\n") == 1
    return err.removeprefix("respond-cam: error: ").rstrip("\n")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--methods", "respond,score"], "Unknown method(s) 'score'; choose from"),
        (["--steps", "0"], "steps must be a positive int"),
        (["--target", "all"], "not 'all'; measure one class at a time"),
        (["--target", "dog"], "--target: 'dog' is not a class of this model"),
        (["--layer", "maxpool3"], "Did you mean 'maxpool2'"),
    ],
)
def test_mistakes_are_one_line_and_the_file_is_kept(extra, message, tomogram, model_file,
                                                     capsys):  # fmt: skip
    before = tomogram.read_bytes()
    assert main(compare_args(tomogram, model_file, *extra)) == 1
    assert message in error_of(capsys)
    assert tomogram.read_bytes() == before


def test_an_existing_csv_is_kept(tomogram, model_file, tmp_path, capsys):
    table = tmp_path / "scores.csv"
    table.write_text("keep me")
    assert main(compare_args(tomogram, model_file, "--csv", str(table))) == 1
    assert error_of(capsys) == (
        f"--csv {table} exists and is kept; name a new file, or remove that one first."
    )
    assert table.read_text() == "keep me"


def test_a_mask_of_another_grid_is_refused(tomogram, model_file, tmp_path, capsys):
    mask = write_mrc(tmp_path / "mask.mrc", np.ones((8, 8, 8), np.float32))
    assert main(compare_args(tomogram, model_file, "--mask", str(mask))) == 1
    assert error_of(capsys) == (
        f"--mask {mask} has shape (8, 8, 8) but the file compared has (8, 8, 12); pass a "
        "mask on the same grid."
    )
