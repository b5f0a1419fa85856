"""The verdict of a run, in plain words: which model is most robust under the
worst case, and whether each kNN vote beats the network it is built on.

It reads rows as :func:`~benchmarks._suite.row_suite` (or
:func:`sklearn_daeknn.robustness_report`) returns them: ``SA``,
``worst_case_AA``, ``worst_case_HM`` and, where present, ``AA_transfer``
(the paper's protocol) and ``built_on`` (the network row of a vote). The
ranking is by the worst case only; the transfer figures never rank.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["pct", "rank", "verdict"]


def pct(value: float) -> str:
    """A fraction as a percentage with one decimal.

    Examples
    --------
    >>> pct(0.612)
    '61.2%'
    """
    return f"{100 * value:.1f}%"


def rank(rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Row names, most robust first: worst-case AA, then worst-case HM, then SA.

    Equal rows keep their order in ``rows``.

    Examples
    --------
    >>> rank({"a": {"worst_case_AA": .5, "worst_case_HM": .6, "SA": .9},
    ...       "b": {"worst_case_AA": .7, "worst_case_HM": .8, "SA": .9}})
    ['b', 'a']
    """
    order = list(rows)
    return sorted(
        order,
        key=lambda n: (
            -rows[n]["worst_case_AA"],
            -rows[n]["worst_case_HM"],
            -rows[n]["SA"],
            order.index(n),
        ),
    )


def _is_network(rows: Mapping[str, Mapping[str, Any]], name: str) -> bool:
    return any(r.get("built_on") == name for r in rows.values())


def verdict(
    rows: Mapping[str, Mapping[str, Any]], attacks: str = "every attack"
) -> dict[str, Any]:
    """The ranking and the sentences that say what a run showed.

    Parameters
    ----------
    rows : dict of str to dict
        Per model, its scores (see the module's notes).
    attacks : str, default="every attack"
        What the worst case was taken over, in words.

    Returns
    -------
    verdict : dict
        ``most_robust`` (a row name), ``ranking`` (most robust first),
        ``network_wins`` (whether a network alone is the most robust),
        ``votes_below_their_network`` (the votes whose worst case is below
        their network's) and ``sentences`` (the plain-words verdict).

    Examples
    --------
    >>> rows = {
    ...     "AT-CNN": {"SA": .98, "worst_case_AA": .835, "worst_case_HM": .9},
    ...     "DAEkNN": {"SA": .97, "worst_case_AA": .612, "worst_case_HM": .75,
    ...                "AA_transfer": .867, "built_on": "AT-CNN"},
    ... }
    >>> v = verdict(rows)
    >>> v["most_robust"], v["network_wins"]
    ('AT-CNN', True)
    >>> print(v["sentences"][2])
    DAEkNN's vote keeps 61.2% under the worst case, below its own AT-CNN's 83.5%.
    """
    if not rows:
        raise ValueError("rows is empty: there is nothing to rank.")
    ranking = rank(rows)
    best = ranking[0]
    b = rows[best]
    first = (
        f"Most robust under the worst case over {attacks}: {best}, with "
        f"{pct(b['worst_case_AA'])} worst-case adversarial accuracy (HM "
        f"{pct(b['worst_case_HM'])}, clean accuracy {pct(b['SA'])})"
    )
    if len(ranking) > 1:
        runner = ranking[1]
        tie = rows[runner]["worst_case_AA"] == b["worst_case_AA"]
        first += (
            f", tied with {runner}"
            if tie
            else f"; next {runner} with {pct(rows[runner]['worst_case_AA'])}"
        )
    sentences = [first + "."]
    network_wins = _is_network(rows, best)
    if network_wins:
        sentences.append(
            f"The network alone ({best}) beats every kNN vote: under the worst "
            "case the votes add no robustness in this run."
        )
    below = []
    for name in ranking:
        row = rows[name]
        network = row.get("built_on")
        if network not in rows:
            continue
        n = rows[network]
        if row["worst_case_AA"] < n["worst_case_AA"]:
            below.append(name)
            word = "below"
        elif row["worst_case_AA"] > n["worst_case_AA"]:
            word = "above"
        else:
            word = "equal to"
        under = ""
        if n.get("attacks"):
            under = f" under {' and '.join(n['attacks'])}"
        sentences.append(
            f"{name}'s vote keeps {pct(row['worst_case_AA'])} under the worst "
            f"case, {word} its own {network}'s {pct(n['worst_case_AA'])}{under}."
        )
    transfer = {n: r["AA_transfer"] for n, r in rows.items() if "AA_transfer" in r}
    if transfer:
        top = max(transfer, key=lambda n: (transfer[n], -list(rows).index(n)))
        worst = pct(rows[top]["worst_case_AA"])
        if top != best:
            sentences.append(
                f"Ranked by the paper's PGD figures alone (transferred to the kNN "
                f"rows), {top} would come first with {pct(transfer[top])}; its "
                f"worst case is {worst}."
            )
        elif transfer[top] > rows[top]["worst_case_AA"]:
            sentences.append(
                f"The paper's PGD figure of {top} ({pct(transfer[top])}) "
                f"overstates its worst case ({worst})."
            )
    return {
        "most_robust": best,
        "ranking": ranking,
        "network_wins": network_wins,
        "votes_below_their_network": below,
        "sentences": sentences,
    }
