"""Two runs on one model at once (the widget's worker and a console call) take turns."""

import gc
import threading
import weakref

import numpy as np
import pytest
import torch

from napari_respond_cam import explain, explain_volume
from napari_respond_cam.engine.model_state import exclusive_use
from toy_models import DenseHead

X = torch.rand(2, 1, 8, 8, 8, generator=torch.Generator().manual_seed(1))
VOLUME = np.random.default_rng(2).random((8, 8, 8)).astype(np.float32)


def half_in_training() -> DenseHead:
    """A model in training mode with one layer in eval mode: flags a run must restore."""
    torch.manual_seed(0)
    model = DenseHead(dims=3, classes=4).train()
    model.fc1.eval()
    return model


def flags(model):
    return [module.training for module in model.modules()]


def first_as_explain(model):
    return explain(model, X, "pool", target=1).cam


def first_as_explain_volume(model):
    return explain_volume(model, VOLUME, "pool", target=1, window=8)


@pytest.mark.parametrize("first_run", [first_as_explain, first_as_explain_volume])
def test_a_second_run_waits_for_the_first_and_both_leave_the_model_as_found(first_run):
    model = half_in_training()
    before = flags(model)
    x_before, volume_before = X.clone(), VOLUME.copy()
    expected_first = first_run(model)
    expected_second = explain(model, X, "pool", target=2).cam
    events, inside, release = [], threading.Event(), threading.Event()

    def hold_the_first_pass(module, args, output):
        events.append(threading.current_thread().name)
        if not inside.is_set():
            inside.set()
            release.wait(timeout=10)

    handle = model.conv.register_forward_hook(hold_the_first_pass)
    results = {}
    first = threading.Thread(target=lambda: results.update(first=first_run(model)), name="first")
    second = threading.Thread(
        target=lambda: results.update(second=explain(model, X, "pool", target=2).cam),
        name="second",
    )
    first.start()
    assert inside.wait(timeout=10)
    second.start()
    second.join(timeout=0.3)  # long enough for an unguarded second run to reach the model
    events.append("released")
    release.set()
    first.join(timeout=10)
    second.join(timeout=10)
    handle.remove()

    assert events == ["first", "released", "second"]
    np.testing.assert_array_equal(results["first"], expected_first)
    np.testing.assert_array_equal(results["second"], expected_second)
    assert flags(model) == before
    torch.testing.assert_close(X, x_before, rtol=0, atol=0)
    np.testing.assert_array_equal(VOLUME, volume_before)


def test_a_run_on_a_thread_that_already_holds_the_model_does_not_wait_for_itself():
    model = half_in_training()
    expected = explain(model, X, "pool", target=0).cam
    maps = []

    def nested():
        with exclusive_use(model):
            maps.append(explain(model, X, "pool", target=0).cam)

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    np.testing.assert_array_equal(maps[0], expected)


def test_the_lock_does_not_keep_a_dropped_model_alive():
    model = half_in_training()
    explain(model, X, "pool")
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_a_waiting_run_reads_the_models_placement_after_the_other_run_put_it_back():
    # A run on another device moves the model for its duration; one that waits for it
    # must not send its inputs where the model was meanwhile. On a CPU-only machine the
    # dtype stands in for the device: both are read when the run is prepared.
    model = half_in_training()
    expected = explain(model, X, "pool", target=2).cam
    moved, release, results = threading.Event(), threading.Event(), {}

    def run_elsewhere():
        with exclusive_use(model):
            model.double()
            moved.set()
            release.wait(timeout=10)
            model.float()

    other = threading.Thread(target=run_elsewhere)
    other.start()
    assert moved.wait(timeout=10)
    waiting = threading.Thread(
        target=lambda: results.update(cam=explain(model, X, "pool", target=2).cam)
    )
    waiting.start()
    waiting.join(timeout=0.3)
    release.set()
    other.join(timeout=10)
    waiting.join(timeout=10)
    np.testing.assert_array_equal(results["cam"], expected)
