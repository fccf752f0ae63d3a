"""report.html: one self-contained page (plots as PNG data URIs, inline style and script, no
network): the headline comparison first, then per target the scores with intervals and the
plots, the comparisons and the per-language table. Every table sorts by a click on its header.
"""
from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from ray_xr.report.results import first_seen
from ray_xr.report.sections import claim, df_text, level_label

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:72rem;
color:#1d1d1f;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.88rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e6e6e6;text-align:right;white-space:nowrap}
th{background:#f5f5f7;cursor:pointer;user-select:none;position:sticky;top:0}
th:first-child,td:first-child,td.t{text-align:left}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
.sig{color:#0b6e3b;font-weight:600}.neg{color:#a4161a;font-weight:600}.note{color:#555;font-size:.92rem}
.wide{overflow-x:auto;max-width:100%;scrollbar-width:thin;scrollbar-color:#aaa #f0f0f0;
background:linear-gradient(to right,#fff 40%,#fff0) left/1.5rem 100% no-repeat local,
linear-gradient(to left,#fff 40%,#fff0) right/1.5rem 100% no-repeat local,
radial-gradient(farthest-side at 0 50%,#0004,#0000) left/.8rem 100% no-repeat scroll,
radial-gradient(farthest-side at 100% 50%,#0004,#0000) right/.8rem 100% no-repeat scroll}
.wide::-webkit-scrollbar{height:.6rem}.wide::-webkit-scrollbar-thumb{background:#aaa;border-radius:.3rem}
.wide::-webkit-scrollbar-track{background:#f0f0f0}
.headline{background:#f0f6ff;border-left:4px solid #2b6cb0;padding:.6rem 1rem}
img{max-width:100%;margin:.5rem 1rem .5rem 0;border:1px solid #eee}.figs{display:flex;flex-wrap:wrap}
"""
# Sort a table by the clicked column: numbers (data-v) numerically, otherwise as text.
_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var down = th.getAttribute("aria-sort") === "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", down ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col], y = b.cells[col];
      var u = x.dataset.v, v = y.dataset.v, r;
      if (u !== undefined && v !== undefined) { r = parseFloat(u) - parseFloat(v); }
      else { r = x.textContent.localeCompare(y.textContent); }
      return down ? -r : r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _e(text) -> str:
    return html.escape(str(text))


def _num(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(low, high, digits: int = 1) -> str:
    return "" if low is None or high is None else f"[{low:.{digits}f}, {high:.{digits}f}]"


def _td(text, value=None, cls: str = "") -> str:
    data = f' data-v="{value:.6g}"' if isinstance(value, (int, float)) and value == value else ""
    klass = f' class="{cls}"' if cls else ""
    return f"<td{data}{klass}>{_e(text)}</td>"


def _table(header: Sequence[str], body: list[str], caption: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    cap = f"<caption class=note>{_e(caption)}</caption>" if caption else ""
    return (f"<div class=wide><table class=sortable>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _scores(rows: Sequence[dict], target: str, found) -> str:
    body = []
    for r in rows:
        if r["target"] != target:
            continue
        sig = r.get("gain_p_holm") is not None and r["gain_p_holm"] < 0.05
        mark = ("sig" if r["gain"] > 0 else "neg") if sig else ""
        body.append("<tr>" + "".join([
            _td(r["intermediate"]), _td(level_label(r["noise"], r["level"]), r["level"], "t"),
            _td(_num(r["mean"]) + (" ▲" if mark == "sig" else " ▼" if mark == "neg" else ""), r["mean"], mark),
            _td(_ci(r.get("ci_low"), r.get("ci_high"))), _td(_num(r["std"]), r["std"]),
            _td(_num(r["drop"]), r["drop"]), _td(_ci(r.get("drop_ci_low"), r.get("drop_ci_high"))),
            _td(_num(r.get("relative_drop")), r.get("relative_drop")),
            _td(_num(r.get("gain")), r.get("gain")), _td(_ci(r.get("gain_ci_low"), r.get("gain_ci_high"))),
            _td(_num(r.get("gain_p_holm"), 3), r.get("gain_p_holm")),
            _td(_num(r.get("auc"), 3), r.get("auc")), _td(_num(r.get("gap")), r.get("gap")),
            _td(r["seeds"], r["seeds"]), _td(r["languages"], r["languages"])]) + "</tr>")
    header = ["intermediate", "level", "score", "95% CI", "std", "drop", "drop CI", "drop %", "gain vs none",
              "gain CI", "Holm p", "AUC", "transfer gap", "seeds", "languages"]
    marks = f" ▲/▼: significantly above/below none after Holm's correction. {claim(found)}" if found.comparisons else ""
    return _table(header, body, f"Mean over non-source languages (then seeds).{marks}")


def _comparisons(found) -> str:
    body = []
    for r in found.comparisons:
        cls = ("sig" if r["diff"] > 0 else "neg") if r["significant"] else ""
        body.append("<tr>" + "".join([
            _td(f"{r['a']} − {r['b']}"), _td(r["target"], None, "t"),
            _td(level_label(r["noise"], r["level"]), r["level"], "t"), _td(f"{r['diff']:+.1f}", r["diff"], cls),
            _td(_ci(r["ci_low"], r["ci_high"])), _td(f"{r['p']:.3g}", r["p"]),
            _td(f"{r['p_holm']:.3g}", r["p_holm"]), _td(df_text(r), r["df"]), _td(_num(r["mdd"]), r["mdd"]),
            _td(f"{r['p_models']:.3g}", r["p_models"]),
            _td(r["n_examples"], r["n_examples"]), _td(r["seeds"], r["seeds"])]) + "</tr>")
    return _table(["a − b", "target", "level", "diff", "95% CI", "p", "Holm p", "df", "MDD", "p (these models)",
                   "examples", "seeds"], body,
                  f"{claim(found)} MDD: minimum detectable difference at 80% power and Holm's strictest level. "
                  "p (these models): paired permutation test over test examples, the trained models held fixed.")


def _languages(records: Sequence[dict], target: str) -> str:
    body = []
    for r in records:
        if r["target"] != target:
            continue
        body.append("<tr>" + "".join([
            _td(r["intermediate"]), _td(r["seed"], None, "t"), _td(r["language"], None, "t"),
            _td(level_label(r["noise"], float(r["level"])), float(r["level"]), "t"),
            _td(_num(r["value"]), r["value"]), _td(_ci(r.get("ci_low"), r.get("ci_high"))), _td(r["n"], r["n"])]) + "</tr>")
    return _table(["intermediate", "seed", "language", "level", "score", "95% CI", "n"], body)


def _figures(figures: dict[str, bytes], target: str) -> str:
    imgs = [f'<img alt="{_e(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
            for name, png in figures.items() if name.rsplit(".", 1)[0].split("_", 1)[1] == target]
    return f"<div class=figs>{''.join(imgs)}</div>" if imgs else ""


def _progress(progress: dict | None) -> str:
    if not progress:
        return ""
    cells = " · ".join(f"{_e(phase)} {p['done']}/{p['total']}" for phase, p in progress.get("phases", {}).items())
    eta = progress.get("eta_s")
    left = f" · about {eta / 60:.0f} min left" if eta else ""
    return f"<p class=note>Progress: {cells}{left}</p>"


def page(name: str, rows: Sequence[dict], records: Sequence[dict], found, figures: dict[str, bytes],
         progress: dict | None = None) -> str:
    parts = [f"<h1>Robustness: {_e(name)}</h1>", _progress(progress)]
    if found.headline:
        items = "".join(f"<li>{_e(h['text'])}.</li>" for h in found.headline)
        parts.append(f"<h2>Headline</h2><div class=headline><p>{_e(claim(found))}</p><ul>{items}</ul></div>")
    elif not found.panels:
        parts.append("<p class=note>No per-example outcome files yet: no intervals or tests.</p>")
    if not figures and rows:
        parts.append("<p class=note>Plots come with the final report.</p>")
    for target in first_seen(r["target"] for r in rows):
        parts += [f"<h2>{_e(target)}</h2>", _scores(rows, target, found), _figures(figures, target)]
    if found.comparisons:
        parts += ["<h2>Comparisons</h2>", _comparisons(found)]
    for target in first_seen(r["target"] for r in records):
        parts += [f"<h2>{_e(target)} per language</h2>", _languages(records, target)]
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><link rel=icon href='data:,'>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><title>ray-xr: {_e(name)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}<script>{_SCRIPT}</script></body></html>\n")
