"""The names a Labels layer gives its label values, from its features or metadata."""

import numpy as np
import pytest
from napari.layers import Labels

from napari_respond_cam.napari_plugin.label_names import label_name

pytestmark = pytest.mark.gui


def test_features_with_an_index_column_name_the_labels():
    layer = Labels(
        np.zeros((2, 2, 2), dtype=np.int32),
        features={"index": [0, 2, 5], "class": ["background", "membrane", "ribosome"]},
    )
    assert label_name(layer, 5) == "ribosome"
    assert label_name(layer, 2) == "membrane"
    assert label_name(layer, 3) is None


def test_a_name_column_wins_over_class_and_metadata_over_features():
    features = {"index": [1], "class": ["protein"], "name": ["apoferritin"]}
    layer = Labels(np.zeros((2, 2, 2), dtype=np.int32), features=features)
    assert label_name(layer, 1) == "apoferritin"
    layer.metadata["label_names"] = {1: "from metadata"}
    assert label_name(layer, 1) == "from metadata"


def test_metadata_keys_may_be_strings_as_after_a_json_round_trip():
    layer = Labels(np.zeros((2, 2, 2), dtype=np.int32), metadata={"label_names": {"4": "SH1"}})
    assert label_name(layer, 4) == "SH1"


def test_a_hand_drawn_layer_names_nothing():
    layer = Labels(np.zeros((2, 2, 2), dtype=np.int32))
    assert label_name(layer, 1) is None
    layer.features = {"area": [10.0, 3.0]}  # features without an index column
    assert label_name(layer, 1) is None
