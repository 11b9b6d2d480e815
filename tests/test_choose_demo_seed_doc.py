"""docs/choose_demo_seed.py: which run it chooses, and its table."""

import pytest

from doc_scripts import doc_script


@pytest.fixture(scope="module")
def script():
    with doc_script("choose_demo_seed") as module:
        yield module


def test_the_most_cells_won_choose_and_the_least_ratio_breaks_a_tie(script):
    make = script.Candidate
    steady = make("seed 0", 29, 30, ((2.0, 1.0), (1.1, 1.0), (0.9, 1.0)))
    bold = make("seed 1", 30, 30, ((4.0, 1.0), (3.0, 1.0), (0.5, 1.0)))
    sure = make("seed 2", 28, 30, ((1.2, 1.0), (1.2, 1.0), (1.2, 1.0)))
    assert (steady.wins, bold.wins, sure.wins) == (2, 2, 3)
    assert script.chosen([steady, bold, sure]) is sure
    assert script.chosen([steady, bold]) is steady  # 0.9 beats 0.5
    assert bold.geometric_mean_ratio == pytest.approx((4 * 3 * 0.5) ** (1 / 3))
    # a class map with no positive mass (nan) leads nowhere and is the least ratio
    empty = make("seed 3", 30, 30, ((float("nan"), 1.0), (2.0, 0.0), (2.0, 1.0)))
    assert empty.wins == 2 and empty.ratios == [0.0, float("inf"), 2.0]
    assert empty.least_ratio == 0.0 and empty.geometric_mean_ratio == 2.0


def test_the_table_names_each_run_and_the_chosen_one(script):
    runs = [
        script.Candidate("seed 0", 29, 30, ((2.0, 1.0), (0.9, 1.0))),
        script.Candidate("seed 1", 30, 30, ((2.0, 1.0), (1.5, 1.0))),
    ]
    text = script.table("CNN-2", runs, range(5001, 5003))
    lines = text.splitlines()
    assert "(seeds 5001 to 5002, used by no other table)" in lines[0]
    assert lines[4] == "| seed 0 | 29 of 30 | 1 of 2 | 0.900 | 1.34 |"
    assert lines[5] == "| seed 1 | 30 of 30 | 2 of 2 | 1.500 | 1.73 |"
    assert lines[-1] == "Chosen: seed 1 (the most cells ahead, then the largest least ratio)."
