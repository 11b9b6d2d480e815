"""A run's life in the widget: progress, both Cancel buttons, the results box, closing."""

import numpy as np
import pytest
from napari._qt.widgets.qt_progress_bar import QtLabeledProgressBar
from napari.utils import progress
from qtpy.QtCore import QThreadPool

from napari_respond_cam.napari_plugin.dock_widget import PROGRESS_LABEL, RespondCamWidget
from napari_respond_cam.napari_plugin.explain_worker import JobWords, WorkerJob
from napari_respond_cam.napari_plugin.heatmap_layer import is_heatmap_layer
from napari_respond_cam.tiling.progress import EXPLANATION, STATISTICS
from tiny_classifier import noise_volume

pytestmark = pytest.mark.gui

RUN_TIMEOUT_MS = 60_000
# 16^3 windows, stride 8, batch 1: 24 batches along x, long enough to stop in between.
LONG_SHAPE = (16, 16, 200)
LONG_WINDOWS = 24
WORDS = JobWords("Working", "Cancelled.", "Failed")


@pytest.fixture
def bars():
    """napari progress bars created from here on."""
    seen = []
    progress._all_instances.events.changed.connect(lambda e: seen.extend(e.added))
    return seen


def add_tomogram(viewer, shape, name="tomo"):
    return viewer.add_image(noise_volume(shape), name=name, scale=(11.4,) * 3)


def progress_shown(widget):
    return widget.progress.native.isVisibleTo(widget.native)


def heatmaps(viewer):
    return [layer for layer in viewer.layers if is_heatmap_layer(layer)]


def start_long_run(viewer, widget, qtbot, bars):
    tomo = add_tomogram(viewer, LONG_SHAPE)
    widget.batch_size.value = 1
    widget.start_explain()
    qtbot.waitUntil(lambda: bars and bars[0].n >= 1, timeout=RUN_TIMEOUT_MS)
    return tomo


def wait_for_worker_threads(qtbot):
    """Every worker thread ended, and the signals they sent delivered."""
    assert QThreadPool.globalInstance().waitForDone(RUN_TIMEOUT_MS)
    qtbot.wait(50)


def test_cancel_in_naparis_activity_dock_stops_the_run(
    viewer, widget, qtbot, bars, new_notifications
):
    tomo = start_long_run(viewer, widget, qtbot, bars)
    before = tomo.data.copy()
    [bar_widget] = [
        w
        for w in viewer.window._qt_window._activity_dialog.findChildren(QtLabeledProgressBar)
        if w.progress is bars[0]
    ]
    assert bar_widget.cancel_button.isVisibleTo(bar_widget)

    bar_widget.cancel_button.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)

    assert heatmaps(viewer) == []
    assert bars[0].n < bars[0].total == LONG_WINDOWS
    assert "Explanation cancelled; no layer was added." in new_notifications()
    assert widget.explain_button.enabled and not progress_shown(widget)
    assert widget.results.value.startswith("Press Explain.")
    np.testing.assert_array_equal(tomo.data, before)


def test_closing_the_viewer_during_a_run_stops_it_cleanly(viewer, widget, qtbot, bars):
    start_long_run(viewer, widget, qtbot, bars)

    viewer.close()
    wait_for_worker_threads(qtbot)  # an exception in a callback would fail the test here

    assert bars[0].n < LONG_WINDOWS
    assert not widget.running


def test_closing_the_dock_during_a_run_stops_it_cleanly(viewer, widget, qtbot, bars):
    start_long_run(viewer, widget, qtbot, bars)
    dock = widget.native.parent()

    dock.destroyOnClose()  # what the dock's close button does
    wait_for_worker_threads(qtbot)

    assert bars[0].n < LONG_WINDOWS
    assert heatmaps(viewer) == []
    assert not widget.running


def test_the_widget_shows_progress_and_clears_old_numbers_while_it_runs(viewer, widget, qtbot):
    add_tomogram(viewer, (16, 16, 16), name="first")
    widget.explain_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)
    assert widget.results.value.startswith("Predicted: ")
    assert not progress_shown(widget)

    widget.volume.value = add_tomogram(viewer, (16, 24, 32), name="second")
    widget.batch_size.value = 2
    seen = []
    widget.progress.changed.connect(lambda value: seen.append((value, widget.progress.max)))
    widget.explain_button.native.click()

    assert widget.results.value == (
        "Explaining 'second' with tiny-cnn1 (Respond-CAM, predicted class)..."
    )
    assert progress_shown(widget) and widget.progress.value == 0
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)
    # 1 x 2 x 3 windows in batches of 2: the bar counts windows, not batches.
    assert seen[-1] == (6, 6)
    assert {value for value, _ in seen} <= {0, 2, 4, 6} and len(seen) >= 3
    assert widget.progress.native.text() == "6 / 6 windows"
    assert widget.progress.label == "explaining"
    assert widget.results.value.startswith("6 windows; predicted per window:")
    assert "'second'" in widget.results.value.splitlines()[-1]


def test_the_bar_names_each_pass_and_what_it_counts(viewer, widget, qtbot):
    add_tomogram(viewer, (16, 24, 32))
    widget.preprocessing.value = "zscore-tomogram"  # a pass for the statistics first
    seen = []
    widget.progress.changed.connect(
        lambda _: seen.append((widget.progress.label, widget.progress.native.text()))
    )
    widget.explain_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)

    assert seen[0] == (PROGRESS_LABEL, "starting")  # no count yet
    labels = [label for label, _ in seen[1:]]
    assert labels == sorted(labels, key=[STATISTICS.words, EXPLANATION.words].index)
    blocks = [text for label, text in seen if label == STATISTICS.words]
    windows = [text for label, text in seen if label == EXPLANATION.words]
    assert blocks and all(text.endswith(" blocks") for text in blocks)
    assert windows[-1] == "6 / 6 windows"
    widget.explain_button.native.click()  # the next run starts unnamed
    assert widget.progress.label == PROGRESS_LABEL
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)


def test_a_report_that_arrives_while_the_last_is_drawn_is_shown_after_it(qtbot):
    # napari's bar handles Qt events while it redraws, so the next report can arrive
    # inside the last one: the widget must still see them in order, ending on the last.
    shown = []
    job = WorkerJob(lambda p: None, WORDS, lambda r: None, lambda: None, lambda *r: shown.append(r))
    redraw = job._progress.update

    def update_and_let_the_next_in(n):
        redraw(n)
        if len(shown) == 0 and job._progress.n == 1:
            job._advance(2, 2, EXPLANATION)

    job._progress.update = update_and_let_the_next_in
    job._advance(1, 2, EXPLANATION)

    assert shown == [(1, 2), (2, 2)]
    assert job._progress.n == 2
    job._progress.close()


def test_the_bar_says_the_time_left_once_the_run_has_settled(viewer, widget, monkeypatch):
    from napari_respond_cam.napari_plugin import dock_widget

    clock = iter([100.0, 100.0, 101.0, 140.0, 160.0, 200.0])
    monkeypatch.setattr(dock_widget.time, "monotonic", lambda: next(clock))
    widget._progress_unit, widget._progress_started = "steps", 100.0
    shown = []
    for done in (0, 1, 10, 20, 40):
        widget._show_progress(done, 40)
        shown.append(widget.progress.native.text())
    assert shown[:2] == ["0 / 40 steps", "1 / 40 steps"]  # 1 s in: too early to say
    assert shown[2] == "10 / 40 steps, about 2 min left"  # 40 s for 10: 30 more take 120 s
    assert shown[3] == "20 / 40 steps, about 1 min left"  # 60 s for 20
    assert shown[4] == "40 / 40 steps"


def test_the_results_box_wraps_and_scrolls_at_the_default_dock_width(
    make_napari_viewer, tiny_model, qtbot
):
    viewer = make_napari_viewer(show=True)
    widget = RespondCamWidget(viewer)
    viewer.window.add_dock_widget(widget)
    add_tomogram(viewer, (16, 16, 16))
    widget.target.value = "all classes"
    widget.explain_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)
    qtbot.wait(50)

    box = widget.results.native
    text = widget.results.value
    assert len(text.splitlines()) > 12 and max(map(len, text.splitlines())) > 60
    assert box.toPlainText() == text  # every line is there, none cut
    assert box.horizontalScrollBar().maximum() == 0  # long lines wrap at the dock's width
    assert box.document().size().height() > box.viewport().height()
    assert box.verticalScrollBar().maximum() > 0  # and the rest scrolls into view
    assert box.width() <= widget.native.width()
