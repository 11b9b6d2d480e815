import numpy as np
import torch

from napari_respond_cam import load_model
from napari_respond_cam.cli import main
from napari_respond_cam.training import TrainingConfig, train

TINY = TrainingConfig(
    input_size=16, channels=(2, 2, 2, 2), dense=(4, 4), snrs=(None, 0.5),
    n_train=16, n_validation=6, epochs=2, batch_size=8,
)  # fmt: skip


def test_training_is_deterministic_and_logs_every_epoch():
    lines = []
    first, history = train(TINY, log=lines.append)
    second, _ = train(TINY, log=lambda line: None)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2")
    assert set(history.accuracy[-1]) == {"inf", "0.5"}
    assert all(0.0 <= a <= 1.0 for a in history.accuracy[-1].values())
    assert np.isfinite(history.loss).all()
    assert first.class_names[-1] == "empty" and len(first.class_names) == 6
    assert not first.training


def test_command_line_writes_a_checkpoint_load_model_reads(tmp_path, capsys):
    out = tmp_path / "model.pt"
    args = ["train", "--out", str(out), "--epochs", "1", "--n-train", "12", "--n-validation", "6",
            "--snrs", "inf", "--architecture", "cnn2"]  # fmt: skip
    assert main(args) == 0
    model = load_model(out)
    assert model.architecture == "cnn2"
    assert model.input_shape == (1, 40, 40, 40)
    assert model.training_record["config"]["n_train"] == 12
    # What the simulated subtomograms were: normalised per cube, at 11.4 Å voxels.
    assert model.preprocessing.kind == "zscore-window" and model.voxel_size_a == 11.4
    assert "epoch 1/1" in capsys.readouterr().out
    assert main(args) == 1  # never overwrites
    assert "exists" in capsys.readouterr().err


def test_command_line_checks_its_arguments_before_training(tmp_path, capsys):
    for args, message in [
        (["--out", str(tmp_path / "model.onnx")], "must end in .pt"),
        (["--out", str(tmp_path / "missing" / "model.pt")], "does not exist"),
        (["--out", str(tmp_path / "model.pt"), "--epochs", "0"], "at least 1"),
        (["--out", str(tmp_path / "model.pt"), "--snrs", "inf,loud"], "is not a list"),
        (["--out", str(tmp_path / "model.pt"), "--architecture", "vgg"], "Unknown architecture"),
    ]:
        assert main(["train", *args]) == 1
        assert message in capsys.readouterr().err
