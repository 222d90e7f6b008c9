"""Look at the built site in a real browser: headless Chromium (Debian's ``chromium`` package).

Builds the site (strict, tutorials not executed unless ``--execute``) into a temporary
directory, serves it on 127.0.0.1, renders the home page and one API page, and checks in the
rendered DOM that the headline figure, the navigation and the search box are there (and, on the
API page, the documented functions). With ``--screenshot PATH`` it also writes a 1280 × 900
screenshot of the home page (the README shows ``docs/assets/screenshot.png``).

    python docs/screenshot.py --screenshot docs/assets/screenshot.png
    python docs/screenshot.py --site site     # check an already built site

Exit status 0 when every check passes, 1 otherwise (each failure printed), 2 when Chromium or
MkDocs is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOME_CHECKS = {
    "the headline figure": 'src="figures/predicted_vs_actual.png"',
    "the navigation": 'class="md-nav',
    "the search box": 'class="md-search__input',
    "the verdicts": "Current verdicts",
}
API_PAGE = "reference/phasetrans/geometry/width/"
API_CHECKS = {
    "the navigation": 'class="md-nav',
    "the search box": 'class="md-search__input',
    "a documented function": 'id="phasetrans.geometry.width.gaussian_width"',
    "its signature": "num_samples",
}


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def build(site: pathlib.Path, execute: bool) -> None:
    env = dict(os.environ, DOCS_EXECUTE="true" if execute else "false",
               DISABLE_MKDOCS_2_WARNING="true", NO_MKDOCS_2_WARNING="1")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                    str(site)], cwd=ROOT, env=env, check=True)


@contextlib.contextmanager
def serve(site: pathlib.Path):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _chromium_args(browser: str, profile: str) -> list[str]:
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--window-size=1280,900",
            "--virtual-time-budget=5000"]


def dump_dom(browser: str, url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([*_chromium_args(browser, profile), "--dump-dom", url],
                              capture_output=True, text=True, timeout=120)
    return done.stdout


def screenshot(browser: str, url: str, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([*_chromium_args(browser, profile), f"--screenshot={path.resolve()}",
                        url], capture_output=True, text=True, timeout=120, check=True)


def check(dom: str, checks: dict, page: str) -> list[str]:
    return [f"{page}: {what} is missing ({needle!r} not in the rendered DOM)"
            for what, needle in checks.items() if needle not in dom]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=pathlib.Path, default=None,
                        help="an already built site directory (default: build one)")
    parser.add_argument("--execute", action="store_true",
                        help="execute the tutorials when building (default: not)")
    parser.add_argument("--screenshot", type=pathlib.Path, default=None,
                        help="write a screenshot of the home page here (default: none)")
    args = parser.parse_args(argv)
    browser = chromium()
    if browser is None:
        print("chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            site = pathlib.Path(tmp) / "site"
            try:
                build(site, args.execute)
            except (OSError, subprocess.CalledProcessError) as err:
                print(f"mkdocs build failed: {err}", file=sys.stderr)
                return 2
        with serve(site) as base:
            failures = check(dump_dom(browser, base), HOME_CHECKS, "home page")
            failures += check(dump_dom(browser, base + API_PAGE), API_CHECKS, API_PAGE)
            if args.screenshot is not None:
                screenshot(browser, base, args.screenshot)
                print(f"wrote {args.screenshot}")
    for failure in failures:
        print(failure, file=sys.stderr)
    if not failures:
        print("home page and API page: figure, navigation and search box present")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
