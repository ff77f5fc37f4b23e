"""Open a local HTML page in headless Chromium: check that it renders cleanly, or screenshot it.

Uses Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`) through
Selenium, so nothing is downloaded at run time. Used by the write-up's test and its screenshot.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # runs as root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # a closed network: no update or sync traffic
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class BrowserUnavailable(RuntimeError):
    """Chromium, its driver or Selenium is missing; the message says how to install them."""


@dataclass(frozen=True)
class PageCheck:
    """What a browser saw: how many images, which failed to load, and console errors."""

    images: int
    broken_images: list[str]
    console_errors: list[str]


def _executables() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        raise BrowserUnavailable(
            "headless Chromium not found: apt-get install chromium chromium-driver"
        )
    return chromium, driver


def version() -> str:
    """Chromium's version line, for the records of what was measured in it."""
    import subprocess

    chromium, _ = _executables()
    return subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()


@contextmanager
def headless(width: int = 1200, height: int = 900, flags: tuple[str, ...] = ()) -> Iterator:
    """A headless Chromium session through Selenium, closed afterwards; `flags` are added to
    Chromium's command line (a fake camera, for example)."""
    chromium, driver_path = _executables()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        raise BrowserUnavailable("Selenium is missing: pip install -r requirements.txt") from err
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--window-size={width},{height}", *flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver, page: Path) -> None:
    driver.get(Path(page).resolve().as_uri())
    for _ in range(100):  # 'complete': the page and all its images have loaded or failed
        if driver.execute_script("return document.readyState") == "complete":
            return
        time.sleep(0.1)


def check_page(page: Path) -> PageCheck:
    """Load a page from disk; report images that did not load (naturalWidth 0) and errors."""
    with headless() as driver:
        _open(driver, page)
        images = driver.execute_script(
            "return Array.from(document.images)"
            ".map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);"
        )
        logs = driver.get_log("browser")
    return PageCheck(
        images=len(images),
        broken_images=[src for src, ok in images if not ok],
        console_errors=[entry["message"] for entry in logs if entry["level"] == "SEVERE"],
    )


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 1500) -> Path:
    """Save a PNG of the top of a page as a reader first sees it."""
    with headless(width, height) as driver:
        _open(driver, page)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    return Path(out)
