"""Check generated reports in a real browser: Debian's headless Chromium, driven by selenium.

The test suite (``tests/report/test_browser.py``) and anyone with a finished run folder use the
same checks::

    python -m audiolens.testing.browser runs/fsdd-full/report.html runs/index.html --screenshots shots/

:func:`check_report` opens a page served from a local HTTP server (``127.0.0.1``, no network
beyond it) at 1280 px and at 390 px wide and returns what failed:

- every ``<img>`` has loaded at each width (``naturalWidth > 0``, after scrolling it into view,
  since report images load lazily) and has alt text;
- every ``<audio>`` element has a source the browser can play (``canPlayType`` of its type is
  not empty, and ``readyState >= HAVE_METADATA`` after ``load()``, without a media error);
- the browser console has no error (a missing file, a script error);
- every relative link resolves (HTTP 200 from the server);
- the page does not scroll sideways at either width, folded ``<details>`` opened (wide tables
  scroll inside themselves);
- a full-page screenshot at each width, when asked for.

The browser is the system's Chromium (``/usr/bin/chromium`` and ``/usr/bin/chromedriver``, Debian
packages ``chromium`` and ``chromium-driver``; ``AUDIOLENS_CHROMIUM`` and
``AUDIOLENS_CHROMEDRIVER`` override the paths), never a downloaded one: selenium is given both
paths, so its driver manager does not run. ``make test`` installs the packages when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

from audiolens._internal.errors import DataError

__all__ = ["WIDTHS", "PageCheck", "browser_available", "check_report", "chromium", "serve"]

#: Viewport widths (px) a report must be readable at: a laptop and a phone.
WIDTHS = (1280, 390)
#: Chromium flags for a closed network as root: no sandbox, no background connections.
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)
_MIME = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".mp3": "audio/mpeg"}


def _paths() -> tuple[str, str]:
    return (
        os.environ.get("AUDIOLENS_CHROMIUM", "/usr/bin/chromium"),
        os.environ.get("AUDIOLENS_CHROMEDRIVER", "/usr/bin/chromedriver"),
    )


def browser_available() -> str | None:
    """``None`` when Chromium, ChromeDriver and selenium are here; else what is missing."""
    missing = [path for path in _paths() if not (Path(path).is_file() and os.access(path, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install selenium)")
    return ", ".join(missing) or None


@contextlib.contextmanager
def chromium(width: int = WIDTHS[0], height: int = 900) -> Iterator[object]:
    """A headless Chromium WebDriver with the browser console log enabled.

    Raises:
        DataError: Chromium, ChromeDriver or selenium is missing (named, with the install command).
    """
    missing = browser_available()
    if missing:
        raise DataError(
            f"browser checks need {missing}: apt-get install chromium chromium-driver; pip install selenium"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in _FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="audiolens-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class' name
        pass


@contextlib.contextmanager
def serve(root: str | os.PathLike) -> Iterator[str]:
    """Serve the folder ``root`` on ``127.0.0.1`` (a free port); yields its base URL (``http://.../``)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageCheck:
    """What :func:`check_report` found on one page.

    Attributes:
        url: The page.
        images: ``<img>`` elements seen; ``broken_images`` ``"src (width px)"`` of those that did
            not load at a width, ``missing_alt`` the ``src`` of those without alt text.
        audio: ``<audio>`` elements seen; ``broken_audio`` ``"src: why"`` of those that cannot play.
        links: Relative links checked; ``broken_links`` ``"href: why"`` of those that do not resolve.
        console_errors: Error messages of the browser console.
        overflow: ``"width: scrollWidth"`` for each width at which the page scrolls sideways.
        screenshots: The PNG files written.
    """

    url: str
    images: int = 0
    audio: int = 0
    links: int = 0
    broken_images: list[str] = field(default_factory=list)
    missing_alt: list[str] = field(default_factory=list)
    broken_audio: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every failure, one line each (empty: the page passes)."""
        return (
            [f"image not loaded: {s}" for s in self.broken_images]
            + [f"image without alt text: {s}" for s in self.missing_alt]
            + [f"audio not playable: {s}" for s in self.broken_audio]
            + [f"link does not resolve: {s}" for s in self.broken_links]
            + [f"console error: {s}" for s in self.console_errors]
            + [f"scrolls sideways at {s}" for s in self.overflow]
        )


_IMAGES = """
const done = arguments[arguments.length - 1];
const imgs = [...document.images];
for (const img of imgs) { img.loading = 'eager'; img.scrollIntoView(); }
Promise.all(imgs.map(img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })))
  .then(() => done(imgs.map(img => [img.getAttribute('src'), img.complete && img.naturalWidth > 0,
                                    (img.getAttribute('alt') || '').trim() !== ''])));
"""

_AUDIO = """
const [mimes, done] = [arguments[0], arguments[arguments.length - 1]];
const players = [...document.querySelectorAll('audio')];
const check = a => new Promise(resolve => {
  const src = a.currentSrc || a.getAttribute('src') || (a.querySelector('source') || {}).src || '';
  const ext = (src.match(/\\.[a-z0-9]+$/i) || [''])[0].toLowerCase();
  const can = a.canPlayType(mimes[ext] || '');
  const finish = () => resolve([src, can, a.readyState, a.error ? a.error.code : null]);
  if (a.readyState >= 1 || a.error) return finish();
  a.addEventListener('loadedmetadata', finish, {once: true});
  a.addEventListener('error', finish, {once: true});
  setTimeout(finish, 10000);
  a.load();
});
Promise.all(players.map(check)).then(done);
"""


def _links(driver: object, page_url: str) -> list[tuple[str, str]]:
    hrefs = driver.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
    page = urlsplit(page_url)
    links = []
    for href in hrefs:
        target = urljoin(page_url, href)
        parts = urlsplit(target)
        if parts.scheme in ("http", "https") and parts.netloc == page.netloc and not href.startswith("#"):
            links.append((href, target.split("#")[0]))
    return links


#: Straight to the local server: no proxy from the environment (Chromium bypasses loopback too).
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _resolves(url: str) -> str | None:
    try:
        with _DIRECT.open(url, timeout=10) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except urllib.error.URLError as error:
        return str(error.reason)


def _screenshot(driver: object, width: int, path: Path) -> Path:
    import base64

    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def check_report(
    driver: object,
    url: str,
    *,
    screenshots: str | os.PathLike | None = None,
    name: str = "page",
    widths: Sequence[int] = WIDTHS,
) -> PageCheck:
    """Open ``url`` in ``driver`` (from :func:`chromium`) and check it (see the module doc).

    Args:
        driver: A WebDriver from :func:`chromium`.
        url: The page, served over HTTP (:func:`serve`).
        screenshots: Folder for full-page PNGs ``<name>-<width>px.png`` (``None``: none).
        name: File-name stem of the screenshots.
        widths: Viewport widths in px.

    Returns:
        The findings; ``PageCheck.problems`` is empty when the page passes.
    """
    result = PageCheck(url)
    driver.get_log("browser")  # drop what earlier pages logged
    for k, width in enumerate(widths):
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        driver.get(url)
        driver.set_script_timeout(60)
        images = driver.execute_async_script(_IMAGES)
        result.images = len(images)
        result.broken_images += [f"{src} ({width} px)" for src, ok, _ in images if not ok]
        if k == 0:
            result.missing_alt = [src for src, _, alt in images if not alt]
            players = driver.execute_async_script(_AUDIO, _MIME)
            result.audio = len(players)
            for src, can, state, error in players:
                if not can or state < 1 or error is not None:
                    result.broken_audio.append(f"{src}: canPlayType {can!r}, readyState {state}, error {error}")
            links = _links(driver, url)
            result.links = len(links)
            for href, target in links:
                why = _resolves(target)
                if why:
                    result.broken_links.append(f"{href}: {why}")
        # folded blocks (config, per-layer tables) open: their content must not widen the page either
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        time.sleep(0.2)
        scroll_width = int(driver.execute_script("return document.documentElement.scrollWidth"))
        if scroll_width > width + 1:
            result.overflow.append(f"{width} px: the page is {scroll_width} px wide")
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = false); scrollTo(0, 0)")
        if screenshots is not None:
            result.screenshots.append(_screenshot(driver, width, Path(screenshots) / f"{name}-{width}px.png"))
    result.console_errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m audiolens.testing.browser PAGE.html ... [--root DIR] [--screenshots DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m audiolens.testing.browser", description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="+", type=Path, help="HTML files (reports, an index)")
    parser.add_argument("--root", type=Path, help="folder to serve (default: the pages' common folder)")
    parser.add_argument("--screenshots", type=Path, help="folder for full-page screenshots at each width")
    args = parser.parse_args(argv)
    pages = [p.resolve() for p in args.pages]
    root = (args.root or Path(os.path.commonpath([p.parent for p in pages]))).resolve()
    failed = 0
    with serve(root) as base, chromium() as driver:
        for page in pages:
            relative = page.relative_to(root).as_posix()
            name = relative.removesuffix(".html").replace("/", "_")
            found = check_report(driver, base + quote(relative), screenshots=args.screenshots, name=name)
            status = "ok" if not found.problems else "FAILED"
            print(f"{status}  {relative}: {found.images} images, {found.audio} audio, {found.links} links")
            for problem in found.problems:
                print(f"    {problem}")
            failed += bool(found.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
