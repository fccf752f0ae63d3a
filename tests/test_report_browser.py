"""report.html in a real headless browser (Debian's chromium): it loads offline without console
errors, a screenshot shows the tables and the plots, tables sort on a click, and a table wider
than the window scrolls within its page instead of being cut. `bash .ci/run` installs chromium
(apt-get) where it is missing; without it these tests are skipped, saying so."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from ray_xr.report.render import write_report
from tests.test_report_stats import _planted, write_run

PLOT_BLUE = (31, 119, 180)  # matplotlib's first line colour (C0): only the plots use it


@pytest.fixture(scope="module")
def chromium() -> str:
    return shutil.which("chromium") or pytest.skip(
        "chromium is not installed (`bash .ci/run` installs it; by hand: apt-get install -y chromium, as root)")


def browse(chromium: str, url: str, *extra: str, width: int = 1280) -> subprocess.CompletedProcess:
    # --no-sandbox: CI containers run as root, where chromium's sandbox refuses to start
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--enable-logging=stderr", "--v=0", f"--window-size={width},2400", *extra, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return re.findall(r":CONSOLE[^\]]*\] (.*)", stderr)


def test_console_errors_are_seen(chromium, tmp_path):
    """The check below can fail: a page with an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><script>console.error('planted'); missing();</script>", encoding="utf-8")
    messages = console_messages(browse(chromium, page.as_uri(), "--dump-dom").stderr)
    assert any("planted" in m for m in messages) and any("ReferenceError" in m for m in messages)


def test_report_page_loads_without_errors_and_shows_tables_and_plots(chromium, tmp_path):
    write_run(tmp_path, _planted())
    write_report(tmp_path)
    page = tmp_path / "report" / "report.html"
    loaded = browse(chromium, page.as_uri(), "--dump-dom")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert console_messages(loaded.stderr) == []
    dom = loaded.stdout
    assert dom.count("<table") >= 3 and "Headline" in dom and dom.count("<img") == 3

    shot = tmp_path / "shot.png"
    taken = browse(chromium, page.as_uri(), f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    from PIL import Image  # pillow comes with matplotlib

    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2400)
    colours = image.getcolors(maxcolors=1 << 24)
    counts = {rgb: n for n, rgb in colours}
    dark = sum(n for rgb, n in counts.items() if max(rgb) < 80)  # text of the tables
    blue = sum(n for rgb, n in counts.items() if all(abs(a - b) < 12 for a, b in zip(rgb, PLOT_BLUE)))
    assert dark > 5000, "no table text in the screenshot"
    assert blue > 500, "no plot in the screenshot"


def test_tables_sort_on_a_header_click(chromium, tmp_path):
    """A copy of the page with a script that clicks the score header of the first table twice
    and logs the column each time."""
    write_run(tmp_path, _planted())
    write_report(tmp_path)
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    probe = """<script>
    var table = document.querySelector("table.sortable"), th = table.tHead.rows[0].cells[2];
    function column() { return Array.prototype.map.call(table.tBodies[0].rows,
                                                         function (r) { return r.cells[2].dataset.v; }).join(","); }
    th.click(); console.log("ASC " + column()); th.click(); console.log("DESC " + column());
    </script></body>"""
    copy = tmp_path / "probe.html"
    copy.write_text(page.replace("</body>", probe), encoding="utf-8")
    messages = console_messages(browse(chromium, copy.as_uri(), "--dump-dom").stderr)
    logged = {m.group(1): m.group(2).split(",") for m in (re.match(r'"(ASC|DESC) ([^"]*)"', x) for x in messages) if m}
    ascending, descending = logged["ASC"], logged["DESC"]
    values = [float(v) for v in ascending]
    assert values == sorted(values) and len(values) == 4
    assert [float(v) for v in descending] == sorted(values, reverse=True)


def test_a_table_wider_than_the_window_scrolls_instead_of_being_cut(chromium, tmp_path):
    """In a window narrower than the scores table (15 columns), the table scrolls inside its own
    box: scrolled to its end, the last column (seeds, languages) is in view, and the page itself
    is no wider than the window (nothing is cut off at its edge)."""
    write_run(tmp_path, _planted())
    write_report(tmp_path)
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    probe = """<script>
    var boxes = Array.prototype.map.call(document.querySelectorAll("div.wide"), function (box) {
      var wide = box.scrollWidth > box.clientWidth;
      box.scrollLeft = box.scrollWidth;
      var last = box.querySelector("th:last-child").getBoundingClientRect(), edge = box.getBoundingClientRect();
      return {wide: wide, overflow: getComputedStyle(box).overflowX, shown: last.right <= edge.right + 1,
              last: box.querySelector("th:last-child").textContent};
    });
    console.log("WIDE " + JSON.stringify({boxes: boxes, page: document.documentElement.scrollWidth,
                                          window: window.innerWidth}));
    </script></body>"""
    copy = tmp_path / "probe.html"
    copy.write_text(page.replace("</body>", probe), encoding="utf-8")
    messages = console_messages(browse(chromium, copy.as_uri(), "--dump-dom", width=800).stderr)
    [found] = [json.loads(m.split("WIDE ", 1)[1].rsplit('"', 1)[0].replace('\\"', '"'))
               for m in messages if m.startswith('"WIDE ')]
    wide = [b for b in found["boxes"] if b["wide"]]
    assert wide, found  # the window is narrower than a table: the check below means something
    assert all(b["overflow"] == "auto" and b["shown"] for b in wide), found
    assert "languages" in {b["last"] for b in wide} and found["page"] <= found["window"], found
