"""The report of examples/experiment.py: per-arm summaries (mean ± 95 % CI over seeds, paired
t-tests against a baseline arm) and a self-contained HTML page with inline SVG learning curves.

A result set is a dict (what experiment.py writes as result.json):

    {"name", "command", "config": {...}, "arms": [names], "arm_docs": {arm: text}, "notes": [text],
     "runs": [{"arm", "seed", "metrics": {key: value}, "curve": [{"images", "loss", "tar"}]}]}

Metric keys are those of METRICS; a run may lack some (None), e.g. a bucket without probes.
"""

import html
import json
import math
import os

from . import evaluate

__all__ = ["METRICS", "summarize", "markdown_tables", "render_html", "write"]

# (key in run["metrics"], label in the tables)
METRICS = (
    ("tar@far=0.01", "TAR@FAR=1e-2"),
    ("tar@far=0.001", "TAR@FAR=1e-3"),
    ("auc", "ROC AUC"),
    ("acc10", "10-fold accuracy"),
) + tuple((f"rank1:{evaluate.bucket_name(lo)}", f"rank-1, {evaluate.bucket_name(lo)} photos")
          for lo, _ in evaluate.BUCKETS) + (("rank1:all", "rank-1, all"),)

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def summarize(result, baseline="raw"):
    """{"arms": {arm: {key: [mean, ci, n]}}, "paired": {arm: {key: test}}} from result["runs"].

    The paired test matches runs of an arm and of the baseline by seed; a metric missing in
    either run of a pair leaves that pair out.
    """
    runs = result["runs"]
    out = {"arms": {}, "paired": {}}
    for arm in result["arms"]:
        mine = [r for r in runs if r["arm"] == arm]
        out["arms"][arm] = {}
        for key, _ in METRICS:
            values = [r["metrics"].get(key) for r in mine if r["metrics"].get(key) is not None]
            mean, ci = evaluate.mean_ci(values)
            out["arms"][arm][key] = [mean, ci, len(values)]
        if arm == baseline:
            continue
        base = {r["seed"]: r for r in runs if r["arm"] == baseline}
        tests = {}
        for key, _ in METRICS:
            pairs = [(r["metrics"].get(key), base[r["seed"]]["metrics"].get(key)) for r in mine if r["seed"] in base]
            pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
            if len(pairs) >= 2:
                tests[key] = evaluate.paired_t_test([a for a, _ in pairs], [b for _, b in pairs])
        out["paired"][arm] = tests
    return out


def _fmt(mean, ci, scale=100.0, digits=1):
    if mean is None or math.isnan(mean):
        return "–"
    if ci is None or math.isnan(ci):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {ci * scale:.{digits}f}"


def _scale(key):
    return 1.0 if key == "auc" else 100.0


def markdown_tables(result, summary):
    """The tables as markdown (what the docs quote): verification, identification, paired tests."""
    arms = result["arms"]
    verif = [k for k, _ in METRICS[:4]]
    ident = [k for k, _ in METRICS[4:]]
    labels = dict(METRICS)
    lines = []
    for keys, title in ((verif, "verification, held-out people"), (ident, "identification, held-out photos of training identities")):
        lines.append(f"{title} (mean ± 95 % CI over seeds; % except AUC)\n")
        lines.append("| arm | " + " | ".join(labels[k] for k in keys) + " |")
        lines.append("|---|" + "---:|" * len(keys))
        for arm in arms:
            cells = [_fmt(*summary["arms"][arm][k][:2], scale=_scale(k), digits=4 if k == "auc" else 1) for k in keys]
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("paired difference from raw, same seeds (arm − raw; p of the paired t-test; * significant at 5 %)\n")
    keys = verif + ["rank1:1-4", "rank1:all"]
    lines.append("| arm | " + " | ".join(labels[k] for k in keys) + " |")
    lines.append("|---|" + "---:|" * len(keys))
    for arm, tests in summary["paired"].items():
        cells = []
        for k in keys:
            t = tests.get(k)
            if t is None:
                cells.append("–")
                continue
            s = _scale(k)
            d = 4 if k == "auc" else 1
            cells.append(f"{t['diff'] * s:+.{d}f} ± {t['ci'] * s:.{d}f} (p={t['p']:.3f}){' *' if t['significant'] else ''}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _tick(v):
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _svg_plot(series, title, xlabel, ylabel, width=560, height=320):
    """A line plot as inline SVG: series is [(name, colour, [(x, y), ...])]."""
    pts = [(x, y) for _, _, xy in series for x, y in xy if y is not None and not math.isnan(y)]
    left, right, top, bottom = 60, 130, 30, 45
    w, h = width - left - right, height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<text x="{left + w / 2}" y="16" text-anchor="middle" font-size="13">{html.escape(title)}</text>']
    if not pts:
        out.append(f'<text x="{left + w / 2}" y="{top + h / 2}" text-anchor="middle">no data</text></svg>')
        return "".join(out)
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 == x0:
        x1 = x0 + 1
    pad = (y1 - y0) * 0.05 or 0.5
    y0, y1 = y0 - pad, y1 + pad
    sx = lambda x: left + (x - x0) / (x1 - x0) * w  # noqa: E731
    sy = lambda y: top + h - (y - y0) / (y1 - y0) * h  # noqa: E731
    out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    for i in range(5):
        yv, xv = y0 + (y1 - y0) * i / 4, x0 + (x1 - x0) * i / 4
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{sy(yv):.1f}" y2="{sy(yv):.1f}" stroke="#eee"/>'
                   f'<text x="{left - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end">{_tick(yv)}</text>'
                   f'<text x="{sx(xv):.1f}" y="{top + h + 15}" text-anchor="middle">{_tick(xv)}</text>')
    out.append(f'<text x="{left + w / 2}" y="{height - 8}" text-anchor="middle">{html.escape(xlabel)}</text>'
               f'<text transform="translate(14 {top + h / 2}) rotate(-90)" text-anchor="middle">{html.escape(ylabel)}</text>')
    for k, (name, colour, xy) in enumerate(series):
        xy = [(x, y) for x, y in xy if y is not None and not math.isnan(y)]
        if xy:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in xy)
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        ly = top + 12 + 16 * k
        out.append(f'<line x1="{left + w + 10}" x2="{left + w + 30}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
                   f'stroke-width="2"/><text x="{left + w + 34}" y="{ly}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def _mean_curve(runs, field):
    """The mean over seeds of a curve field at each checkpoint the runs share."""
    points = {}
    for r in runs:
        for p in r["curve"]:
            if p.get(field) is not None:
                points.setdefault(p["images"], []).append(p[field])
    return [(x, sum(v) / len(v)) for x, v in sorted(points.items())]


def render_html(result, summary):
    arms = result["arms"]
    colour = {arm: _COLOURS[i % len(_COLOURS)] for i, arm in enumerate(arms)}
    by_arm = {arm: [r for r in result["runs"] if r["arm"] == arm] for arm in arms}
    loss = _svg_plot([(a, colour[a], _mean_curve(by_arm[a], "loss")) for a in arms],
                     "training loss (mean over seeds)", "training images seen", "loss")
    tar = _svg_plot([(a, colour[a], [(x, y * 100) for x, y in _mean_curve(by_arm[a], "tar")]) for a in arms],
                    "held-out TAR@FAR=1e-2 (mean over seeds)", "training images seen", "TAR %")
    esc = html.escape
    labels = dict(METRICS)

    def table(keys):
        head = "".join(f"<th>{esc(labels[k])}</th>" for k in keys)
        rows = []
        for arm in arms:
            cells = "".join(f"<td>{esc(_fmt(*summary['arms'][arm][k][:2], scale=_scale(k), digits=4 if k == 'auc' else 1))}</td>"
                            for k in keys)
            rows.append(f"<tr><th>{esc(arm)}</th>{cells}</tr>")
        return f"<table><tr><th>arm</th>{head}</tr>{''.join(rows)}</table>"

    keys_v = [k for k, _ in METRICS[:4]]
    keys_i = [k for k, _ in METRICS[4:]]
    paired_rows = []
    for arm, tests in summary["paired"].items():
        for k, t in tests.items():
            s, d = _scale(k), 4 if k == "auc" else 1
            verdict = "significant" if t["significant"] else "not significant"
            paired_rows.append(f"<tr><th>{esc(arm)}</th><td>{esc(labels[k])}</td><td>{t['diff'] * s:+.{d}f} ± "
                               f"{t['ci'] * s:.{d}f}</td><td>{t['t']:.2f}</td><td>{t['p']:.4f}</td><td>{verdict}</td></tr>")
    run_rows = []
    for r in result["runs"]:
        m = r["metrics"]
        cells = "".join(f"<td>{esc(_fmt(m.get(k), None, scale=_scale(k), digits=4 if k == 'auc' else 1))}</td>" for k in keys_v + keys_i)
        acc = f"{100 * m['acc10']:.1f} ± {100 * m.get('acc10_std', 0):.1f}" if m.get("acc10") is not None else "–"
        run_rows.append(f"<tr><th>{esc(r['arm'])}</th><td>{r['seed']}</td>{cells}<td>{esc(acc)}</td>"
                        f"<td>{r.get('train_seconds', 0):.0f}</td></tr>")
    docs = "".join(f"<dt>{esc(a)}</dt><dd>{esc(result.get('arm_docs', {}).get(a, ''))}</dd>" for a in arms)
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.get("notes", []))
    probes = result.get("probes_by_bucket", {})
    probe_line = ", ".join(f"{k}: {v}" for k, v in probes.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>experiment: {esc(result['name'])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1250px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.6em 0 1.4em; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th:first-child {{ text-align: left; }}
pre {{ background: #f5f5f5; padding: 0.6em; white-space: pre-wrap; }}
.plots svg {{ margin-right: 1em; }}
</style></head><body>
<h1>Does it train better? {esc(result['name'])}</h1>
<p>Every figure is the mean ± the 95 % Student-t confidence interval over {len(result.get('seeds', []))} seeds;
percentages except ROC AUC. Each arm trained the same network from the same seeds on the same number of images.</p>
<h2>Learning curves</h2>
<div class="plots">{loss}{tar}</div>
<h2>Verification on held-out people</h2>
{table(keys_v)}
<h2>Identification of held-out photos of training identities</h2>
<p>Rank-1 against class centres, by the identity's photo count in the raw training set (probes: {esc(probe_line)}).</p>
{table(keys_i)}
<h2>Paired comparison with raw (same seeds)</h2>
<table><tr><th>arm</th><th>metric</th><th>arm − raw</th><th>t</th><th>p</th><th>at 5 %</th></tr>{''.join(paired_rows)}</table>
<h2>Arms</h2><dl>{docs}</dl>
<h2>Runs</h2>
<table><tr><th>arm</th><th>seed</th>{''.join(f'<th>{esc(labels[k])}</th>' for k in keys_v + keys_i)}<th>10-fold mean ± std</th><th>train s</th></tr>
{''.join(run_rows)}</table>
<h2>Notes</h2><ul>{notes}</ul>
<h2>Configuration</h2>
<pre>{esc(json.dumps(result.get('config', {}), indent=2, sort_keys=True))}</pre>
<h2>Command</h2>
<pre>{esc(result.get('command', ''))}</pre>
</body></html>
"""


def write(result, folder):
    """Writes result.json (with the summary), report.html and tables.md into `folder`; returns the summary."""
    summary = summarize(result)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "result.json"), "w") as f:
        json.dump(dict(result, summary=summary), f, indent=1, default=_json_default)
    with open(os.path.join(folder, "report.html"), "w") as f:
        f.write(render_html(result, summary))
    with open(os.path.join(folder, "tables.md"), "w") as f:
        f.write(markdown_tables(result, summary))
    return summary


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
