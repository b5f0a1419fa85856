"""Write the API reference from the package's public names, grouped by topic.

Every public name (the ``__all__`` of each public module, dunders aside) must
be placed in :data:`API_TOPICS` by hand: a name that is exported but placed
nowhere, or placed but no longer exported, stops the build with a message
that says which names and where to put them. New names so land in a section
deliberately, not in a catch-all.
"""

from __future__ import annotations

import importlib
from pathlib import Path

ROOT = "sklearn_daeknn"

#: The sections of the reference, in order: key -> (title, what it holds).
TOPICS = {
    "estimator": (
        "Estimator",
        "The classifier, and what refits or narrows a fitted one.",
    ),
    "vote": (
        "The vote",
        "How the benign and hardening neighbours' labels become probabilities.",
    ),
    "attacks": (
        "Attacks",
        "Adversarial examples against the network or against the kNN vote, "
        "and the vote as a differentiable torch module.",
    ),
    "evaluation": (
        "Evaluation",
        "Clean and adversarial accuracy (SA, AA, HM) of fitted estimators.",
    ),
    "networks": (
        "Networks",
        "Torch networks with named layers, and the skorch classifier that trains them.",
    ),
    "indexes": (
        "Layer features and neighbour indexes",
        "Nearest-neighbour search over one layer's outputs.",
    ),
    "conformal": (
        "Credibility (conformal prediction)",
        "DkNN's calibrated p-values, credibility and prediction sets.",
    ),
    "datasets": ("Datasets", "Import these from ``sklearn_daeknn.datasets``."),
    "plotting": ("Plotting", "Import these from ``sklearn_daeknn.plotting``."),
}

#: Topic of every public name, per public module. Add each new export here.
API_TOPICS: dict[str, dict[str, str]] = {
    "sklearn_daeknn": {
        "DAEkNNClassifier": "estimator",
        "refit_knn": "estimator",
        "InconsistentVersionWarning": "estimator",
        "default_knn_layers": "estimator",
        "WEIGHTINGS": "vote",
        "joint_vote": "vote",
        "vote_weights": "vote",
        "class_fractions": "vote",
        "PGD": "attacks",
        "KNNAdaptiveAttack": "attacks",
        "AutoAttack": "attacks",
        "SoftKNNVote": "attacks",
        "ClasswiseKNNScores": "attacks",
        "pgd_perturb": "attacks",
        "default_step_size": "attacks",
        "robustness_report": "evaluation",
        "make_robustness_scorer": "evaluation",
        "default_attacks": "evaluation",
        "harmonic_mean": "evaluation",
        "vote_scores": "evaluation",
        "per_layer_scores": "evaluation",
        "hardening_sweep": "evaluation",
        "compare_weightings": "evaluation",
        "MNISTCNN": "networks",
        "SmallCNN": "networks",
        "MLP": "networks",
        "VGG16": "networks",
        "VGG16_BLOCKS": "networks",
        "AdversarialNetClassifier": "networks",
        "soft_knn_loss": "networks",
        "LayerReducer": "indexes",
        "build_index": "indexes",
        "ExactIndex": "indexes",
        "NNDescentIndex": "indexes",
        "numba_cache_dir": "indexes",
        "adversarial_pruning": "indexes",
        "nonconformity": "conformal",
        "conformal_pvalues": "conformal",
        "credibility_confidence": "conformal",
        "conformal_prediction_set": "conformal",
    },
    "sklearn_daeknn.datasets": {
        "load_digits_images": "datasets",
        "load_mnist": "datasets",
        "load_idx": "datasets",
        "load_cifar10": "datasets",
        "CIFAR10_CLASSES": "datasets",
    },
    "sklearn_daeknn.plotting": {
        "NeighborsDisplay": "plotting",
        "plot_layer_scores": "plotting",
        "plot_hardening_sweep": "plotting",
        "plot_scores_table": "plotting",
    },
}

#: Base classes whose methods the reference leaves out of their subclasses'
#: pages (torch's and skorch's long lists); scikit-learn's (``score``,
#: ``get_params``, ...) are listed.
HIDDEN_BASES = ("object", "Module", "NeuralNet", "NeuralNetClassifier")


def public_names(module_name: str) -> list[str]:
    """The module's ``__all__`` without dunders such as ``__version__``."""
    module = importlib.import_module(module_name)
    return [name for name in module.__all__ if not name.startswith("__")]


def placement_errors(topics: dict[str, dict[str, str]] = API_TOPICS) -> list[str]:
    """What is wrong with ``topics``: one message per problem, none if it is right."""
    errors = []
    for module_name, placed in topics.items():
        names = public_names(module_name)
        unplaced = [name for name in names if name not in placed]
        stale = [name for name in placed if name not in names]
        unknown = {name: topic for name, topic in placed.items() if topic not in TOPICS}
        if unplaced:
            errors.append(
                f"{module_name} exports {', '.join(unplaced)}, which the API "
                f"reference places in no topic: add each to API_TOPICS"
                f"[{module_name!r}] in docs/_ext/api_reference.py with one of "
                f"{', '.join(TOPICS)}"
            )
        if stale:
            errors.append(
                f"API_TOPICS[{module_name!r}] in docs/_ext/api_reference.py places "
                f"{', '.join(stale)}, which {module_name}.__all__ does not export"
            )
        if unknown:
            errors.append(
                f"API_TOPICS[{module_name!r}] uses unknown topics {unknown}; the "
                f"topics are {', '.join(TOPICS)}"
            )
    return errors


def reference_text(topics: dict[str, dict[str, str]] = API_TOPICS) -> str:
    """The reST of the reference's sections, in the order of :data:`TOPICS`."""
    lines = [
        ".. This file is generated by docs/_ext/api_reference.py at every build.",
        "",
    ]
    for topic, (title, intro) in TOPICS.items():
        entries = [
            (module_name, name)
            for module_name, placed in topics.items()
            for name, placed_topic in placed.items()
            if placed_topic == topic
        ]
        if not entries:
            continue
        lines += [title, "-" * len(title), "", intro, ""]
        for module_name in dict.fromkeys(module for module, _ in entries):
            names = [name for module, name in entries if module == module_name]
            if module_name != ROOT:
                lines += [f".. automodule:: {module_name}", "   :no-members:", ""]
            lines += [
                f".. currentmodule:: {module_name}",
                "",
                ".. autosummary::",
                "   :toctree: generated/",
                "   :nosignatures:",
                "",
                *(f"   {name}" for name in names),
                "",
            ]
    return "\n".join(lines)


def constant_doc(module_name: str, name: str) -> list[str] | None:
    """The ``#:`` comment above the public constant ``module_name.name``.

    The comment sits in the private module that defines the constant, so
    every module of the package that holds the same object is searched.
    """
    import sys

    from sphinx.pycode import ModuleAnalyzer

    obj = getattr(importlib.import_module(module_name), name)
    package = module_name.split(".")[0]
    for candidate, module in sorted(sys.modules.items()):
        if candidate.split(".")[0] != package or module is None:
            continue
        if vars(module).get(name) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        except Exception:  # a module without source: nothing to find there
            continue
        if ("", name) in docs:
            return list(docs[("", name)])
    return None


def document_constant(app, what, name, obj, options, lines) -> None:
    """``autodoc-process-docstring``: a constant's comment, not its type's doc.

    autodoc would otherwise show ``tuple``'s docstring for a tuple.
    """
    if what != "data":
        return
    module_name, attr = name.rsplit(".", 1)
    lines[:] = constant_doc(module_name, attr) or []


def write_reference(app, config) -> None:
    """``config-inited``: check the topic map, then write ``api_generated.rst``."""
    from sphinx.errors import ConfigError

    errors = placement_errors()
    if errors:
        raise ConfigError("API reference: " + "\n".join(errors))
    target = Path(app.srcdir) / "api_generated.rst"
    text = reference_text()
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def setup(app) -> dict:
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("config-inited", write_reference)
    app.connect("autodoc-process-docstring", document_constant)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
