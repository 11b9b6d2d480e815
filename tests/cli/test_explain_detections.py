"""respond-cam explain --detections: what a classifier found, as a CSV beside its heatmap."""

import csv

import numpy as np
import pytest
import torch

from napari_respond_cam import load_model, save_model
from napari_respond_cam.cli import main
from napari_respond_cam.jobs.detections_file import COLUMNS
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.runs.explain_run import run_explanation
from napari_respond_cam.runs.request import ExplainRequest, ExplainSettings
from toy_models import TinyUNet

CLASSES = ("background", "ribosome", "proteasome")


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16))
    model.class_names, model.background_class = CLASSES, 0
    with torch.no_grad():
        # Background's logit beats class 2's by 0.3499 to 0.3581 on this tomogram's 24
        # windows: lifted by 0.3548, class 2 takes about half of them.
        model.fc3.bias[2] += 0.3548
    return save_model(model, tmp_path / "small.pt")


@pytest.fixture
def tomogram(tmp_path):
    data = np.random.default_rng(0).normal(size=(24, 32, 40)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size=(10.0, 9.0, 8.0), origin=(1, 2, 3))


def explain(tomogram, model, out, *extra):
    return main(["explain", str(tomogram), "--model", str(model), "--out", str(out), *extra])


def read_rows(path):
    with path.open(newline="") as file:
        return list(csv.reader(file))


def test_detections_are_written_where_the_widget_puts_them_in_voxels_and_angstrom(
    tomogram, model_file, tmp_path, capsys
):
    out = tmp_path / "maps"
    assert explain(tomogram, model_file, out, "--stride", "8", "--detections") == 0

    settings = ExplainSettings("maxpool2", device="cpu", stride=8)
    request = ExplainRequest(load_model(model_file), read_mrc(tomogram).data, settings,
                             class_names=CLASSES)  # fmt: skip
    found = run_explanation(request).detections
    assert 0 < len(found) < 2 * 3 * 4  # some of the 24 windows are background
    rows = read_rows(out / "tomo_detections.csv")
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(found) + 1
    voxels = np.array([[float(v) for v in row[:3]] for row in rows[1:]])
    np.testing.assert_array_equal(voxels, found.centres)
    angstrom = np.array([[float(v) for v in row[3:6]] for row in rows[1:]])
    np.testing.assert_allclose(angstrom, [1, 2, 3] + found.centres * [10, 9, 8], atol=0.005)
    assert [row[6] for row in rows[1:]] == list(found.class_names)
    assert "background" not in {row[6] for row in rows[1:]}
    np.testing.assert_allclose([float(r[7]) for r in rows[1:]], found.probabilities, atol=5e-5)
    assert {tuple(row[9:]) for row in rows[1:]} == {("tomo.mrc", "small.pt")}
    printed = capsys.readouterr().out
    assert f"{out / 'tomo_detections.csv'}: {len(found)} detection(s)." in printed
    assert f"{out / 'tomo_detections.csv'}\n" in printed  # listed with the outputs


def test_an_existing_detections_file_is_kept_unless_asked(tomogram, model_file, tmp_path, capsys):
    out = tmp_path / "maps"
    out.mkdir()
    kept = out / "tomo_detections.csv"
    kept.write_text("mine\n")
    assert explain(tomogram, model_file, out, "--detections") == 1
    err = capsys.readouterr().err
    assert f"({kept}); pass --overwrite to replace them" in err
    assert kept.read_text() == "mine\n" and not list(out.glob("*.mrc"))
    assert explain(tomogram, model_file, out, "--detections", "--overwrite") == 0
    assert read_rows(kept)[0] == list(COLUMNS)


def test_detections_from_a_cluster_are_refused_before_any_work(
    tomogram, model_file, tmp_path, capsys
):
    out = tmp_path / "maps"
    extra = ["--detections", "--scheduler", "tcp://127.0.0.1:1"]
    assert explain(tomogram, model_file, out, *extra) == 1
    assert "--detections is written on this machine only" in capsys.readouterr().err
    assert not out.exists()


def test_detections_of_one_chosen_class_are_refused_before_any_work(
    tomogram, model_file, tmp_path, capsys
):
    out = tmp_path / "maps"
    assert explain(tomogram, model_file, out, "--detections", "--target", "ribosome") == 1
    err = capsys.readouterr().err
    assert "--target ribosome explains one class everywhere; drop --target" in err
    assert not out.exists()


def test_detections_of_a_model_with_an_output_per_voxel_are_refused_before_any_work(
    tomogram, tmp_path, capsys
):
    torch.manual_seed(0)
    unet = TinyUNet(classes=3, bias=True).eval()
    unet.class_names, unet.input_shape = CLASSES, (1, 8, 8, 8)
    model = save_model(unet, tmp_path / "unet.pt2")
    out = tmp_path / "maps"
    assert explain(tomogram, model, out, "--detections") == 1
    err = capsys.readouterr().err
    assert "this model has an output per voxel (shape (1, 3, 8, 8, 8) for one window)" in err
    assert not out.exists()


def test_a_tomogram_of_one_window_gets_a_file_with_the_header_only(model_file, tmp_path, capsys):
    data = np.random.default_rng(1).normal(size=(16, 16, 16)).astype(np.float32)
    small = write_mrc(tmp_path / "small.mrc", data, voxel_size=10.0)
    out = tmp_path / "maps"
    assert explain(small, model_file, out, "--detections") == 0
    assert read_rows(out / "small_detections.csv") == [list(COLUMNS)]
    assert "no rows (the tomogram fits one window; nothing was tiled)" in capsys.readouterr().out
