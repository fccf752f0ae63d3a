"""The report's plots, as PNG files in RUN_DIR/report/plots/ (matplotlib, Agg backend: no
display needed, the same pixels on any machine). Each intermediate task has one colour in every
plot, fixed by its place in the sweep's list of intermediate tasks.

- score_<target>.png: score versus noise level, one line per intermediate task and noise
  kind, its 95% bootstrap interval as a band, and the task's chance level where it has one
  (the records' `chance`: a random guess's score);
- drop_<target>.png: a language x level heat map of the drop from clean, one panel per
  intermediate task (mean over seeds);
- gain_<target>.png: each task minus the baseline `none` per level, with 95% intervals;
  filled markers where significant after Holm's correction.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ray_xr.report.stats import nanmean
from ray_xr.report.results import BASELINE, first_seen
from ray_xr.stages import write_bytes

DPI = 110


def _pyplot():
    import matplotlib  # lazy: seconds of import, only for the final report

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def palette(intermediates) -> dict[str, str]:
    """One matplotlib colour per intermediate task, by its place in the sweep's list."""
    return {name: f"C{i % 10}" for i, name in enumerate(intermediates)}


def chance_levels(records) -> dict[str, float]:
    """Each target's chance level (0-100) as its records give it; targets without one are left out."""
    return {r["target"]: r["chance"] for r in records if r.get("chance") is not None}


def score_plot(rows: list[dict], target: str, colours: dict[str, str], chance: float | None = None) -> bytes:
    plt = _pyplot()
    mine = [r for r in rows if r["target"] == target and r["mean"] is not None]
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    noises = first_seen(r["noise"] for r in mine)
    if chance is not None:
        ax.axhline(chance, color="0.45", linestyle=":", linewidth=1.2, label=f"chance ({chance:.1f})")
    for model in first_seen(r["intermediate"] for r in mine):
        for k, noise in enumerate(noises):
            curve = sorted((r for r in mine if r["intermediate"] == model and r["noise"] == noise),
                           key=lambda r: r["level"])
            x = [r["level"] for r in curve]
            label = model if len(noises) == 1 else f"{model} ({noise})"
            line, = ax.plot(x, [r["mean"] for r in curve], marker="o", linestyle=["-", "--", ":", "-."][k % 4],
                            color=colours[model], label=label)
            if all(r.get("ci_low") is not None for r in curve):
                ax.fill_between(x, [r["ci_low"] for r in curve], [r["ci_high"] for r in curve],
                                color=line.get_color(), alpha=0.18, linewidth=0)
    ax.set_xlabel("noise level (fraction of words perturbed)")
    ax.set_ylabel(f"{mine[0]['metric']} (0-100)")
    ax.set_title(f"{target}: score under noise (mean over non-source languages, 95% CI)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def drop_heatmap(panel) -> bytes | None:
    plt = _pyplot()
    noise = panel.points[0][0]
    levels = sorted(lv for n, lv in panel.points if n == noise)
    if len(levels) < 2 or levels[0] != 0:
        return None
    idx = [panel.points.index((noise, lv)) for lv in levels]
    scores = nanmean(panel.estimate[:, :, idx, :], axis=1)  # model, level, language
    drops = scores[:, :1, :] - scores[:, 1:, :]
    fig, axes = plt.subplots(1, len(panel.models), figsize=(2.4 * len(panel.models) + 1, 0.35 * len(panel.languages) + 1.6),
                             squeeze=False, sharey=True)
    top = float(np.nanmax(np.abs(drops))) or 1.0
    for ax, model, grid in zip(axes[0], panel.models, drops):
        image = ax.imshow(grid.T, cmap="RdBu_r", vmin=-top, vmax=top, aspect="auto")
        ax.set_xticks(range(len(levels) - 1), [f"{lv:g}" for lv in levels[1:]])
        ax.set_yticks(range(len(panel.languages)), panel.languages)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel(f"{noise} level")
        for (i, j), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(i, j, f"{value:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value) > top / 2 else "black")  # legible on dark cells
    fig.colorbar(image, ax=axes[0].tolist(), label="drop from clean (points)")
    fig.suptitle(f"{panel.target}: drop per language and level (points, mean over seeds)", fontsize=10, y=1.04)
    return _png(fig)


def gain_plot(found, target: str, colours: dict[str, str]) -> bytes | None:
    plt = _pyplot()
    rows = [r for r in found.comparisons if r["target"] == target and r["b"] == BASELINE]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    models = first_seen(r["a"] for r in rows)
    width = 0.8 / max(len(models), 1)
    points = first_seen((r["noise"], r["level"]) for r in rows)
    for k, model in enumerate(models):
        colour = colours[model]
        mine = {(r["noise"], r["level"]): r for r in rows if r["a"] == model}
        x = np.arange(len(points)) + (k - (len(models) - 1) / 2) * width
        for xi, point in zip(x, points):
            r = mine.get(point)
            if r is None:
                continue
            err = [[r["diff"] - r["ci_low"]], [r["ci_high"] - r["diff"]]]
            ax.errorbar([xi], [r["diff"]], yerr=err, fmt="o", color=colour, capsize=3,
                        markerfacecolor=colour if r["significant"] else "white",
                        label=model if point == points[0] else None)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(points)), ["clean" if lv == 0 else f"{n} {lv:g}" for n, lv in points])
    ax.set_ylabel("gain over none (points)")
    ax.set_title(f"{target}: gain over the baseline, 95% CI (filled: significant after Holm)", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return _png(fig)


def write_all(out: Path, rows: list[dict], found, intermediates=(), chance: dict[str, float] | None = None
              ) -> dict[str, bytes]:
    """Render and write every plot; return {file name: PNG bytes} (for report.html).
    `intermediates`: the sweep's list (the colours; tasks it lacks come after, as the rows
    list them); `chance`: chance levels by target (chance_levels)."""
    # the sweep's arms: a task's name, or a variant's {name, task, ...} (plan/settings.py Variant)
    listed = [a["name"] if isinstance(a, dict) else a for a in intermediates] \
        if isinstance(intermediates, (list, tuple)) else []
    colours = palette(first_seen([*listed, *(r["intermediate"] for r in rows)]))
    figures: dict[str, bytes] = {}
    for target in first_seen(r["target"] for r in rows):
        if any(r["level"] > 0 for r in rows if r["target"] == target):
            figures[f"score_{target}.png"] = score_plot(rows, target, colours, (chance or {}).get(target))
    for panel in found.panels:
        for name, png in ((f"drop_{panel.target}.png", drop_heatmap(panel)),
                          (f"gain_{panel.target}.png", gain_plot(found, panel.target, colours))):
            if png is not None:
                figures[name] = png
    for name, png in figures.items():
        write_bytes(out / "plots" / name, png)
    return figures
