"""The benchmark scripts run end to end at tiny sizes (their numbers matter only on a GPU)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_explain_speed_table_on_cpu(monkeypatch):
    script = load("explain_speed")
    # one repeat and a smaller volume keep this a smoke test
    monkeypatch.setattr(script, "volume_rate", lambda case, side, device: (1.0, 1))
    text = script.main(["--device", "cpu", "--small", "--repeats", "1", "--batch", "2"])
    rows = [line for line in text.splitlines() if line.startswith("| CNN-1") or "U-Net" in line]
    assert any("floor" in row and "| 1.00 |" in row for row in rows)
    assert any("all 5 classes in one call" in row for row in rows)
    assert any("maps vs fp32: r = 0.99" in row for row in rows)
