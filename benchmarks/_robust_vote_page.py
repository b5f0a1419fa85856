"""The robust-vote study's page, generated from its results (the JSON).

Everything the page states is read from the results: the commands, the
machine, the sizes, the settings, the figures, the choice per lever and the
verdict against the adversarially trained network under AutoAttack.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "beats",
    "choose",
    "comparisons",
    "markdown",
    "mcnemar_p",
    "paired",
    "pick",
    "verdict",
]

_COLUMNS = (
    "model",
    "SA",
    "transfer PGD",
    "transfer AA",
    "adaptive",
    "AA on surrogate",
    "worst-case AA",
    "worst-case HM",
    "fit s",
    "predict ms",
)


def choose(results: list[dict], min_sa: float) -> int:
    """The chosen setting: highest worst-case AA among those with SA >= min_sa,
    else highest worst-case HM (the first on ties).

    Examples
    --------
    >>> rows = [{"SA": 0.99, "worst_case_AA": 0.5, "worst_case_HM": 0.66},
    ...         {"SA": 0.97, "worst_case_AA": 0.7, "worst_case_HM": 0.81},
    ...         {"SA": 0.985, "worst_case_AA": 0.6, "worst_case_HM": 0.75}]
    >>> choose(rows, 0.98), choose(rows, 0.995)
    (2, 1)
    """
    eligible = [i for i, r in enumerate(results) if r["SA"] >= min_sa]
    if eligible:
        return max(eligible, key=lambda i: (results[i]["worst_case_AA"], -i))
    return max(range(len(results)), key=lambda i: (results[i]["worst_case_HM"], -i))


def pick(results: dict[str, Any]) -> str | None:
    """The study's pick: the lever whose chosen setting wins :func:`choose`
    over every lever's choice (on the validation split, as every choice).

    Examples
    --------
    >>> row = {"SA": 0.99, "worst_case_HM": 0.8}
    >>> results = {"config": {"min_sa": 0.98}, "levers": {
    ...     "a": {"chosen": 0, "validation": [{**row, "worst_case_AA": 0.7}]},
    ...     "b": {"chosen": 0, "validation": [{**row, "worst_case_AA": 0.8}]}}}
    >>> pick(results)
    'b'
    """
    names = list(results["levers"])
    if not names:
        return None
    rows = [
        results["levers"][n]["validation"][results["levers"][n]["chosen"]]
        for n in names
    ]
    return names[choose(rows, results["config"]["min_sa"])]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _stderr_pct(p: float, n: int) -> float:
    """One standard error of an accuracy ``p`` on ``n`` images, in points."""
    return 100 * math.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))


def _table(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def paired(test: dict[str, Any], network: dict[str, Any]) -> tuple[int, int] | None:
    """The discordant test images: (held by the vote alone, by the network alone).

    ``None`` unless both rows carry per-input figures of the same images
    (rows scored before the study kept them do not).

    Examples
    --------
    >>> paired({"robust_per_input": "1100"}, {"AutoAttack_per_input": "1010"})
    (1, 1)
    >>> paired({"worst_case_AA": 0.5}, {"AutoAttack_per_input": "1010"}) is None
    True
    """
    vote = test.get("robust_per_input")
    net = network.get("AutoAttack_per_input")
    if not vote or not net or len(vote) != len(net):
        return None
    pairs = list(zip(vote, net, strict=True))
    return pairs.count(("1", "0")), pairs.count(("0", "1"))


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value of ``b`` against ``c`` discordant pairs.

    Examples
    --------
    >>> mcnemar_p(5, 5)
    1.0
    >>> round(mcnemar_p(10, 0), 4)
    0.002
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def _gap(test: dict[str, Any], network: dict[str, Any]) -> tuple[float, float]:
    """(worst-case AA minus the network's AutoAttack AA, one standard error of
    that difference), in points.

    On the same test images the two are correlated, so the standard error is
    that of the mean per-input difference where both rows carry per-input
    figures (:func:`paired`); else that of two independent accuracies, which
    is larger.
    """
    n = test["n_samples"]
    line = network["AutoAttack_AA"]
    gap = 100 * (test["worst_case_AA"] - line)
    discordant = paired(test, network)
    if discordant is None:
        se = math.hypot(_stderr_pct(test["worst_case_AA"], n), _stderr_pct(line, n))
    else:
        b, c = discordant
        variance = (b + c) / n - ((b - c) / n) ** 2
        se = 100 * math.sqrt(max(variance, 1e-12) / n)
    return gap, se


def comparisons(results: dict[str, Any]) -> dict[str, Any]:
    """The derived figures the page states, to be stored with the results.

    Per lever, the gap of its test worst-case AA to the line and one standard
    error of that gap (points), and where the rows carry per-input figures
    the discordant images and the exact McNemar p-value; the standard error
    of an accuracy near 80% on the test images.
    """
    network = results["network"]["test"]
    out: dict[str, Any] = {
        "stderr_points_near_80": round(_stderr_pct(0.8, results["sizes"]["test"]), 1)
    }
    for name, lever in results["levers"].items():
        gap, se = _gap(lever["test"], network)
        discordant = paired(lever["test"], network)
        out[name] = {
            "gap_points": round(gap, 1),
            "stderr_points": round(se, 1),
            "paired": discordant is not None,
            "beats": beats(lever["test"], network, results["config"]["min_sa"]),
        }
        if discordant is not None:
            out[name]["vote_only"], out[name]["network_only"] = discordant
            # Two significant figures, as the page writes it: rounding to
            # decimals would store a small p-value as 0.0002 or 0.0.
            out[name]["mcnemar_p"] = float(f"{mcnemar_p(*discordant):.2g}")
    out["pick"] = pick(results)
    return out


def beats(test: dict[str, Any], network: dict[str, Any], min_sa: float) -> bool:
    """Whether a configuration's test figures beat the network's line.

    Beating means a worst-case AA above the network's AutoAttack AA by more
    than two standard errors of the difference, at an SA of at least
    ``min_sa``: a gap within the noise of the test images is no win.

    Examples
    --------
    >>> net = {"AutoAttack_AA": 0.88}
    >>> beats({"worst_case_AA": 0.95, "SA": 0.99, "n_samples": 1000}, net, 0.98)
    True
    >>> beats({"worst_case_AA": 0.89, "SA": 0.99, "n_samples": 1000}, net, 0.98)
    False
    >>> beats({"worst_case_AA": 0.95, "SA": 0.97, "n_samples": 1000}, net, 0.98)
    False
    """
    gap, se = _gap(test, network)
    return gap > 2 * se and test["SA"] >= min_sa


def _comparison(test: dict[str, Any], network: dict[str, Any], min_sa: float) -> str:
    gap, se = _gap(test, network)
    if beats(test, network, min_sa):
        return "beats"
    if gap < -2 * se:
        return "is below"
    if gap > 2 * se:  # above, but under the clean-accuracy floor
        return "is above, at too low an SA to count,"
    return "is level with (within two standard errors)"


def _noise(test: dict[str, Any], network: dict[str, Any]) -> str:
    """The gap's standard error in words, paired where the rows allow."""
    gap, se = _gap(test, network)
    discordant = paired(test, network)
    if discordant is None:
        return (
            f"{gap:+.1f} points; one standard error of the difference is "
            f"about {se:.1f}, taken as unpaired since the rows keep no "
            "per-input figures, which overstates it"
        )
    b, c = discordant
    return (
        f"{gap:+.1f} points; one standard error of the paired difference is "
        f"about {se:.1f}: {b} test images held by the vote alone, {c} by the "
        f"network alone, exact McNemar p = {mcnemar_p(b, c):.2g}"
    )


def _floor(test: dict[str, Any], min_sa: float) -> str:
    return "" if test["SA"] >= min_sa else f" (below the SA floor {_pct(min_sa)})"


def verdict(results: dict[str, Any]) -> list[str]:
    """Plain words per lever: does its chosen setting beat the network?"""
    network = results["network"]["test"]
    min_sa = results["config"]["min_sa"]
    lines = []
    for name, lever in results["levers"].items():
        test = lever["test"]
        word = _comparison(test, network, min_sa)
        floor = _floor(test, min_sa)
        lines.append(
            f"- **{name}** (chose `{test['setting']}` on the validation split): "
            f"worst-case AA {_pct(test['worst_case_AA'])} at SA "
            f"{_pct(test['SA'])}{floor} {word} the network's AutoAttack AA "
            f"{_pct(network['AutoAttack_AA'])} ({_noise(test, network)})."
        )
    return lines


def _row(label: str, r: dict[str, Any]) -> list[str]:
    aa = r["AA"]
    return [
        label,
        _pct(r["SA"]),
        _pct(aa["transfer PGD"]),
        _pct(aa["transfer AutoAttack"]),
        _pct(aa["adaptive"]),
        _pct(aa["AutoAttack on surrogate"]),
        _pct(r["worst_case_AA"]),
        _pct(r["worst_case_HM"]),
        f"{r['fit_s']:.1f}",
        f"{r['predict_ms_per_image']:.2f}",
    ]


def _network_row(net: dict[str, Any]) -> list[str]:
    return [
        "AT-CNN (the network)",
        _pct(net["SA"]),
        _pct(net["PGD_AA"]),
        f"**{_pct(net['AutoAttack_AA'])}** (AutoAttack on the network)",
        "-",
        "-",
        _pct(net["worst_case_AA"]),
        _pct(net["worst_case_HM"]),
        "-",
        "-",
    ]


def _head(results: dict[str, Any]) -> str:
    cfg = results["config"]
    commands = "\n".join(f"    {c}" for c in results["commands"])
    walls = ", ".join(f"{t / 60:.0f} min" for t in results["wall_time_s"])
    return (
        f"# The robust vote on {cfg['dataset']}: levers under the full attack "
        "suite\n\n"
        "Generated from the study's results "
        f"(`robust_vote_{cfg['dataset']}.json`), produced from the repository "
        "root by:\n\n"
        f"{commands}\n\n"
        f"Machine: {results['machine']}. Wall time of each run: {walls} "
        "(a later run reads the networks, hardening data, attacks and finished "
        "settings of earlier ones from its cache)."
    )


#: Below this AutoAttack AA the network is said to be weakly robust.
WEAK_NETWORK_AA = 0.5


def _weak_network(results: dict[str, Any]) -> str:
    line = results["network"]["test"]["AutoAttack_AA"]
    if line >= WEAK_NETWORK_AA:
        return ""
    return (
        f" The network itself keeps only {_pct(line)}% under AutoAttack on "
        "this training budget: the comparison says how the votes do on a "
        "weakly robust network, not whether they beat a well-trained one."
    )


def _summary(results: dict[str, Any]) -> str:
    """The verdict: the study's pick, on the test images, against the line.

    The pick is made on the validation split; another lever's test figure
    above the line is said, but is no win (it would be chosen on the test).
    """
    cfg = results["config"]
    min_sa = cfg["min_sa"]
    network = results["network"]["test"]
    name = pick(results)
    if name is None:
        return ""
    test = results["levers"][name]["test"]
    won = beats(test, network, min_sa)
    head = (
        "The vote beats the network it is built on."
        if won
        else "On this budget the vote does not beat the network it is built on."
    )
    text = (
        f"**Verdict.** {head} The study's pick, the highest validation "
        f"worst-case AA at SA >= {_pct(min_sa)} over every lever "
        f"(`{test['setting']}`, from **{name}**), reads "
        f"{_pct(test['worst_case_AA'])} worst-case AA at SA {_pct(test['SA'])}"
        f"{_floor(test, min_sa)} on the test images: it "
        f"{_comparison(test, network, min_sa)} the "
        f"adversarially trained network's AutoAttack AA "
        f"({_pct(network['AutoAttack_AA'])}; {_noise(test, network)}). A win "
        f"needs more than two standard errors at SA >= {_pct(min_sa)}."
    )
    others = [
        other
        for other, lever in results["levers"].items()
        if other != name and beats(lever["test"], network, min_sa)
    ]
    if others:
        text += (
            " The test figures of "
            + ", ".join(f"**{other}**" for other in others)
            + " also clear that bar, but the validation split did not pick "
            "them: a configuration chosen by its test figures is no win."
        )
    return text + _weak_network(results) + " Per lever:"


def _setting(results: dict[str, Any]) -> str:
    cfg = results["config"]
    sizes = results["sizes"]
    net = results["network"]
    schedule = ", ".join(f"{e:g}" for e in cfg["train_eps_schedule"])
    items = [
        f"Data: {cfg['notes'].get('data', cfg['dataset'])}: {sizes['train']} "
        f"training images (the network and the indexes), {sizes['validation']} "
        f"validation images (every choice), {sizes['test']} test images (the "
        "chosen configurations only).",
        f"Network: `{cfg['module']}`, {cfg['epochs']} standard epoch(s), then "
        f"adversarial training at eps {schedule} ({cfg['at_epochs']} epoch(s) "
        f"each, {cfg['train_steps']}-step PGD, warm-started stage to stage); "
        f"trained in {net['train_s']:.0f} s.",
        f"Baseline DAEkNN on it: layers {', '.join(cfg['layers'])}, k = "
        f"{cfg['n_neighbors']}, weighting `{cfg['weighting']}`, hardening data "
        f"eps_h {cfg['hardening_strength']:g} ({cfg['hardening_steps']}-step "
        "PGD against the network), exact search. Adaptive hardening settings "
        f"attack the vote with {cfg['vote_hardening_steps']} APGD steps per "
        f"run; their rounds attack {cfg['hardening_max_points']:g} of the "
        "training images each (a seeded sample).",
        f"Attacks, all L-inf at eps {cfg['eps']:.4g} inside the [0, 1] box: "
        "transfer PGD (40 steps) and transfer AutoAttack (APGD-CE and APGD-T on "
        f"3 wrong classes, {cfg['autoattack_steps']} steps) against the network and "
        "classified by the vote; the adaptive attack (`KNNAdaptiveAttack`: "
        f"APGD, {cfg['adaptive_steps']} steps per run, 4 losses, 3 wrong classes) on "
        "the vote; AutoAttack on the vote's soft surrogate (`SoftKNNVote`, "
        f"restricted to the candidates of each chunk of {cfg['surrogate_chunk']} "
        "inputs) classified by the real vote. Worst-case AA: the inputs "
        "classified correctly clean and under every attack.",
        "The line to beat: the adversarially trained network under AutoAttack "
        "(in bold).",
        "Stages: the shape of the vote (layers, k, k-last-blocks) is "
        "varied on the paper's DAEkNN; the defences (pruning, hardening, "
        "knn-loss, strength, metric) are applied on top of the shape chosen "
        "on the validation split over the shape levers' settings (by the rule "
        "below), and their first setting is that shape."
        + (
            " Stage 3, combine, starts from the defences' pick (the defence "
            "lever choice that wins by the same rule) and adds to it, one at "
            "a time, each setting of another defence that scored at least "
            "the shape's validation worst-case AA at an SA at or above the "
            "floor."
            if "combine" in results["levers"]
            else ""
        ),
        "The choice per lever, on the validation split: the highest worst-case "
        f"AA among the settings with SA >= {_pct(cfg['min_sa'])} (else the "
        "highest worst-case HM). Each lever's first setting is the baseline, "
        "so a lever that does not help chooses it. The study's pick is the "
        "lever choice that wins by the same rule over every lever; the other "
        "levers' test figures describe them, they are no second chance.",
        "fit s: the kNN side of the fit on the trained network (hardening data, "
        "pruning, indexes); a setting whose hardening data an earlier setting "
        "made with the same parameters reads them from the cache. predict ms: "
        "per clean image. Seconds are of this run on this machine: compare "
        "rows by their ratios.",
    ]
    return "## Setting\n\n" + "\n".join(f"- {item}" for item in items)


def _test(results: dict[str, Any]) -> str:
    n = results["sizes"]["test"]
    rows = [_network_row(results["network"]["test"])]
    rows += [
        _row(f"{name}: `{lever['test']['setting']}`", lever["test"])
        for name, lever in results["levers"].items()
    ]
    return (
        "## Test figures of the chosen configurations\n\n"
        f"{n} test images, figures in %. One standard error of an accuracy "
        f"near 80% is about {_stderr_pct(0.8, n):.1f} points.\n\n"
        + _table(_COLUMNS, rows)
    )


def _validation(results: dict[str, Any]) -> str:
    net = results["network"]["validation"]
    parts = [
        "## Validation figures of every setting\n\n"
        f"The network on the {results['sizes']['validation']} validation "
        f"images: SA {_pct(net['SA'])}, AutoAttack AA {_pct(net['AutoAttack_AA'])}."
    ]
    for name, lever in results["levers"].items():
        rows = []
        for i, r in enumerate(lever["validation"]):
            label = f"`{r['setting']}`"
            if i == lever["chosen"]:
                label = f"**{label}** (chosen)"
            rows.append(_row(label, r))
        on = lever.get("on")
        stage = "on stage 2's pick" if name == "combine" else "on stage 1's choice"
        where = f" ({stage}, `{on}`)" if on else ""
        parts.append(f"### {name}: {lever['what']}{where}\n\n" + _table(_COLUMNS, rows))
    return "\n\n".join(parts)


def _layers(per: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in per.items()) or "-"


def _pruning(lever: dict[str, Any]) -> str:
    rows = []
    for r in lever["validation"]:
        p = r["points"]
        cells = [f"`{r['setting']}`"]
        for name in ("benign", "hardening"):
            removed = p["pruned"].get(name, 0)
            cells.append(f"{removed} of {p[name] + removed}")
        for name in ("benign", "hardening"):
            cells.append(_layers(p["pruned_per_layer"].get(name, {})))
        rows.append(cells)
    header = (
        "setting",
        "benign removed",
        "hardening removed",
        "per layer (benign)",
        "per layer (hardening)",
    )
    return (
        "## Points each radius removes\n\n"
        "Per indexed set, the points removed of those made; per layer, how "
        "many of the removed points had a conflict there (a point may count "
        "in several layers).\n\n" + _table(header, rows)
    )


def _rounds(lever: dict[str, Any]) -> str:
    rows = []
    for r in lever["validation"]:
        history = r["points"]["hardening_history"]
        if history:
            fooled = "; ".join(f"{h['added']} of {h['attacked']}" for h in history)
            rows.append([f"`{r['setting']}`", str(r["points"]["hardening"]), fooled])
    if not rows:
        return ""
    return (
        "## Adaptive hardening rounds\n\n"
        "Per round, the attacked training images whose adversarial versions "
        "fooled the vote (and joined the hardening set): the attack's success "
        "rate on the training images, round after round.\n\n"
        + _table(("setting", "hardening points", "fooled per round"), rows)
    )


def markdown(results: dict[str, Any]) -> str:
    """The page of the results."""
    parts = [
        _head(results),
        _summary(results),
        "\n".join(verdict(results)),
        _setting(results),
        _test(results),
        _validation(results),
    ]
    if "pruning" in results["levers"]:
        parts.append(_pruning(results["levers"]["pruning"]))
    if "hardening" in results["levers"]:
        parts.append(_rounds(results["levers"]["hardening"]))
    return "\n\n".join(part for part in parts if part) + "\n"
