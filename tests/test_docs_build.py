"""The built documentation: what its pages load, and what they show.

These read the HTML that ``python -m sphinx -W --keep-going -b html docs
docs/_build/html`` wrote and are skipped when it is not there (CI runs them
after the build).
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BUILD = DOCS / "_build" / "html"
sys.path.insert(0, str(DOCS / "_ext"))
import api_reference  # noqa: E402
import executed_notebooks  # noqa: E402

from tests.test_docs import _toctree_entries  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (BUILD / "index.html").is_file(),
    reason="the docs are not built: python -m sphinx -b html docs docs/_build/html",
)
#: The pages (the theme's templates copied to _static/ are not pages).
PAGES = sorted(
    page
    for page in BUILD.rglob("*.html")
    if "_static" not in page.relative_to(BUILD).parts
)


class _Loads(HTMLParser):
    """The URLs a page makes the browser load (scripts, styles, images...)."""

    #: tag -> the attribute holding what it loads; <a href> is a link, not a load.
    LOADS = {
        "script": "src",
        "link": "href",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "video": "src",
        "audio": "src",
        "embed": "src",
        "object": "data",
    }

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") in {"next", "prev", "index", "search"}:
            return  # navigation between pages, not a resource
        url = attrs.get(self.LOADS.get(tag, ""))
        if url:
            self.urls.append(url)


def _loads(page: Path) -> list[str]:
    parser = _Loads()
    parser.feed(page.read_text())
    return parser.urls


def _text(page: Path) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_site_has_its_pages():
    assert len(PAGES) > 50
    assert (BUILD / "user_guide" / "method.html").is_file()


def test_no_page_loads_anything_from_another_host():
    offenders = {}
    for page in PAGES:
        remote = [
            url
            for url in _loads(page)
            if urlsplit(url).scheme not in {"", "file"} or url.startswith("//")
        ]
        if remote:
            offenders[str(page.relative_to(BUILD))] = remote
    assert offenders == {}


def test_every_local_script_and_stylesheet_is_in_the_build():
    missing = set()
    for page in PAGES:
        for url in _loads(page):
            path = urlsplit(url).path
            if path and not path.startswith("data:"):
                if not (page.parent / path).resolve().is_file():
                    missing.add(f"{page.relative_to(BUILD)}: {url}")
    assert sorted(missing) == []


def test_the_math_is_served_by_the_site():
    method = BUILD / "user_guide" / "method.html"
    scripts = [url for url in _loads(method) if "mathjax" in url.lower()]
    assert scripts == ["../_static/mathjax/tex-chtml.js"]
    fonts = BUILD / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file()
    # The source of the display equations is there for MathJax to typeset.
    assert method.read_text().count('<div class="math notranslate nohighlight">') >= 5


def test_wide_equations_scroll_inside_the_text_column():
    css = (BUILD / "_static" / "daeknn.css").read_text()
    assert "overflow-x: auto" in css
    assert "_static/daeknn.css" in (BUILD / "user_guide" / "method.html").read_text()


@pytest.mark.parametrize("source", executed_notebooks.sources(), ids=lambda p: p.name)
def test_notebook_pages_show_outputs_and_figures(source):
    page = BUILD / "notebooks" / f"{source.stem}.html"
    html = page.read_text()
    assert html.count('class="cell_output') > 0, "rendered without outputs"
    figures = [url for url in _loads(page) if url.endswith(".png")]
    assert figures, "no figure"
    for url in figures:
        assert (page.parent / url).is_file()


def test_api_reference_sections_follow_the_topic_map():
    text = _text(BUILD / "api.html")
    titles = [title for title, _ in api_reference.TOPICS.values()]
    positions = [text.find(f" {title} ") for title in titles]
    assert -1 not in positions, titles
    assert positions == sorted(positions)


def test_class_pages_list_inherited_scikit_learn_methods_only():
    generated = BUILD / "generated"
    estimator = (generated / "sklearn_daeknn.DAEkNNClassifier.html").read_text()
    for method in ("score", "get_params", "set_params", "predict_proba"):
        assert f'id="sklearn_daeknn.DAEkNNClassifier.{method}"' in estimator
    assert 'id="sklearn_daeknn.DAEkNNClassifier.set_fit_request"' not in estimator
    network = (generated / "sklearn_daeknn.MLP.html").read_text()
    assert 'id="sklearn_daeknn.MLP.forward"' in network
    assert 'id="sklearn_daeknn.MLP.add_module"' not in network  # torch's


def test_a_constant_shows_its_comment_not_its_type():
    text = _text(BUILD / "generated" / "sklearn_daeknn.WEIGHTINGS.html")
    assert "The weightings of the benign and hardening votes" in text
    assert "Built-in immutable sequence" not in text


def test_results_index_is_in_reading_order():
    html = (BUILD / "results" / "index.html").read_text()
    toctree = html[html.index('class="toctree-wrapper') :]
    links = re.findall(r'href="([a-z0-9_]+)\.html"', toctree)
    expected = _toctree_entries(DOCS / "results" / "index.rst")
    assert links[: len(expected)] == expected
