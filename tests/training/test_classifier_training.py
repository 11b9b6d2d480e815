import subprocess
import sys

import numpy as np
import pytest
import torch

from kernel_caps import CAPPED_CPU, environment_without_caps
from napari_respond_cam import load_model
from napari_respond_cam.cli import main
from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation import ParticleTable
from napari_respond_cam.training.classifier import (
    DEMO_RECIPES,
    Tomograms,
    TrainingConfig,
    draw_windows,
    train,
    train_and_save,
    window_batch,
)
from napari_respond_cam.training.reproducible_kernels import PINNED_CAPABILITY

# The training command pins torch's kernels in os.environ.
pytestmark = pytest.mark.usefixtures("kernel_caps_restored")

TINY = TrainingConfig(
    input_size=16, channels=(2, 2, 2, 2), dense=(4, 4), snrs=(None, 0.5),
    tomograms_per_snr=1, validation_tomograms_per_snr=1, tomogram_shape=(40, 64, 64),
    particles_per_tomogram=5, epochs=2, batch_size=8,
)  # fmt: skip


def test_training_is_deterministic_and_logs_every_epoch():
    lines = []
    first, history = train(TINY, log=lines.append)
    second, _ = train(TINY, log=lambda line: None)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert len(lines) == 4 and lines[0].startswith("simulated 2 training and 2 validation")
    assert lines[1].startswith("CPU kernels: ") and lines[2].startswith("epoch 1/2")
    assert set(history.accuracy[-1]) == {"inf", "0.5"}
    # 5 particle and 2 random windows per validation tomogram: multiples of 1/7.
    assert all(round(7 * a, 6) == round(7 * a) for a in history.accuracy[-1].values())
    assert np.isfinite(history.loss).all()
    assert first.class_names[-1] == "background" and len(first.class_names) == 6
    assert first.background_class == 5
    assert not first.training


def test_the_saved_checkpoint_gives_the_trained_model_s_scores(tmp_path):
    # The network trains in the channels-last layout; the file holds plain tensors.
    trained = train_and_save(TINY, tmp_path / "tiny.pt", log=lambda line: None)
    assert trained.conv2[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    stored = torch.load(tmp_path / "tiny.pt", weights_only=True)["state_dict"]
    assert all(tensor.is_contiguous() for tensor in stored.values())
    assert not stored["conv2.0.weight"].is_contiguous(memory_format=torch.channels_last_3d)
    loaded = load_model(tmp_path / "tiny.pt")
    x = torch.randn(3, 1, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), trained(x))


def _tomograms():
    volume = np.arange(30 * 30 * 30, dtype=np.float32).reshape(30, 30, 30)
    particles = ParticleTable(
        positions=np.array([[15, 15, 15], [10, 20, 12]]),
        class_indices=np.array([2, 4]),
        rotations=np.zeros((2, 4)),
    )
    return Tomograms([volume], [particles])


def test_validation_windows_are_centred_on_particles_and_labelled_by_them():
    config = TrainingConfig(input_size=10)
    windows = draw_windows(_tomograms(), config, None)
    # Two particle windows and 2 // 2 = 1 random one, 7 voxels along Z from the first
    # particle: inside the default radius of 10, so it is named after that particle.
    np.testing.assert_array_equal(windows.centres, [[15, 15, 15], [10, 20, 12], [22, 18, 15]])
    np.testing.assert_array_equal(windows.labels, [2, 4, 2])


def test_training_windows_move_within_the_radius_and_keep_their_label():
    config = TrainingConfig(input_size=10, label_radius=3)
    tomograms = _tomograms()
    windows = draw_windows(tomograms, config, np.random.default_rng(0))
    offsets = windows.centres[:2] - tomograms.particles[0].positions
    assert (np.abs(offsets) <= 3).all()
    # The random window at (6, 5, 8) is more than 3 voxels from both: background.
    np.testing.assert_array_equal(windows.labels, [2, 4, 5])
    # Over a few draws every offset up to the radius occurs, the radius itself included.
    drawn = {
        int(offset)
        for seed in range(10)
        for offset in (
            draw_windows(tomograms, config, np.random.default_rng(seed)).centres[:2]
            - tomograms.particles[0].positions
        ).ravel()
    }
    assert drawn == set(range(-3, 4))


def test_a_batch_is_the_z_scored_window_turned_by_a_half_turn_or_not():
    tomograms = _tomograms()
    windows = draw_windows(tomograms, TrainingConfig(input_size=10), None)
    batch = window_batch(tomograms, windows, np.array([0]), 10)
    cube = tomograms.volumes[0][10:20, 10:20, 10:20]
    expected = (cube - cube.mean()) / cube.std()
    np.testing.assert_allclose(batch[0, 0].numpy(), expected, rtol=1e-4, atol=1e-4)
    turned = {
        tuple(window_batch(tomograms, windows, np.array([0]), 10, rng)[0, 0, 0, 0, :2].tolist())
        for rng in map(np.random.default_rng, range(12))
    }
    assert len(turned) == 4  # the window as it is and its three half turns
    assert tomograms.volumes[0][0, 0, 0] == 0  # the tomogram is not touched


def test_command_line_writes_a_checkpoint_load_model_reads_with_pinned_kernels(tmp_path):
    out = tmp_path / "new folder" / "model.pt"  # created, as explain creates its --out
    args = ["train", "--out", str(out), "--epochs", "1", "--tomograms-per-snr", "1",
            "--validation-tomograms-per-snr", "1", "--snrs", "inf",
            "--architecture", "cnn2", "--threads", "2"]  # fmt: skip
    # A fresh process, as a user runs it: the kernels are capped before torch's first op.
    done = _command_line(args)
    assert done.returncode == 0, done.stderr
    model = load_model(out)
    assert model.architecture == "cnn2"
    assert model.input_shape == (1, 40, 40, 40)
    assert model.training_record["config"]["tomograms_per_snr"] == 1
    # What the network saw: windows z-scored one by one, at 11.4 Å voxels.
    assert model.preprocessing.kind == "zscore-window" and model.voxel_size_a == 11.4
    assert model.class_names[model.background_class] == "background"
    assert "epoch 1/1" in done.stdout and f"saved {out} (epoch 1)" in done.stdout
    environment = model.training_record["environment"]
    assert environment["threads"] == 2 and environment["torch"] == torch.__version__
    assert environment["numpy"] == np.__version__ and environment["device"] == "cpu"
    if CAPPED_CPU:
        assert f"CPU kernels: {PINNED_CAPABILITY}, pinned" in done.stdout
        assert environment["kernels_pinned"]
        assert environment["cpu_capability"] == PINNED_CAPABILITY
    again = _command_line(args)
    assert again.returncode == 1 and "exists" in again.stderr  # never overwrites


def _command_line(args: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "napari_respond_cam.cli", *args]
    return subprocess.run(command, env=environment_without_caps(), capture_output=True, text=True)


def test_command_line_checks_its_arguments_before_training(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file where a folder is named")
    for args, message in [
        (["--out", str(tmp_path / "model.onnx")], "must end in .pt"),
        (["--out", str(tmp_path / "notes.txt" / "model.pt")], "notes.txt is a file, not a"),
        (["--out", str(tmp_path / "model.pt"), "--epochs", "0"], "--epochs must be at least 1"),
        (
            ["--out", str(tmp_path / "model.pt"), "--tomograms-per-snr", "0"],
            "--tomograms-per-snr must be at least 1, got 0",
        ),
        (
            ["--out", str(tmp_path / "model.pt"), "--learning-rate", "0"],
            "--learning-rate must be > 0, got 0.0",
        ),
        (["--out", str(tmp_path / "model.pt"), "--threads", "0"], "--threads must be at least 1"),
        (["--out", str(tmp_path / "model.pt"), "--snrs", "inf,loud"], "is not a list"),
        (["--out", str(tmp_path / "model.pt"), "--architecture", "vgg"], "not 'vgg'; pick one"),
        (
            ["--out", str(tmp_path / "model.pt"), "--architecture", "unet3d"],
            "Training makes the paper's classifiers ('cnn1', 'cnn2'), not 'unet3d'; pick one of "
            "them (--architecture on the command line, architecture= in TrainingConfig); the "
            "demo U-Net trains with python -m napari_respond_cam.training.segmentation.",
        ),
    ]:
        assert main(["train", *args]) == 1
        assert message in capsys.readouterr().err


def test_each_architecture_takes_its_demo_schedule_unless_given_one():
    assert (TrainingConfig().epochs, TrainingConfig().learning_rate) == DEMO_RECIPES["cnn1"][:2]
    cnn2 = TrainingConfig(architecture="cnn2")
    assert (cnn2.epochs, cnn2.learning_rate) == DEMO_RECIPES["cnn2"][:2]
    chosen = TrainingConfig(architecture="cnn2", epochs=3, learning_rate=0.5)
    assert (chosen.epochs, chosen.learning_rate) == (3, 0.5)
    with pytest.raises(RespondCamError, match=r"must be positive .* got -3 and 0.001"):
        TrainingConfig(epochs=-3, learning_rate=1e-3)


def test_each_architecture_takes_its_demo_seed_unless_given_one():
    for architecture, recipe in DEMO_RECIPES.items():
        assert TrainingConfig(architecture=architecture).seed == recipe.seed
    assert TrainingConfig(architecture="cnn2", seed=7).run_seed == 7
    assert TrainingConfig(architecture="cnn2", seed=0).seed == 0  # 0 is a seed, not "none"
    assert DEMO_RECIPES["cnn2"].seed == 2  # the run docs/choose_demo_seed.py chose


def test_dropout_outside_0_to_1_is_refused_before_any_work():
    with pytest.raises(RespondCamError, match="dropout must be at least 0 and below 1, got 1.5"):
        TrainingConfig(dropout=1.5)
