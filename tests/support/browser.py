"""A real browser for the pages the pipeline writes: headless Chromium (Debian's ``chromium``
package; ``.ci/run`` installs it when missing). Where there is none the test skips saying so,
except in CI (``CI=true``), where it fails: CI must look at the report.

Chromium runs with a fresh profile, no background or component traffic, and every host name
resolving to nothing (``--host-resolver-rules``): a page that needed the network would show
broken images, which the tests see."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 120
INSTALL = "apt-get install -y chromium (Debian), or put chromium on PATH"


def chromium_or_skip() -> str:
    """The Chromium executable; else skip saying why, or in CI fail saying so."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    why = f"no headless Chromium here ({', '.join(CANDIDATES)} not on PATH): {INSTALL}"
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true: the report must be looked at in a browser in CI, but {why}",
                    pytrace=False)
    pytest.skip(why)
    raise AssertionError("unreachable")


def _command(chromium: str, profile: str, *args: str) -> List[str]:
    flags = ["--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
             f"--user-data-dir={profile}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return [chromium, *flags, *args]


def _run(chromium: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="bigfruits-chromium-") as profile:
        proc = subprocess.run(_command(chromium, profile, *args), capture_output=True,
                              timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc


def screenshot(chromium: str, page: Path, png: Path, width: int = 1200, height: int = 3000) -> Path:
    """A ``width`` x ``height`` screenshot of ``page`` (a local HTML file) as Chromium draws it."""
    _run(chromium, f"--window-size={width},{height}", f"--screenshot={png}", page.resolve().as_uri())
    return png


def dump_dom(chromium: str, page: Path) -> str:
    """The page's DOM after it loaded and its scripts ran."""
    return _run(chromium, "--virtual-time-budget=5000", "--dump-dom",
                page.resolve().as_uri()).stdout.decode("utf-8", "replace")


#: appended to a copy of a page: once it has loaded, the body says how many images it has and
#: how many the browser decoded (``naturalWidth`` > 0), for ``dump_dom`` to read
IMAGE_PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.setAttribute("data-images", images.length);
  document.body.setAttribute("data-decoded", images.filter(function (image) {
    return image.complete && image.naturalWidth > 0; }).length);
});
</script>"""


def decoded_images(chromium: str, page: Path, workdir: Path) -> "tuple[int, int]":
    """``(images, decoded)`` of ``page`` as Chromium loaded it (a probed copy in ``workdir``)."""
    import re

    probed = workdir / ("probed-" + page.name)
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", IMAGE_PROBE + "</body>"),
                      encoding="utf-8")
    dom = dump_dom(chromium, probed)
    images = re.search(r'data-images="(\d+)"', dom)
    decoded = re.search(r'data-decoded="(\d+)"', dom)
    assert images and decoded, f"the probe did not run: {dom[:500]}"
    return int(images.group(1)), int(decoded.group(1))
