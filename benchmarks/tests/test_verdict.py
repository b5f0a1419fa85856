"""The verdict: the most robust model under the worst case, in plain words."""

from __future__ import annotations

import pytest

from benchmarks._verdict import rank, verdict


def _row(sa, wc, transfer=None, built_on=None):
    from sklearn_daeknn import harmonic_mean

    row = {"SA": sa, "worst_case_AA": wc, "worst_case_HM": harmonic_mean(sa, wc)}
    if transfer is not None:
        row["AA_transfer"] = transfer
    if built_on is not None:
        row["built_on"] = built_on
    return row


def _rows(daeknn_wc, at_cnn_wc):
    return {
        "KNN": _row(0.95, 0.01, transfer=0.6),
        "CNN": _row(0.99, 0.0, transfer=0.0),
        "AT-CNN": _row(0.98, at_cnn_wc, transfer=0.86),
        "DkNN": _row(0.98, 0.02, transfer=0.05, built_on="CNN"),
        "DAEkNN": _row(0.976, daeknn_wc, transfer=0.867, built_on="AT-CNN"),
    }


def test_a_vote_that_beats_its_network():
    v = verdict(_rows(daeknn_wc=0.757, at_cnn_wc=0.70))
    assert v["most_robust"] == "DAEkNN" and not v["network_wins"]
    assert v["ranking"][:2] == ["DAEkNN", "AT-CNN"]
    assert v["sentences"][0].startswith(
        "Most robust under the worst case over every attack: DAEkNN, with 75.7% "
        "worst-case adversarial accuracy"
    )
    assert "next AT-CNN with 70.0%" in v["sentences"][0]
    assert (
        "DAEkNN's vote keeps 75.7% under the worst case, above its own AT-CNN's 70.0%."
        in v["sentences"]
    )
    assert v["votes_below_their_network"] == []
    # The transfer figure overstates the winner's robustness, and says so.
    assert v["sentences"][-1] == (
        "The paper's PGD figure of DAEkNN (86.7%) overstates its worst case (75.7%)."
    )


def test_the_network_alone_wins():
    v = verdict(_rows(daeknn_wc=0.612, at_cnn_wc=0.835))
    assert v["most_robust"] == "AT-CNN" and v["network_wins"]
    assert v["sentences"][1] == (
        "The network alone (AT-CNN) beats every kNN vote: under the worst case "
        "the votes add no robustness in this run."
    )
    assert (
        "DAEkNN's vote keeps 61.2% under the worst case, below its own AT-CNN's 83.5%."
        in v["sentences"]
    )
    assert v["votes_below_their_network"] == ["DAEkNN"]
    # Ranked by transfer alone DAEkNN would come first: the verdict says so.
    assert v["sentences"][-1].startswith(
        "Ranked by the paper's PGD figures alone (transferred to the kNN rows), "
        "DAEkNN would come first with 86.7%; its worst case is 61.2%."
    )


def test_the_networks_attacks_are_named():
    rows = _rows(daeknn_wc=0.612, at_cnn_wc=0.835)
    rows["AT-CNN"]["attacks"] = {"PGD": {}, "AutoAttack": {}}
    assert (
        "DAEkNN's vote keeps 61.2% under the worst case, below its own AT-CNN's "
        "83.5% under PGD and AutoAttack." in verdict(rows)["sentences"]
    )


def test_ties_keep_the_tables_order_and_are_named():
    rows = {"A": _row(0.9, 0.5), "B": _row(0.9, 0.5)}
    v = verdict(rows)
    assert v["ranking"] == ["A", "B"]
    assert v["sentences"][0].endswith(", tied with B.")
    assert rank({"B": rows["B"], "A": rows["A"]}) == ["B", "A"]


def test_hm_breaks_equal_worst_cases():
    rows = {"A": _row(0.80, 0.5), "B": _row(0.95, 0.5)}
    assert rank(rows) == ["B", "A"]


def test_no_rows():
    with pytest.raises(ValueError, match="rows is empty"):
        verdict({})
