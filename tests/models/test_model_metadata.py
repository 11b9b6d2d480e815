"""Model metadata: class-name fallbacks, and attributes stored and restored as files hold them."""

import json

from torch import nn

from napari_respond_cam.engine.class_index import class_label, fallback_class_names
from napari_respond_cam.models.model_metadata import attach_metadata, class_names_for, metadata_of


def test_unnamed_classes_are_numbered():
    assert fallback_class_names(3) == ["class 0", "class 1", "class 2"]
    assert fallback_class_names(0) == []


def test_names_are_used_only_when_there_is_one_per_class():
    assert class_names_for(("a", "b"), 2) == ["a", "b"]
    assert class_names_for(("a", "b"), 3) == ["class 0", "class 1", "class 2"]
    assert class_names_for(None, 1) == ["class 0"]
    assert [class_label(i, ("a", "b")) for i in (0, 1, 2)] == ["a", "b", "class 2"]


def test_metadata_survives_a_json_round_trip_onto_a_fresh_module():
    model = nn.Linear(2, 2)
    model.class_names = ("ribosome", "membrane")
    model.input_shape = (1, 40, 40, 40)
    model.training_record = {"epochs": 6}
    stored = json.loads(json.dumps(metadata_of(model)))
    assert stored == {
        "class_names": ["ribosome", "membrane"],
        "input_shape": [1, 40, 40, 40],
        "training": {"epochs": 6},
    }
    fresh = nn.Linear(2, 2)
    attach_metadata(fresh, stored)
    assert fresh.class_names == ("ribosome", "membrane")
    assert fresh.input_shape == (1, 40, 40, 40)
    assert fresh.training_record == {"epochs": 6}


def test_a_model_without_metadata_stores_none_and_gains_none():
    assert metadata_of(nn.Linear(2, 2)) == {}
    bare = nn.Linear(2, 2)
    attach_metadata(bare, {"class_names": [], "unrelated": 1})
    assert not hasattr(bare, "class_names") and not hasattr(bare, "unrelated")


def test_a_background_class_of_zero_survives_the_round_trip():
    model = nn.Linear(2, 6)
    model.class_names = ("background", "a", "b", "c", "d", "e")
    model.background_class = 0
    stored = json.loads(json.dumps(metadata_of(model)))
    assert stored["background_class"] == 0
    fresh = nn.Linear(2, 6)
    attach_metadata(fresh, stored)
    assert fresh.background_class == 0 and isinstance(fresh.background_class, int)
    assert fresh.class_names[fresh.background_class] == "background"
