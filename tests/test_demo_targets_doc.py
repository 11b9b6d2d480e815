"""docs/demo_targets.py's table of more tomograms: what it counts."""

import numpy as np
import pytest

from doc_scripts import doc_script


@pytest.fixture(scope="module")
def script():
    with doc_script("demo_targets") as module:
        yield module


def test_more_tomograms_counts_wins_and_the_least_enrichment_over_tomograms_with_the_class(
    script,
):
    more = {
        "CNN-1": {
            "named": [np.array([True, True, False]), np.array([True, True])],
            "maps": [
                {"respond": {"a": 10.0, "b": 7.0}, "grad": {"a": 5.0, "b": 9.0}},
                # class b is absent from the second tomogram; a loses there
                {"respond": {"a": 3.0}, "grad": {"a": 4.0}},
            ],
        }
    }
    lines = script.more_tomograms_table(more, ["a", "b"])
    seeds = f"seeds {script.MORE_SEEDS_FROM} to {script.MORE_SEEDS_FROM + 1}"
    assert seeds in lines[1]
    assert lines[-1] == "| CNN-1 | 4 of 5 | 2 of 3 | 1 of 2, at least 3.0 | 0 of 1, at least 7.0 |"


def test_no_more_tomograms_no_table(script):
    assert script.more_tomograms_table({}, ["a"]) == []
