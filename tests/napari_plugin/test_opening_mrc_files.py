"""Which of napari's ways to open a file reach our reader, with real files and a viewer.

``napari tomo.mrc`` (napari's ``__main__``) and File > Open both go through
``QtViewer._qt_open`` with no plugin named; drag and drop through ``dropEvent``.
``viewer.open(path)`` names napari's own reader by default, which refuses MRC files:
scripts must pass ``plugin="napari-respond-cam"`` (or ``plugin=None``).
"""

import numpy as np
import pytest
from qtpy.QtCore import QMimeData, QPointF, Qt, QUrl
from qtpy.QtGui import QDropEvent

from napari_respond_cam.mrc_io import write_mrc

pytestmark = pytest.mark.gui

EXTENSIONS = ("mrc", "rec", "map", "st", "ali", "mrcs")


@pytest.fixture(params=EXTENSIONS)
def mrc_file(request, tmp_path):
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    return write_mrc(tmp_path / f"tomo.{request.param}", data, voxel_size=(2.0, 2.0, 2.0))


def opened(viewer, open_it):
    before = len(viewer.layers)
    open_it()
    [layer] = viewer.layers[before:]
    np.testing.assert_array_equal(layer.data, np.arange(60).reshape(3, 4, 5))
    np.testing.assert_allclose(layer.scale, [2.0, 2.0, 2.0])  # read by our reader
    return layer


def test_every_way_to_open_but_the_default_viewer_open_uses_our_reader(
    make_napari_viewer, mrc_file
):
    viewer = make_napari_viewer()
    qt_viewer = viewer.window._qt_viewer
    path = str(mrc_file)

    opened(viewer, lambda: viewer.open(path, plugin="napari-respond-cam"))
    opened(viewer, lambda: viewer.open(path, plugin=None))
    opened(viewer, lambda: qt_viewer._qt_open([path], stack=False))  # CLI, File > Open

    def drop():
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(path)])
        qt_viewer.dropEvent(
            QDropEvent(
                QPointF(5, 5),
                Qt.DropAction.CopyAction,
                mime,
                Qt.MouseButton.NoButton,
                Qt.KeyboardModifier.NoModifier,
            )
        )

    opened(viewer, drop)

    # napari 0.9's viewer.open defaults to plugin="napari", which no manifest can change.
    layers = len(viewer.layers)
    with pytest.raises(ValueError, match="Available readers .* are: \\['napari-respond-cam'\\]"):
        viewer.open(path)
    assert len(viewer.layers) == layers
