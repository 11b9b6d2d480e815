"""The benchmark scripts run end to end at tiny sizes (their numbers matter only on a GPU)."""

import argparse
import importlib
from pathlib import Path

import pytest
import torch

from napari_respond_cam import region_target
from napari_respond_cam.models.paper_cnns import CNN1

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
