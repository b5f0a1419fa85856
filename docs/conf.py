"""Sphinx configuration for sklearn-daeknn.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(warnings are errors). Two local extensions in ``docs/_ext`` run first:

* ``api_reference`` writes the API reference from the package's ``__all__``,
  grouped by the topic map it holds (an exported name missing from the map
  stops the build);
* ``executed_notebooks`` makes sure every notebook of ``notebooks/`` has a
  fresh executed copy in ``docs/notebooks/`` (saved by the notebook tests, or
  executed here), which MyST-NB renders with its outputs, never executing.

Everything a page loads is served from the built site: MathJax comes from
the ``sphinx-mathjax-offline`` package, not from a CDN.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import api_reference  # noqa: E402

import sklearn_daeknn  # noqa: E402

project = "sklearn-daeknn"
author = "sklearn-daeknn developers"
copyright = "sklearn-daeknn developers"
release = sklearn_daeknn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "api_reference",
    "executed_notebooks",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 served from the built site (its files ship in the package).
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    # MyST-NB parses the Markdown pages (as myst_parser did) and the notebooks.
    "myst_nb",
    "sphinx_copybutton",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "_cli",
    "_ext",
    "api_generated.rst",
    "**/.ipynb_checkpoints",
]
templates_path = ["_templates"]

# -- autodoc / autosummary / numpydoc -----------------------------------------
autosummary_generate = ["api_generated.rst"]
autosummary_imported_members = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"  # the numpydoc sections already give the types
# Class pages list inherited methods (scikit-learn's score, get_params, ...)
# except torch's and skorch's.
autosummary_context = {"hidden_bases": ", ".join(api_reference.HIDDEN_BASES)}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- MyST (the Markdown results pages) ---------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# Results pages link to files of the repository outside docs/ (benchmark
# scripts, raw JSON); those links are fine on GitHub but are not documents.
suppress_warnings = ["myst.xref_missing"]

# -- MyST-NB (the notebooks) -------------------------------------------------
# The executed_notebooks extension has already put executed copies in place:
# render them as they are.
nb_execution_mode = "off"
# The default loads RequireJS from a CDN on pages with widgets; none is needed.
nb_ipywidgets_js: dict = {}

# -- copy button --------------------------------------------------------------
# Copy only the code: lines that start with a ">>> ", "... " or "$ " prompt,
# without it, so the outputs of doctest and console blocks are left out. The
# prompts are matched in the text (not excluded as highlighted spans) so that
# no blank line is left where an output was.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True
copybutton_exclude = ".linenos"

# -- plot directive (the explanatory figures of the user guide) --------------
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.autolayout": True}

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-daeknn {release}"
html_static_path = ["_static"]
html_css_files = ["daeknn.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False


def write_cli_help() -> None:
    """Write the ``--help`` text of every command to ``docs/_cli/*.txt``.

    ``main*.txt``: ``python -m sklearn_daeknn``; ``benchmarks*.txt``:
    ``python -m benchmarks`` (the repository's ``benchmarks/`` folder).
    """
    import contextlib
    import io

    from benchmarks import __main__ as bench_cli
    from sklearn_daeknn import __main__ as cli

    programs = [("main", cli.main, [[], *([name] for name in cli.COMMANDS)])]
    programs.append(
        ("benchmarks", bench_cli.main, [[], *([n] for n in bench_cli.BENCHMARKS)])
    )
    out_dir = DOCS / "_cli"
    out_dir.mkdir(exist_ok=True)
    os.environ["COLUMNS"] = "80"
    for stem, main, commands in programs:
        for command in commands:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
                main([*command, "--help"])
            name = "-".join([stem, *command])
            (out_dir / f"{name}.txt").write_text(buffer.getvalue())


def skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


_SPHINX_REF = re.compile(r":ref:`(?:([^`<]+?)\s*<[^`>]+>|([^`]+))`")


def unlink_foreign_refs(app, what, name, obj, options, lines):
    """Turn ``:ref:`` roles of inherited scikit-learn docstrings into text.

    They point at labels of scikit-learn's own user guide, which this site
    does not have; the text of the link is kept.
    """
    if getattr(obj, "__module__", "").split(".")[0] != "sklearn":
        return
    for i, line in enumerate(lines):
        lines[i] = _SPHINX_REF.sub(lambda m: m.group(1) or m.group(2), line)


def setup(app) -> None:
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-docstring", unlink_foreign_refs)


write_cli_help()
