"""docs/reproduce_paper.py runs end to end on a tiny test set."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).parents[1] / "docs" / "reproduce_paper.py"


def load_script():
    spec = importlib.util.spec_from_file_location("reproduce_paper", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reproduction_end_to_end(tmp_path):
    script = load_script()
    out = tmp_path / "measurements.md"
    assert script.main(["--n", "6", "--batch-size", "6", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    rows = [line for line in lines if line.startswith("| CNN-")]
    assert len(rows) == 8  # 2 models x 2 SNRs x 2 methods


def test_respond_cam_sums_to_score_minus_bias_and_grad_cam_does_not():
    script = load_script()
    rows = {(m, s, k): v for m, s, k, v in script.run(6, batch_size=6)}
    for model in ("CNN-1", "CNN-2"):
        respond = rows[(model, "inf", "Respond-CAM")]
        grad = rows[(model, "inf", "Grad-CAM")]
        assert respond["l1_bias"].max() < 1e-3
        assert np.median(grad["l1_bias"]) > 100 * np.median(respond["l1_bias"])
        assert np.all((respond["inside"] >= 0) & (respond["inside"] <= 1))
