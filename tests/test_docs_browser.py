"""The built docs in a real browser: headless Chromium, with no network.

Run after building the docs, with Chromium installed (Debian: ``apt-get
install chromium``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m pytest -m browser tests/test_docs_browser.py

Skipped without a Chromium or without the built docs. Each check opens a
copy of a built page, next to it so that its relative links still work, with
a probe script added at the end that waits for MathJax to finish, measures
what a reader would see, and writes the result into the page as JSON, which
``--dump-dom`` then prints. The method page's screenshot is saved to
``docs/_build/browser/method.png`` for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BUILD = DOCS / "_build" / "html"
METHOD = BUILD / "user_guide" / "method.html"
SCREENSHOTS = DOCS / "_build" / "browser"
CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
        if (found := shutil.which(name))
    ),
    None,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        not METHOD.is_file(),
        reason="the docs are not built: python -m sphinx -b html docs docs/_build/html",
    ),
]

#: Runs in the page once it is typeset; ``measure`` returns what to report.
#: It also keeps the function that the copy button calls for the text to copy
#: (sphinx-copybutton hands it to ClipboardJS when the page has loaded).
_PROBE = """
<script>
if (window.ClipboardJS) {
  const Original = window.ClipboardJS;
  window.ClipboardJS = function (selector, options) {
    window.daeknnCopyText = options.text;
    return new Original(selector, options);
  };
}
window.addEventListener("load", () => {
  const report = (value) => {
    const out = document.createElement("pre");
    out.id = "daeknn-probe";
    out.textContent = JSON.stringify(value);
    document.body.appendChild(out);
  };
  const measure = () => { %s };
  const typeset = window.MathJax && MathJax.startup && MathJax.startup.promise
    ? MathJax.startup.promise : Promise.resolve();
  typeset.then(() => document.fonts.ready).then(measure)
    .then(report, (error) => report({error: String(error)}));
});
</script>
"""


def _chromium(*args: str, user_dir: Path, width: int = 1200, height: int = 2000):
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # root in containers and CI
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={user_dir}",
        f"--window-size={width},{height}",
        # Virtual time runs the page's timers and MathJax to completion fast.
        "--virtual-time-budget=30000",
        *args,
    ]
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=180, env=env, check=False
    )


def _probe(page: Path, measure: str, tmp_path: Path, width: int = 1200) -> dict:
    probe = page.with_name(f".probe-{page.name}")
    html = page.read_text()
    assert "</body>" in html
    probe.write_text(html.replace("</body>", _PROBE % measure + "</body>"))
    try:
        result = _chromium("--dump-dom", probe.as_uri(), user_dir=tmp_path, width=width)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="daeknn-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the probe did not report; Chromium said:\n{result.stderr[-2000:]}"
    value = json.loads(
        found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )
    assert "error" not in value, value
    return value


def test_the_formulas_render(tmp_path):
    seen = _probe(
        METHOD,
        """
        const main = document.querySelector("main") || document.body;
        const clone = main.cloneNode(true);
        clone.querySelectorAll("mjx-container, script, style")
          .forEach((node) => node.remove());
        return {
          text: clone.textContent,
          rendered: main.querySelectorAll("mjx-container").length,
          display: main.querySelectorAll('mjx-container[display="true"]').length,
          boxes: main.querySelectorAll("div.math").length,
          fonts: [...document.fonts].filter((f) => f.family.startsWith("MJX"))
            .map((f) => f.status),
        };
        """,
        tmp_path,
    )
    text = seen["text"]
    for raw in ("\\[", "\\(", "\\frac", "\\varepsilon", "\\operatorname"):
        assert raw not in text, f"raw TeX {raw!r} left in the page"
    static = METHOD.read_text()
    assert seen["rendered"] == static.count("\\(") + static.count("\\[")
    assert seen["display"] == seen["boxes"] >= 5
    # MathJax drew with its own fonts, read from the site (a failed load
    # would be "error"; fonts it did not need stay "unloaded").
    assert "loaded" in seen["fonts"]
    assert "error" not in seen["fonts"]

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "method.png"
    shot.unlink(missing_ok=True)
    _chromium(
        "--hide-scrollbars",
        f"--screenshot={shot}",
        METHOD.as_uri(),
        user_dir=tmp_path,
        width=1100,
        height=1600,
    )
    assert shot.is_file()
    assert shot.stat().st_size > 50_000  # a page of text and formulas, not blank


def test_wide_equations_scroll_instead_of_widening_the_page(tmp_path):
    seen = _probe(
        METHOD,
        """
        const boxes = [...document.querySelectorAll('mjx-container[display="true"]')];
        return {
          page: document.documentElement.scrollWidth,
          window: window.innerWidth,
          wide: boxes.filter((b) => b.scrollWidth > b.clientWidth + 1)
            .map((b) => getComputedStyle(b).overflowX),
        };
        """,
        tmp_path,
        width=480,  # a phone: several equations are wider than the column
    )
    assert seen["wide"], "no equation is wider than a phone's column"
    assert set(seen["wide"]) <= {"auto", "scroll"}
    assert seen["page"] <= seen["window"]


def test_copied_code_has_no_prompts_or_outputs(tmp_path):
    page = BUILD / "getting_started.html"
    copies = _probe(
        page,
        """
        return [...document.querySelectorAll("button.copybtn")]
          .map((button) => window.daeknnCopyText(button));
        """,
        tmp_path,
    )
    assert len(copies) >= 3
    shell = [copy for copy in copies if "pip install" in copy]
    python = [copy for copy in copies if "DAEkNNClassifier(" in copy]
    assert shell and python
    for copy in copies:
        for line in copy.splitlines():
            assert not line.startswith((">>>", "...", "$ ")), line
    for copy in python:
        lines = copy.splitlines()
        assert "True" not in lines  # doctest outputs are left out...
        assert "" not in lines  # ...without a blank line in their place
        compile(copy, "copied", "exec")  # pastes into Python as it is
    assert any(line.startswith("pip install") for line in shell[0].splitlines())
