"""The HTML report in a real browser: headless Chromium, driven over the DevTools protocol.

Chromium speaks CDP over a pipe (--remote-debugging-pipe: commands on fd 3, replies on
fd 4, NUL-separated JSON), so the test needs no websocket library and opens no port.
CI installs the browser with `apt-get install -y chromium` (tests/setup-machine.sh).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest
from reportdata import fixture_results

from coresweep.claims import CLAIMS
from coresweep.report.build import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium: apt-get install -y chromium"
)

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--mute-audio", "--hide-scrollbars",
)  # fmt: skip

# What the page looks like once loaded: every figure's size and drawn extent, raster images
# (matplotlib embeds heatmaps in its SVG as data: URIs), the claims listed in the summary
# table and its size, the sections and the headings.
PROBE = """(() => {
  const box = el => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  return {
    svgs: [...document.querySelectorAll('svg')].map(s => {
      const g = s.querySelector('g'); const b = g ? g.getBBox() : {width: 0, height: 0};
      return {box: box(s), drawn: [b.width, b.height], label: s.getAttribute('aria-label')};
    }),
    imgs: [...document.querySelectorAll('img')].map(i => [i.naturalWidth, i.naturalHeight]),
    svgImages: [...document.querySelectorAll('svg image')].map(i => {
      const b = i.getBBox(); return [b.width, b.height]; }),
    claims: [...document.querySelectorAll('#claims tr td:first-child')].map(t => t.textContent.trim()),
    claimsBox: box(document.querySelector('#claims')),
    sections: [...document.querySelectorAll('section.claim')].map(s => s.id),
    headings: [...document.querySelectorAll('h2')].map(h => h.id || h.textContent.trim()),
    height: document.documentElement.scrollHeight,
  };
})()"""


class Browser:
    """Headless Chromium with a CDP session on one page; records requests and errors."""

    def __init__(self, profile: Path) -> None:
        cmd_in, self._to_browser = os.pipe()
        self._from_browser, reply_out = os.pipe()

        def at_fds_3_and_4() -> None:  # where --remote-debugging-pipe expects them
            os.dup2(cmd_in, 3)
            os.dup2(reply_out, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=at_fds_3_and_4,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(cmd_in)
        os.close(reply_out)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, session: bool = False, timeout: float = 60, **params: Any) -> Any:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def evaluate(self, expression: str) -> Any:
        r = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"])
        return r["result"]["value"]

    def screenshot(self, path: Path, width: int, height: int) -> Path:
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width,
                  height=height, deviceScaleFactor=1, mobile=False)  # fmt: skip
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(TimeoutError, EOFError, OSError, RuntimeError):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(json.dumps(p["exceptionDetails"])[:300])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args"))[:300])
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text", "")[:300])
            elif m == "Network.loadingFailed":
                out.append(f"loading failed: {p.get('errorText')}")
        return out


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The report of the checked-in tiny run of every experiment (tests/data/tiny), loaded
    in Chromium at 1280 px wide: (browser, probe, html path, tmp)."""
    tmp = tmp_path_factory.mktemp("browser")
    results = fixture_results(tmp)
    html = build_report(results)["html"]
    browser = Browser(tmp / "profile")
    try:
        url = html.resolve().as_uri()
        browser.call("Emulation.setDeviceMetricsOverride", session=True, width=1280,
                     height=900, deviceScaleFactor=1, mobile=False)  # fmt: skip
        browser.call("Page.navigate", session=True, url=url)
        browser.wait_for("Page.loadEventFired")
        probe = browser.evaluate(PROBE)
        yield browser, probe, url, tmp
    finally:
        browser.close()


def test_every_figure_renders_with_a_size_and_drawn_content(page):
    _, probe, _, _ = page
    assert len(probe["svgs"]) >= 3  # speedup, efficiency, utilisation at least
    for svg in probe["svgs"]:
        assert min(svg["box"]) > 50, svg
        assert min(svg["drawn"]) > 50, svg
    assert all(w > 0 and h > 0 for w, h in probe["imgs"] + probe["svgImages"])


def test_no_request_leaves_the_page(page):
    browser, _, url, _ = page
    # the page itself, and images inlined in the figures as data: URIs, nothing else
    assert [r for r in browser.requests() if not r.startswith("data:")] == [url]


def test_console_shows_no_errors(page):
    browser, _, _, _ = page
    assert browser.errors() == []


def test_claims_table_lists_every_claim_and_each_has_a_section(page):
    _, probe, _, _ = page
    assert probe["claims"] == list(CLAIMS)
    assert probe["sections"] == list(CLAIMS)
    heads = probe["headings"]
    assert heads[0] == "summary"
    assert heads.index("quality") < heads.index("provenance") < heads.index("reproduce")


def test_summary_table_of_13_claims_fits_in_1400_px_at_1280_px_wide(page):
    _, probe, _, _ = page
    width, height = probe["claimsBox"]
    print(f"\nsummary table: {width:.0f} x {height:.0f} px for {len(probe['claims'])} claims")
    assert len(probe["claims"]) == 13
    assert height <= 1400


def test_screenshot_of_the_whole_page_is_not_blank(page):
    browser, probe, _, tmp = page
    height = min(int(probe["height"]), 12000)
    shot = browser.screenshot(tmp / "report.png", 1280, height)
    img = matplotlib.image.imread(shot)
    assert img.shape[:2] == (height, 1280)
    assert float(np.std(img[..., :3])) > 0.05  # text, tables and figures, not a blank page
