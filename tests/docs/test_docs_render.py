"""docs/check_render.py judges what headless Chromium saw on a page.

The check itself runs on the built site in `make docs` (part of `make test`),
once: the site does not depend on the Keras backend. These tests show that its
judgement rejects each kind of failure.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "docs"))
import check_render  # noqa: E402

sys.path.pop(0)

RENDER_BACKEND = "jax"


def test_a_page_with_a_broken_image_fails_the_check():
    """check_page (the part that judges what Chromium saw) does reject failures."""
    seen = {
        "h1": "T",
        "text_length": 500,
        "notebook_cells": 5,
        "notebook_outputs": 2,
        "images": [{"src": "a.png", "complete": True, "width": 0, "height": 0}],
    }
    assert any("did not load" in f for f in check_render.check_page(seen, min_images=1))
    seen["images"] = []
    assert any("expected at least 1" in f for f in check_render.check_page(seen, min_images=1))
    seen["images"] = [{"src": "a.png", "complete": True, "width": 640, "height": 480}]
    assert check_render.check_page(seen, min_images=1, notebook=True) == []
    seen["notebook_cells"] = 0
    assert check_render.check_page(seen, min_images=1, notebook=True) == [
        "no rendered notebook cells"
    ]


def test_console_messages_raw_math_and_missing_outputs_fail_the_check():
    ok = {
        "h1": "T",
        "text_length": 500,
        "notebook_cells": 5,
        "notebook_outputs": 1,
        "images": [],
        "console": [],
        "raw_math": [],
        "unrendered_math_blocks": 0,
    }
    assert check_render.check_page(ok, min_images=0, notebook=True) == []
    failures = check_render.check_page({**ok, "console": ['"Uncaught TypeError: x"']}, min_images=0)
    assert any("console" in f for f in failures)
    assert check_render.check_page({**ok, "raw_math": ["$$"]}, min_images=0)
    assert check_render.check_page({**ok, "unrendered_math_blocks": 1}, min_images=0)
    assert check_render.check_page({**ok, "notebook_outputs": 0}, min_images=0, notebook=True) == [
        "no notebook cell shows an output"
    ]
    # Chromium's log lines of console messages (--enable-logging=stderr).
    log = (
        '[1:1:1203/025529.192348:INFO:CONSOLE:1] "boom", source: http://x/a (1)\n'
        "[1:1:1203/025529.2:WARNING:other.cc(1)] not a console line\n"
    )
    assert check_render.console_messages(log) == ['"boom", source: http://x/a (1)']
