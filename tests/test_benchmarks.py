"""The benchmark scripts run end to end at tiny sizes (their numbers matter only on a GPU)."""

import argparse
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_respond_cam import region_target
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.models.unet import UNet3D

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def load(monkeypatch):
    """Imports a benchmark module by name as running its script would: with the benchmarks
    folder on sys.path, where the script finds its sibling modules (and, being in
    sys.modules, its dataclasses find their module)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module


def tiny_cases(speed_cases):
    """Narrow models at 16^3 and 8^3: bf16 on a CPU takes seconds at the script's sizes."""

    def build(device, small, batch):
        torch.manual_seed(0)
        cnn1 = CNN1(num_classes=5, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16))
        unet = speed_cases.UNet3D(width=4)
        mask = torch.zeros(8, 8, 8, dtype=torch.bool)
        mask[2:6] = True
        region = speed_cases.region_score(1, mask)
        return [
            speed_cases.Case("CNN-1 16^3", cnn1.eval(), torch.randn(batch, 1, 16, 16, 16),
                             "maxpool2", None, 5),
            speed_cases.Case("U-Net 8^3, region target", unet.eval(), torch.randn(1, 1, 8, 8, 8),
                             "enc2", region_target(1, mask.numpy()), 3, region),
        ]  # fmt: skip

    return build


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_explain_speed_tables_on_cpu(monkeypatch, load):
    script = load("explain_speed")
    # one repeat, narrow models and no volume keep this a smoke test
    monkeypatch.setattr(script, "volume_rate", lambda case, side, device: (1.0, 1))
    monkeypatch.setattr(script, "build_cases", tiny_cases(load("speed_cases")))
    text = script.main(["--device", "cpu", "--small", "--repeats", "1", "--batch", "2"])
    rows = [line for line in text.splitlines() if line.startswith(("| CNN-1", "| U-Net"))]
    assert any("floor" in row and "| 1.00 |" in row for row in rows)
    assert any("all 5 classes in one call" in row for row in rows)
    assert any("maps vs fp32: r = 0.99" in row for row in rows)
    assert sum("captum LayerGradCam" in row for row in rows) == 2
    assert sum("pytorch-grad-cam GradCAM" in row for row in rows) == 2

    def variant(name):
        found = [row for row in rows if f"| {name} |" in row]
        assert len(found) == 2, name  # one per model
        return found

    for name in (
        "channels_last_3d model and input",
        "explain, Respond-CAM, channels_last_3d",
        "leaf floor (no_grad forward, layer output a leaf)",
    ):
        assert all("| yes |" in row for row in variant(name)), name
    for name in (
        "bf16 autocast forward",
        "bf16, channels_last_3d",
        "explain, Respond-CAM, bf16, channels_last_3d",
    ):
        assert all("| 0.99" in row or "| 1.00" in row for row in variant(name)), name
    for name in (
        "cuDNN autotuning on (cudnn.benchmark)",
        "cuDNN without TF32 (cudnn.allow_tf32 off)",
        "bf16, cuDNN autotuning on",
        "CUDA graph replay (input copied in)",
    ):
        assert all(row.endswith("| CUDA only |") for row in variant(name)), name
    for name in ("torch.compile, leaf floor", "torch.compile, explain, Respond-CAM"):
        assert all("skipped: pass --compile" in row for row in variant(name)), name


def test_a_failing_variant_is_a_row_not_a_crash(load):
    variants = load("floor_variants")
    case = tiny_cases(load("speed_cases"))(torch.device("cpu"), True, 2)[0]

    def broken(case, args):
        raise RuntimeError("no such kernel\nsecond line")

    variant = variants.Variant("broken", broken)
    row = variants.variant_row(variant, case, {}, argparse.Namespace(repeats=1))
    assert row.note == "failed: RuntimeError: no such kernel"
    assert "| — |" in variants.variant_line(row)


def test_explain_volume_speed_table_on_cpu(load, capsys):
    script = load("explain_volume_speed")
    script.main(["--shape", "48", "40", "32", "--repeats", "2"])
    lines = capsys.readouterr().out.splitlines()
    # 32^3 windows at stride 16 start at x 0, 16; y 0, 8 (the last shifted back); z 0
    assert "4 windows" in lines[1]
    rows = {line.split(" | ")[0][2:]: line.split(" | ")[1] for line in lines if line[:2] == "| "}
    assert float(rows["explain_volume, host work in helper threads, windows/s"]) > 0
    assert float(rows["explain_volume, host work in line, windows/s"]) > 0
    overheads = rows["its overhead over the floor: medians (run by run)"]
    assert overheads.count("%") == 3  # the median and two runs
    assert rows["output size"] == "0.000 GiB"


def test_volume_rate_explains_a_region_over_the_whole_volume(load):
    script = load("explain_speed")
    case = tiny_cases(load("speed_cases"))(torch.device("cpu"), True, 2)[1]
    rate, n = script.volume_rate(case, 12, torch.device("cpu"))
    # 8^3 windows at stride 4 on a 12^3 volume: starts 0, 4 along each axis
    assert n == 8
    assert rate > 0


def test_window_floor_runs_the_windows_it_is_given(load):
    floors = load("window_floor")
    volume = np.arange(16 * 16 * 8, dtype=np.int8).reshape(8, 16, 16)
    model = UNet3D(3, channels=(2, 2, 2)).eval()
    whole = floors.WindowFloor(model, volume, "dec1", window=(8, 8, 8), batch_size=3, device="cpu")
    # stride 4: z starts 0; y and x starts 0, 4, 8
    assert len(whole) == 9 and len(whole.batches) == 3
    starts = np.array([[0, 8, 4]])
    one = floors.WindowFloor(model, volume, "dec1", window=(8, 8, 8), batch_size=3,
                             device="cpu", target=region_target(1), starts=starts)  # fmt: skip
    np.testing.assert_array_equal(one.windows[0, 0].numpy(), volume[0:8, 8:16, 4:12])
    one()


def test_dense_volume_memory_case_measures_a_tiled_region(load, tmp_path):
    script = load("dense_volume_memory")
    shape = (16, 16, 8)
    script.write_inputs(tmp_path, shape)
    mask = np.load(tmp_path / "mask.npy")
    # a ball of radius 8/3 about (7.5, 7.5, 3.5): offsets are half-integers, so planes
    # z = 7, 8 hold 24 voxels (squares of y and x offsets summing to at most 6.86),
    # z = 6, 9 hold 16 (at most 4.86) and z = 5, 10 hold 4 (at most 0.86)
    assert [int(mask[z].sum()) for z in range(4, 8)] == [0, 4, 16, 24]
    assert mask.sum() == 2 * (24 + 16 + 4)
    argv = ["--shape", "8", "16", "16", "--window", "8", "--overlap", "none", "--repeats", "2"]
    args = script.parse(argv)
    whole = script.run_case(args, tmp_path, "whole", 8)
    ball = script.run_case(args, tmp_path, "ball", 8)
    # 8^3 windows edge to edge: 2 x 2 x 1; the ball lies in all four
    assert (whole["windows"], whole["grid"]) == (4, 4)
    assert ball["windows"] == 4
    assert whole["sum_gap"] < 1e-5 and ball["sum_gap"] < 1e-5
    assert whole["output"] == 16 * 16 * 8 * 4
    assert whole["peak"] >= whole["before"] > 0
    assert len(whole["times"]["explain_volume"]) == len(whole["times"]["floor"]) == 2
    table = script.table([whole, ball], on_cuda=False)
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| 8^3 | whole volume | 4 of 4 |")
    assert rows[1].startswith("| 8^3 | a ball in the middle | 4 of 4 |")
    assert all(row.count("|") == 13 for row in table.splitlines())


def test_dense_volume_memory_runs_a_case_in_a_fresh_process(load, tmp_path):
    script = load("dense_volume_memory")
    script.write_inputs(tmp_path, (8, 16, 16))
    argv = ["--shape", "16", "16", "8", "--window", "8", "--cases", "ball"]
    result = script.run_in_fresh_process(argv, tmp_path, "ball", 8)
    # half-window stride: z starts 0; y, x starts 0, 4, 8; the ball (radius 8/3 about
    # (3.5, 7.5, 7.5)) spans y and x 5 to 10, so every window holds some of it
    assert (result["windows"], result["grid"]) == (9, 9)
    assert result["peak"] > result["output"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_dense_speed_tables_on_cpu(load):
    text = load("dense_speed").main(["--device", "cpu", "--small", "--repeats", "1"])
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    names = [row.split(" | ")[0][2:] for row in rows]
    assert names[1:5] == [
        "none (the reference)",
        "zscore-window",
        "zscore-tomogram, statistics pass included",
        "zscore-tomogram, statistics given",
    ]
    assert names[6:] == [
        "floor: forward + autograd.grad to enc1",
        "explain_layers, 5 layers in one pass",
        "5 explain calls, one per layer",
        "explain at dec1 alone",
    ]
    assert "| 1.00 |" in rows[1] and "| 1.00 |" in rows[6]
