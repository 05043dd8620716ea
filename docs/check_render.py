r"""Builds the docs site and checks in headless Chromium that pages render with their plots.

    python docs/check_render.py [--site-dir DIR] [--screenshots DIR] [--chromium PATH]

Builds the site with `mkdocs build --strict` (or takes a built one with
`--no-build`), serves it on a local port, and opens one page of every kind in
headless Chromium: the home page, a concept page, a tutorial (the first with
committed figures), the model zoo, an API reference page and the benchmarks.
Each page is loaded in a frame of a small checker page (same origin), whose
script waits for the page and its images to load and then writes what it sees
into its own DOM, which `chromium --dump-dom` prints. A page fails when:

- it has no `<h1>` or its content has hardly any text;
- Chromium logged a console message for it (an error, a failed load, an
  uncaught exception: the site's own pages log nothing);
- an `<img>` in the content did not load (or has a zero natural width), or the
  page shows fewer figures than it should (the tutorial's committed figures; on
  the home page, the tutorial gallery's);
- it shows a math block unrendered (TeX delimiters `$$`, `\(` or `\[` in the
  text outside code, or an `arithmatex` element that no math renderer filled);
- (tutorial) it holds no rendered notebook cells or no cell output.

A screenshot of each page (1280 px wide) is kept under `<site>/screenshots/`
(or `--screenshots DIR`) for a person to look at. Exit status 0 when every check
passes, 1 otherwise (the failures are printed), 2 when Chromium is absent.
`tests/docs/test_docs_render.py` and `make docs` run it.
"""

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Headless Chromium that starts as root in a container, offline, with a fresh profile.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=30000",
]
CHECKER = "__render_check__.html"
CONCEPT_PAGE = "concepts/self-normalizing/index.html"
REFERENCE_PAGE = "reference/layers/index.html"
CHECKER_HTML = """<!doctype html>
<html><body><pre id="result">pending</pre>
<iframe id="page" style="width:1280px;height:2000px"></iframe>
<script>
const frame = document.getElementById("page");
const out = document.getElementById("result");
function report() {
  const doc = frame.contentDocument;
  const content = doc.querySelector("article") || doc.body;
  const images = Array.from(content.querySelectorAll("img"));
  const pending = images.filter(i => !i.complete);
  if (pending.length && Date.now() - start < 20000) { setTimeout(report, 200); return; }
  const h1 = doc.querySelector("h1");
  const prose = content.cloneNode(true);
  prose.querySelectorAll("pre, code, script, style").forEach(e => e.remove());
  const text = prose.textContent;
  const rawMath = ["$$", "\\\\(", "\\\\["].filter(d => text.includes(d));
  const arithmatex = Array.from(content.querySelectorAll(".arithmatex"))
    .filter(e => !e.querySelector("mjx-container, .katex, svg")).length;
  out.textContent = JSON.stringify({
    raw_math: rawMath,
    unrendered_math_blocks: arithmatex,
    notebook_outputs: doc.querySelectorAll(".jp-OutputArea-output").length,
    title: doc.title,
    h1: h1 ? h1.textContent.trim() : null,
    text_length: content.innerText.length,
    notebook_cells: doc.querySelectorAll(".jp-Cell, .jp-CodeCell, .jp-MarkdownCell").length,
    images: images.map(i => ({src: i.getAttribute("src"), complete: i.complete,
                              width: i.naturalWidth, height: i.naturalHeight})),
  });
}
const start = Date.now();
frame.onload = () => setTimeout(report, 100);
frame.src = new URLSearchParams(location.search).get("page");
</script></body></html>
"""


def find_chromium(explicit=None):
    """The path of a Chromium binary, or None."""
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in (
        os.environ.get("CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def build_site(site_dir):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site_dir],
        cwd=ROOT,
        env=env,
        check=True,
    )


def _serve(directory):
    handler = functools.partial(_QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def inspect_page(chromium, base_url, page, screenshot=None):
    """What the checker page saw of `page` (a path under the site), as a dict."""
    url = f"{base_url}/{CHECKER}?page=/{page}"
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                "--window-size=1400,2200",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    if screenshot:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    chromium,
                    *CHROMIUM_FLAGS,
                    "--window-size=1280,3200",
                    "--hide-scrollbars",
                    f"--user-data-dir={profile}",
                    f"--screenshot={screenshot}",
                    f"{base_url}/{page}",
                ],
                capture_output=True,
                text=True,
                timeout=180,
            )
    dom = result.stdout
    start = dom.find('<pre id="result">')
    end = dom.find("</pre>", start)
    if start < 0 or end < 0:
        raise RuntimeError(f"Chromium printed no result for {page}:\n{result.stderr[-2000:]}")
    text = dom[start + len('<pre id="result">') : end]
    import html

    text = html.unescape(text)
    if text == "pending":
        raise RuntimeError(f"{page} did not finish loading in Chromium")
    seen = json.loads(text)
    seen["console"] = console_messages(result.stderr)
    return seen


def console_messages(stderr):
    """The console messages in Chromium's log (`--enable-logging=stderr`)."""
    return [line.split("] ", 1)[-1] for line in stderr.splitlines() if ":CONSOLE" in line]


def check_page(seen, *, min_images, notebook=False):
    """Failures (strings) of one page's report; empty when it rendered."""
    failures = []
    if seen.get("console"):
        failures.append(f"console messages: {seen['console']}")
    if seen.get("raw_math") or seen.get("unrendered_math_blocks"):
        failures.append(
            f"unrendered math: delimiters {seen.get('raw_math')}, "
            f"{seen.get('unrendered_math_blocks')} arithmatex blocks"
        )
    if not seen.get("h1"):
        failures.append("no <h1>")
    if seen.get("text_length", 0) < 200:
        failures.append(f"content has only {seen.get('text_length')} characters")
    if notebook and seen.get("notebook_cells", 0) < 2:
        failures.append("no rendered notebook cells")
    if notebook and seen.get("notebook_outputs", 0) < 1:
        failures.append("no notebook cell shows an output")
    images = seen.get("images", [])
    broken = [i["src"] for i in images if not (i["complete"] and i["width"] > 0)]
    if broken:
        failures.append(f"images that did not load: {broken}")
    if len(images) < min_images:
        failures.append(f"{len(images)} images, expected at least {min_images}")
    return failures


def _hooks():
    sys.path.insert(0, os.path.join(ROOT, "docs"))
    try:
        import hooks
    finally:
        sys.path.pop(0)
    return hooks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-dir", help="build here (default: a temporary directory)")
    parser.add_argument(
        "--screenshots",
        help="write a PNG screenshot of each page here (default <site>/screenshots)",
    )
    parser.add_argument("--chromium", help="the Chromium binary")
    parser.add_argument("--no-build", action="store_true", help="use an existing --site-dir")
    args = parser.parse_args(argv)

    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("Chromium not found (install Debian's `chromium` package)")
        return 2
    hooks = _hooks()
    names = hooks.tutorial_names(ROOT)
    with_figures = [n for n in names if hooks.tutorial_figures(ROOT, n, names)]

    with tempfile.TemporaryDirectory() as tmp:
        site = args.site_dir or os.path.join(tmp, "site")
        if not args.no_build:
            build_site(site)
        with open(os.path.join(site, CHECKER), "w") as f:
            f.write(CHECKER_HTML)
        server = _serve(site)
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        pages = [("index.html", len(with_figures), False), (CONCEPT_PAGE, 0, False)]
        if with_figures:
            name = with_figures[0]
            figures = hooks.tutorial_figures(ROOT, name, names)
            pages.append((f"tutorials/{name}/index.html", len(figures), True))
        else:
            print(
                "no tutorial has a committed figure under docs/tutorials/figures: "
                "no tutorial page is checked"
            )
        pages += [
            ("zoo/index.html", 0, False),
            (REFERENCE_PAGE, 0, False),
            ("benchmarks/index.html", 0, False),
        ]
        screenshots = args.screenshots or os.path.join(site, "screenshots")
        failed = False
        try:
            for page, min_images, notebook in pages:
                os.makedirs(screenshots, exist_ok=True)
                shot = os.path.join(
                    screenshots,
                    page.replace("/index.html", "").replace("/", "_").replace(".html", "") + ".png",
                )
                seen = inspect_page(chromium, base_url, page, screenshot=shot)
                failures = check_page(seen, min_images=min_images, notebook=notebook)
                loaded = sum(1 for i in seen["images"] if i["complete"] and i["width"] > 0)
                print(
                    f"{page}: h1={seen['h1']!r}, {loaded}/{len(seen['images'])} images "
                    f"loaded, {seen['notebook_cells']} notebook cells"
                    + (f": FAILED {failures}" if failures else ": ok")
                )
                failed = failed or bool(failures)
        finally:
            server.shutdown()
            os.remove(os.path.join(site, CHECKER))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
