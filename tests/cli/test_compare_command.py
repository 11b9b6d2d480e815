"""respond-cam compare, run as a user would: an MRC file in, a table (and a CSV) out."""

import csv
import io
import sys

import numpy as np
import pytest
import torch

from napari_respond_cam import RespondCamError, explain_volume, load_model, save_model
from napari_respond_cam.cli import main
from napari_respond_cam.engine.preprocessing import Preprocessing
from napari_respond_cam.faithfulness import compare_methods_on_volume
from napari_respond_cam.faithfulness.window_faithfulness import measure_volume_faithfulness
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from toy_models import TinyUNet


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
    assert out[0] == "tomo.mrc: 2 window(s), layer maxpool2, target proteasome, 4 steps, fill mean"
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
        (["--methods", "grad,respond,grad"], "Method(s) 'grad' asked for more than once; name "),
        (["--steps", "0"], "steps must be a positive int"),
        (["--target", "all"], "not 'all'; measure one class at a time"),
        (["--target", "dog"], "--target: 'dog' is not a class of this model"),
        (["--layer", "maxpool3"], "Did you mean 'maxpool2'"),
        (["--threads", "0"], "--threads must be at least 1, got 0."),
        (["--bin", "0"], "binning must be a whole number from 1 to the volume's shortest side (8 "),
        (["--bin", "9"], "for the shape (8, 8, 12)), not 9 (binning in Python, --bin on the"),
    ],
)
def test_mistakes_are_one_line_and_the_file_is_kept(extra, message, tomogram, model_file,
                                                     capsys):  # fmt: skip
    before = tomogram.read_bytes()
    assert main(compare_args(tomogram, model_file, *extra)) == 1
    assert message in error_of(capsys)
    assert tomogram.read_bytes() == before


def test_bin_measures_the_block_averaged_file_and_mask(tmp_path, capsys):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=8, channels=(2, 2, 2, 2), dense=(4, 4))
    model.voxel_size_a = 20.0
    model_file = save_model(model, tmp_path / "at20.pt")
    data = np.random.default_rng(1).normal(size=(16, 16, 24)).astype(np.float32)
    tomogram = write_mrc(tmp_path / "fine.mrc", data, voxel_size=10.0)
    mask = np.zeros(data.shape, np.float32)
    mask[:, :, :5] = 1  # binned by 2: x 0-1 wholly inside, x 2 half (out), the rest out
    mask_file = write_mrc(tmp_path / "mask.mrc", mask)
    table = tmp_path / "scores.csv"
    extra = ["--methods", "respond", "--target", "1", "--mask", str(mask_file), "--csv", str(table)]

    assert main(compare_args(tomogram, model_file, *extra, "--bin", "2")) == 0

    printed = capsys.readouterr()
    assert printed.out.startswith("fine.mrc binned by 2: 2 window(s), layer maxpool2")
    assert "warning" not in printed.err  # 10 A binned by 2 is the model's 20 A
    binned = data.reshape(8, 2, 8, 2, 12, 2).mean(axis=(1, 3, 5))
    inside = np.zeros(binned.shape, bool)
    inside[:, :, :2] = True
    [row] = compare_methods_on_volume(
        load_model(model_file), binned, "maxpool2", methods=["respond"], target=1, steps=4,
        mask=inside,
    )  # fmt: skip
    with table.open() as file:
        [line] = list(csv.DictReader(file))
    for key in ("deletion_auc", "insertion_auc", "road_score", "mass_inside"):
        assert float(line[key]) == pytest.approx(getattr(row, key), rel=1e-6, abs=1e-9)

    assert main(compare_args(tomogram, model_file, "--methods", "grad")) == 0
    err = capsys.readouterr().err
    assert "respond-cam: warning: fine.mrc: The tomogram's voxels are 10 Å but the model " in err
    assert "bin it by 2 (" in err and "--bin 2 on the command line" in err


def test_an_existing_csv_is_kept(tomogram, model_file, tmp_path, capsys):
    table = tmp_path / "scores.csv"
    table.write_text("keep me")
    assert main(compare_args(tomogram, model_file, "--csv", str(table))) == 1
    assert error_of(capsys) == (
        f"--csv {table} exists and is kept; pass --overwrite to replace it, or name a new file."
    )
    assert table.read_text() == "keep me"


def test_overwrite_replaces_an_existing_csv(tomogram, model_file, tmp_path, capsys):
    table = tmp_path / "scores.csv"
    table.write_text("old table")
    extra = ["--methods", "grad", "--csv", str(table), "--overwrite"]
    assert main(compare_args(tomogram, model_file, *extra)) == 0
    with table.open() as file:
        assert [row["method"] for row in csv.DictReader(file)] == ["grad"]
    assert capsys.readouterr().out.splitlines()[-1] == str(table)


def test_a_folder_as_csv_is_called_a_folder(tomogram, model_file, tmp_path, capsys):
    folder = tmp_path / "heatmaps"
    folder.mkdir()
    for extra in ([], ["--overwrite"]):
        assert main(compare_args(tomogram, model_file, "--csv", str(folder), *extra)) == 1
        assert error_of(capsys) == (
            f"--csv {folder} is a folder; name a file for the table, such as "
            f"{folder / 'tomo_methods.csv'}."
        )
    assert folder.is_dir() and not any(folder.iterdir())


def test_the_mask_is_never_overwritten_by_the_csv(tomogram, model_file, tmp_path, capsys):
    mask = write_mrc(tmp_path / "mask.mrc", np.ones((8, 8, 12), np.float32))
    before = mask.read_bytes()
    extra = ["--mask", str(mask), "--csv", str(mask), "--overwrite"]
    assert main(compare_args(tomogram, model_file, *extra)) == 1
    assert error_of(capsys) == f"--csv {mask} is the --mask file; name a new file for the table."
    assert mask.read_bytes() == before


def test_help_says_an_existing_csv_is_refused_without_overwrite(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "to a new file (an existing file is refused unless --overwrite)" in text
    assert "--overwrite replace existing outputs (the --csv file)" in text
    assert "A progress bar on stderr names the method being measured and counts steps" in text


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_sees_each_method_and_step_on_stderr(tomogram, model_file, monkeypatch,
                                                        capsys):  # fmt: skip
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(compare_args(tomogram, model_file, "--methods", "respond,grad")) == 0
    assert capsys.readouterr().out.startswith(
        "tomo.mrc: 2 window(s), layer maxpool2, target each window's predicted class,"
    )
    drawn = terminal.getvalue()
    assert drawn.endswith("\n") and drawn.count("\n") == 1
    lines = [line.rstrip() for line in drawn.rstrip("\n").split("\r")[1:]]
    steps = [line.split("] ")[1].split(" steps")[0] for line in lines]
    # 2 windows: per method, both maps in one batch, then 4 curves per window.
    assert steps == (
        ["0/20", "2/20"] + [f"{n}/20" for n in range(3, 11)]
        + ["12/20"] + [f"{n}/20" for n in range(13, 21)]
    )  # fmt: skip
    labels = [line.split(" [")[0] for line in lines]
    assert labels == ["tomo.mrc Respond-CAM (1/2)"] * 10 + ["tomo.mrc Grad-CAM (2/2)"] * 8 + [
        "tomo.mrc: 2 methods"
    ]


def test_a_log_gets_one_progress_line_at_the_end(tomogram, model_file, capsys):
    assert main(compare_args(tomogram, model_file, "--methods", "grad")) == 0
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tomo.mrc: 1 method [" + "#" * 30 + "] 10/10 steps, ")


def test_a_mask_of_another_grid_is_refused(tomogram, model_file, tmp_path, capsys):
    mask = write_mrc(tmp_path / "mask.mrc", np.ones((8, 8, 8), np.float32))
    assert main(compare_args(tomogram, model_file, "--mask", str(mask))) == 1
    assert error_of(capsys) == (
        f"--mask {mask} has shape (8, 8, 8) but the file compared has (8, 8, 12); pass a "
        "mask on the same grid."
    )


def test_the_volume_statistics_have_a_bar_of_their_own(tomogram, tmp_path, capsys):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=8, channels=(2, 2, 2, 2), dense=(4, 4))
    model.preprocessing = "zscore-tomogram"
    model_file = save_model(model, tmp_path / "tomogram_zscore.pt")
    assert main(compare_args(tomogram, model_file, "--methods", "grad")) == 0
    statistics, steps = capsys.readouterr().err.splitlines()
    assert statistics.startswith("tomo.mrc: statistics [" + "#" * 30 + "] ")
    assert " blocks, " in statistics
    assert steps.startswith("tomo.mrc: 1 method [" + "#" * 30 + "] 10/10 steps, ")


def test_a_2d_image_is_refused_in_words_that_fit_compare(model_file, tmp_path, capsys):
    image = write_mrc(tmp_path / "slice.mrc", np.zeros((8, 12), np.float32))
    assert main(compare_args(image, model_file)) == 1
    message = error_of(capsys)
    assert "holds one 2D image (shape (8, 12)), not a tomogram; respond-cam takes 3D" in message
    assert "explain" not in message


def test_window_and_stride_cut_the_file_as_explain_does(tomogram, model_file, capsys):
    extra = ["--methods", "grad", "--window", "8", "--stride", "4"]
    assert main(compare_args(tomogram, model_file, *extra)) == 0
    # 8 x 8 x 12 in windows of 8 every 4 voxels: one along z and y, two along x
    assert "tomo.mrc: 2 window(s), layer maxpool2" in capsys.readouterr().out
    assert main(compare_args(tomogram, model_file, "--window", "8", "9")) == 1
    assert "--window" in error_of(capsys)


def test_preprocessing_and_invert_reach_the_comparison(tomogram, model_file, tmp_path, capsys):
    table = tmp_path / "scores.csv"
    extra = ["--methods", "respond", "--target", "1", "--stride", "4"]
    extra += ["--preprocessing", "zscore-tomogram", "--invert", "--csv", str(table)]
    assert main(compare_args(tomogram, model_file, *extra)) == 0
    [row] = compare_methods_on_volume(
        load_model(model_file), read_mrc(tomogram).data, "maxpool2", methods=["respond"],
        target=1, stride=4, steps=4, preprocessing=Preprocessing("zscore-tomogram", invert=True),
    )  # fmt: skip
    [plain] = compare_methods_on_volume(
        load_model(model_file), read_mrc(tomogram).data, "maxpool2", methods=["respond"],
        target=1, stride=4, steps=4,
    )  # fmt: skip
    with table.open() as file:
        [line] = list(csv.DictReader(file))
    assert float(line["deletion_auc"]) == pytest.approx(row.deletion_auc, rel=1e-6)
    assert row.deletion_auc != pytest.approx(plain.deletion_auc, rel=1e-6)


def test_a_model_with_a_map_per_voxel_is_refused_before_any_work(tmp_path, capsys):
    torch.manual_seed(0)
    unet = TinyUNet(classes=3)
    unet.preprocessing = "zscore-tomogram"  # would read the statistics first
    model_file = save_model(unet, tmp_path / "unet.pt2", example_input=torch.zeros(1, 1, 8, 8, 8))
    volume = write_mrc(tmp_path / "vol.mrc", np.zeros((8, 8, 8), np.float32), voxel_size=10.0)
    assert main(compare_args(volume, model_file, "--methods", "grad")) == 1
    captured = capsys.readouterr()
    assert "statistics" not in captured.err  # refused before the statistics pass
    assert error_of_text(captured.err) == (
        "respond-cam compare measures a classifier's class scores, and this model gives a map "
        "per voxel (shape (1, 3, 8, 8, 8) for one window); explain it one method at a time "
        "with respond-cam explain --method M (--channel and --region choose what is explained)."
    )


def error_of_text(err: str) -> str:
    return err.splitlines()[-1].removeprefix("respond-cam: error: ")


def test_the_windows_called_background_are_left_out_and_counted(tomogram, tmp_path, capsys):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=8, channels=(2, 2, 2, 2), dense=(4, 4))
    model.class_names, model.background_class = ("empty", "ribosome", "membrane"), 0
    data = read_mrc(tomogram).data
    _, first = explain_volume(model, data, "maxpool2", stride=2, return_windows=True)
    logits = np.log(first.probabilities)
    gaps = np.sort(logits[:, 1] - logits[:, 0])  # how far class 1 leads in each window
    with torch.no_grad():
        model.fc3.bias[0] += float(gaps[:2].mean())  # class 0 now takes the closest window
    model_file = save_model(model, tmp_path / "with_background.pt")
    table = tmp_path / "scores.csv"
    extra = ["--methods", "grad", "--stride", "2", "--csv", str(table)]
    assert main(compare_args(tomogram, model_file, *extra)) == 0
    loaded = load_model(model_file)
    _, windows = explain_volume(loaded, data, "maxpool2", stride=2, return_windows=True)
    assert windows.targets.tolist().count(0) == 1 and len(windows.targets) == 3
    heading = capsys.readouterr().out.splitlines()[0]
    assert heading.startswith(
        "tomo.mrc: 2 window(s) (1 called empty left out, as explain leaves them out), "
        "layer maxpool2"
    )
    [row] = compare_methods_on_volume(loaded, data, "maxpool2", methods=["grad"], stride=2,
                                      steps=4, background_class=0)  # fmt: skip
    assert len(row.faithfulness.deletion.scores) == 2  # the background window is not measured
    with table.open() as file:
        [line] = list(csv.DictReader(file))
    for key in ("sum_to_score_error", "deletion_auc", "insertion_auc", "road_score"):
        assert float(line[key]) == pytest.approx(getattr(row, key), rel=1e-6, abs=1e-9)


def test_a_chosen_class_is_measured_in_the_windows_called_it_unless_every_window(
    tomogram, tmp_path, capsys
):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=8, channels=(2, 2, 2, 2), dense=(4, 4))
    model.class_names = ("ribosome", "proteasome", "membrane")
    data = read_mrc(tomogram).data
    _, first = explain_volume(model, data, "maxpool2", stride=2, return_windows=True)
    logits = np.log(first.probabilities)
    lead = np.sort(logits[:, 2] - np.delete(logits, 2, axis=1).max(axis=1))
    with torch.no_grad():
        model.fc3.bias[2] -= float(lead[-2:].mean())  # membrane now takes one window only
        model.fc3.bias[0] -= 100.0  # and no window is called ribosome
    model_file = save_model(model, tmp_path / "one_membrane.pt")
    loaded = load_model(model_file)
    _, windows = explain_volume(loaded, data, "maxpool2", stride=2, return_windows=True)
    assert windows.targets.tolist().count(2) == 1 and len(windows) == 3
    [called] = np.flatnonzero(windows.targets == 2)
    flags = ["--methods", "grad", "--stride", "2", "--target", "membrane"]

    assert main(compare_args(tomogram, model_file, *flags)) == 0
    heading = capsys.readouterr().out.splitlines()[0]
    assert heading.startswith(
        "tomo.mrc: 1 window(s) (2 called another class left out, as explain leaves them "
        "out), layer maxpool2, target membrane"
    )
    [row] = compare_methods_on_volume(loaded, data, "maxpool2", methods=["grad"], stride=2,
                                      steps=4, target=2, where_predicted=True)  # fmt: skip
    heatmap = explain_volume(loaded, data, "maxpool2", stride=2, target=2, method="grad",
                             where_predicted=True)  # fmt: skip
    alone, _ = measure_volume_faithfulness(loaded, data, heatmap, target=2, stride=2, steps=4,
                                           windows=[called])  # fmt: skip
    assert row.deletion_auc == pytest.approx(float(alone.deletion_auc[0]), rel=1e-6)
    assert row.left_out == "2 called another class left out, as explain leaves them out"
    named = {"methods": ["grad"], "stride": 2, "steps": 4, "where_predicted": True}
    [by_name] = compare_methods_on_volume(loaded, data, "maxpool2", target="membrane", **named)
    assert by_name.deletion_auc == row.deletion_auc and by_name.left_out == row.left_out
    with pytest.raises(RespondCamError, match="The model calls no window ribosome, so"):
        compare_methods_on_volume(loaded, data, "maxpool2", target="ribosome", **named)

    assert main(compare_args(tomogram, model_file, *flags, "--every-window")) == 0
    heading = capsys.readouterr().out.splitlines()[0]
    assert heading.startswith("tomo.mrc: 3 window(s), layer maxpool2, target membrane")
    assert main(compare_args(tomogram, model_file, *flags[:-1], "ribosome")) == 1
    assert error_of_text(capsys.readouterr().err) == (
        "The model calls no window ribosome, so the map of the windows called ribosome holds "
        "nothing to compare; measure the class in every window (where_predicted=False in "
        "Python, --every-window on the command line, untick 'only windows called the class' "
        "in napari)."
    )
