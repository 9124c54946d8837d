"""Reports of an evaluation run: JSON with everything, and a self-contained HTML page.

The HTML page needs no network and no other file: a summary table (with deltas against a
baseline when given), the judge's calibration, one score-distribution plot per metric
(matplotlib, embedded as base64 PNG), the worst samples with their contexts and the judge's
reasons, and the run metadata.

Example:
    >>> from localchain.evals.results import EvalResult
    >>> paths = write_reports(EvalResult(), "report")
    >>> sorted(p.name for p in paths.values())
    ['eval.html', 'eval.json']
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from localchain.evals.compare import Comparison
from localchain.evals.results import EvalResult, MetricSummary, SampleResult

__all__ = ["render_html", "score_plot", "write_html", "write_reports"]

BAR_COLOR = "#2e6fba"
"""Colour of the histogram bars (the browser test looks for it)."""

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}.num{text-align:right}
.bad{color:#b00020;font-weight:600}.good{color:#1b7f3b}.plots{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;border:1px solid #ddd;padding:.5rem}figcaption{font-size:.9rem;color:#555}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5rem;font-size:.85rem;margin:.3rem 0}
.sample{border:1px solid #ddd;padding:.6rem 1rem;margin:.8rem 0}.trust{background:#fff8e1;
padding:.6rem 1rem;border-left:4px solid #f0b400}.ns{color:#8a4b00}
.partial{background:#fdecea;padding:.6rem 1rem;border-left:4px solid #b00020}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def score_plot(result: EvalResult, metric: str) -> str:
    """A PNG histogram of one metric's scores, base64-encoded.

    Example:
        >>> from localchain.evals.results import EvalResult
        >>> score_plot(EvalResult(), "faithfulness")[:8]
        'iVBORw0K'
    """
    values = [s.scores[metric].value for s in result.samples
              if metric in s.scores and s.scores[metric].value is not None]
    summary = result.summary.get(metric, MetricSummary(metric=metric))
    # Figure + Agg canvas, not pyplot: no global state, safe in threads and under pytest.
    figure = Figure(figsize=(4.2, 2.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    low = min([0.0, *values])
    high = max([1.0, *values])
    axes.hist(values, bins=10, range=(low, high), color=BAR_COLOR, edgecolor="white")
    if summary.mean is not None:
        axes.axvline(summary.mean, color="#b00020", linestyle="--", linewidth=1.2,
                     label=f"mean {summary.mean:.2f}")
        axes.legend(loc="upper left", fontsize=8)
    axes.set_title(f"{metric} (scored {summary.n_scored}, not scorable "
                   f"{summary.n_not_scorable})", fontsize=9)
    axes.set_xlabel("score", fontsize=8)
    axes.set_ylabel("samples", fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _summary_table(result: EvalResult, comparison: Comparison | None) -> str:
    head = ("<tr><th>metric</th><th>mean</th><th>scored</th><th>not scorable</th>"
            "<th>min</th><th>max</th>")
    if comparison is not None:
        head += "<th>baseline</th><th>delta</th>"
    rows = [head + "</tr>"]
    for name, s in result.summary.items():
        kinds = ", ".join(f"{k}: {n}" for k, n in s.not_scorable_kinds.items())
        cells = (f"<td>{_e(name)}</td><td class=num>{_num(s.mean)}</td>"
                 f"<td class=num>{s.n_scored}</td><td class=num>{s.n_not_scorable}"
                 f"{f' <span class=ns>({_e(kinds)})</span>' if kinds else ''}</td>"
                 f"<td class=num>{_num(s.minimum)}</td><td class=num>{_num(s.maximum)}</td>")
        if comparison is not None:
            delta = comparison.deltas.get(name)
            if delta is None:
                cells += "<td>-</td><td>new metric</td>"
            else:
                css = "bad" if delta.regressed else "good"
                shown = "n/a" if delta.delta is None else f"{delta.delta:+.3f}"
                why = f" regression: {_e(delta.why)}" if delta.regressed else ""
                cells += (f"<td class=num>{_num(delta.baseline)}</td>"
                          f"<td class='num {css}'>{shown}{why}</td>")
        rows.append(f"<tr>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _trust(result: EvalResult) -> str:
    meta = result.metadata
    if meta.judge_model is None:
        return "<p>No judge metric in this run.</p>"
    calibration = meta.calibration
    faithfulness = (meta.settings.get("faithfulness") or {}).get("judge")
    scored_by = (" Faithfulness was scored by the grounded judge (per-claim evidence: "
                 "embeddings, word overlap, number / name / negation conflicts)."
                 if faithfulness == "grounded" else "")
    if not calibration:
        return (f"<div class=trust>Judge: <b>{_e(meta.judge_model)}</b>.{scored_by} Not "
                "calibrated in "
                "this report: run <code>localchain eval calibrate</code> to measure how often "
                "it agrees with human faithfulness labels before trusting these scores.</div>")
    per_class = calibration.get("per_class", {})
    classes = ", ".join(f"{_e(k)}: {_num(v, 2)}" for k, v in per_class.items())
    splits = calibration.get("per_split") or {}
    held = (f"; on the held-out items: <b>{_num(splits['heldout'], 2)}</b>"
            if "heldout" in splits else "")
    calibrated = calibration.get("faithfulness_judge")
    return (f"<div class=trust>Judge: <b>{_e(calibration.get('judge_model', meta.judge_model))}"
            f"</b>{f' ({_e(calibrated)} faithfulness)' if calibrated else ''}.{scored_by} On "
            f"{calibration.get('n', '?')} labelled (question, context, answer) items "
            f"it agreed with the faithful / unfaithful label <b>"
            f"{_num(calibration.get('accuracy'), 2)}</b> of the time{held} (per class: {classes}; "
            f"not scorable: {calibration.get('n_not_scorable', 0)}). Treat differences in "
            "scores smaller than its error rate as noise.</div>")


def _sample(sample: SampleResult, metric: str) -> str:
    score = sample.scores[metric]
    if score.value is not None:
        verdict = f"{_e(metric)} = <b>{score.value:.3f}</b>"
    else:
        assert score.not_scorable is not None
        verdict = (f"{_e(metric)}: <b class=ns>not scorable ({_e(score.not_scorable.kind.value)})"
                   f"</b> {_e(score.not_scorable.detail)}")
    contexts = "".join(f"<li>{_e(c)}</li>" for c in sample.contexts) or "<li>(none)</li>"
    reference = (f"<p><b>Reference:</b> {_e(sample.reference)}</p>" if sample.reference else "")
    error = (f"<p class=bad>Target error: {_e(sample.target_error)}</p>"
             if sample.target_error else "")
    reasons = _e(score.reason) or "(no judge reasons recorded)"
    return (f"<div class=sample><p>#{sample.index + 1}{f' ({_e(sample.id)})' if sample.id else ''}"
            f" - {verdict}</p><p><b>Question:</b> {_e(sample.question)}</p>"
            f"<p><b>Answer:</b> {_e(sample.answer)}</p>{reference}{error}"
            f"<details open><summary>Contexts ({len(sample.contexts)})</summary><ol>{contexts}"
            f"</ol></details><p><b>Judge's reasons:</b></p><pre>{reasons}</pre></div>")


def render_html(result: EvalResult, *, comparison: Comparison | None = None,
                worst: int = 3) -> str:
    """The HTML report as one string (no external resources).

    The report of a run that stopped early (a
    :class:`~localchain.evals.harness.PartialEvalResult`) says so at the top, with how far
    the run got.

    Example:
        >>> from localchain.evals.results import EvalResult
        >>> "<table>" in render_html(EvalResult())
        True
    """
    meta = result.metadata
    plots = "".join(
        f"<figure><img src='data:image/png;base64,{score_plot(result, m)}' "
        f"alt='score distribution of {_e(m)}' width=420 height=280>"
        f"<figcaption>{_e(m)}</figcaption></figure>" for m in result.summary)
    worst_html = "".join(
        f"<h3>{_e(m)}</h3>" + "".join(_sample(s, m) for s in result.worst(m, worst))
        for m in result.summary)
    regressions = ""
    if comparison is not None:
        state = ("<p class=bad>Regressions: " + _e(", ".join(comparison.regressions)) + "</p>"
                 if comparison.regressions else "<p class=good>No regression against the "
                 f"baseline (tolerance {comparison.tolerance:g}).</p>")
        regressions = f"<h2>Against the baseline</h2>{state}"
    usage = meta.judge
    facts = [("started", meta.started_at), ("dataset", meta.dataset), ("target", meta.target),
             ("samples", len(result.samples)), ("judge model", meta.judge_model),
             ("embeddings", meta.embeddings_model), ("run time", f"{meta.seconds:.1f} s"),
             ("judge calls", (f"{usage.calls} ({usage.attempts} attempts, {usage.failures} "
                              f"failed, {usage.seconds:.1f} s)")),
             ("not scorable", result.not_scorable_count)]
    fact_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    partial = getattr(result, "partial", None)  # a PartialEvalResult (evals.harness)
    title = "Evaluation report (partial)" if partial is not None else "Evaluation report"
    banner = (f"<div class=partial><b>Partial report:</b> the run stopped early "
              f"({_e(partial.describe())}). Every number below covers only what was scored "
              "before it stopped.</div>" if partial is not None else "")
    details = json.dumps({"settings": meta.settings, "versions": meta.versions}, indent=2,
                         default=str)
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>localchain eval "
            f"report</title><style>{_CSS}</style></head><body><h1>{title}</h1>{banner}"
            f"<table>{fact_rows}</table>{_trust(result)}<h2>Summary</h2>"
            f"{_summary_table(result, comparison)}{regressions}"
            f"<h2>Score distributions</h2><div class=plots>{plots}</div>"
            f"<h2>Worst samples</h2>{worst_html}<h2>Run metadata</h2><pre>{_e(details)}</pre>"
            "</body></html>")


def write_html(result: EvalResult, path: str | Path, *,
               comparison: Comparison | None = None) -> Path:
    """Write the HTML report; returns the path.

    Example:
        >>> import tempfile
        >>> page = write_html(EvalResult(), Path(tempfile.mkdtemp()) / "reports" / "run1.html")
        >>> page.name, page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        ('run1.html', True)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(result, comparison=comparison), encoding="utf-8")
    return target


def write_reports(result: EvalResult, path: str | Path, *,
                  comparison: Comparison | None = None) -> dict[str, Path]:
    """Write ``eval.json`` and ``eval.html`` into a folder, or beside a ``.json`` / ``.html``
    path (same stem); returns ``{"json": ..., "html": ...}``.

    For a :class:`~localchain.evals.harness.PartialEvalResult` the JSON has a ``partial``
    object (how far the run got) and the HTML page says it is partial.

    Example:
        >>> from localchain.evals.results import EvalResult
        >>> write_reports(EvalResult(), "out/run1.json")["html"].name
        'run1.html'
    """
    target = Path(path)
    if target.suffix.lower() in (".json", ".html"):
        json_path, html_path = target.with_suffix(".json"), target.with_suffix(".html")
    else:
        json_path, html_path = target / "eval.json", target / "eval.html"
    result.write_json(json_path)
    if comparison is not None:
        # The comparison travels with the JSON too, so CI can read it without the HTML.
        data = json.loads(json_path.read_text(encoding="utf-8"))
        data["comparison"] = comparison.model_dump()
        json_path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return {"json": json_path, "html": write_html(result, html_path, comparison=comparison)}
