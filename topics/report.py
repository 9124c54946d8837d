"""The HTML report of a topic model: BERTopic's interactive charts and the table of topics.

One self-contained page that works offline: plotly's script is inlined once (no CDN), then
the charts - the intertopic distance map, the keyword bar charts, the hierarchy of topics,
and the documents map (a 2-D UMAP of the document vectors) - each with the topics' labels,
and a table of every topic: size, label (and who wrote it), keywords with weights, and the
representative documents with their sources. A chart BERTopic cannot draw for this model
(the distance map needs several topics) is replaced by a line saying why.

Example:
    >>> from localchain.topics import topic_model
    >>> texts = [f"Shock waves in nozzle flow, run {i}." for i in range(15)] + [
    ...     f"Creep of metal plates under heat, sample {i}." for i in range(15)]
    >>> model = topic_model(texts, min_topic_size=5, n_neighbors=5, progress=False)
    >>> path = write_report(model, "topics.html")
    >>> "js-plotly-plot" in path.read_text() or "Plotly.newPlot" in path.read_text()
    True
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localchain.files import write_atomic
from localchain.topics.progress import ProgressMode, TopicProgress

if TYPE_CHECKING:
    from localchain.topics.fit import TopicModel

__all__ = ["write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
.source { color: #666; font-size: .85em; }
.chart { margin: 1.5rem 0; }
.missing { color: #a33; }
"""


def write_report(model: TopicModel, path: str | Path, *, progress: ProgressMode = False) -> Path:
    """Write the report of ``model`` to ``path`` (an ``.html`` file); returns the path.

    Example:
        >>> write_report  # doctest: +ELLIPSIS
        <function write_report at ...>
    """
    from localchain.topics.fit import _quiet

    target = Path(path)
    charts = _charts(model)
    parts: list[str] = []
    first = True
    with TopicProgress(progress) as bars, _quiet():
        bars.start("Drawing charts", total=len(charts))
        for title, draw in charts:
            try:
                figure = draw()
            except Exception as err:  # noqa: BLE001 - a chart BERTopic cannot draw is reported
                parts.append(
                    f'<p class="missing">{html.escape(title)}: not drawn for this model '
                    f"({html.escape(type(err).__name__)}: {html.escape(str(err)[:200])})</p>"
                )
                bars.advance(title)
                continue
            figure.update_layout(title_text=title)
            parts.append(
                '<div class="chart">'
                + figure.to_html(
                    full_html=False,
                    include_plotlyjs=first,  # inlined once: the page works offline
                    config={"displaylogo": False},
                )
                + "</div>"
            )
            first = False
            bars.advance(title)
    page = _page(model, parts, plotly_missing=first)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, page.encode("utf-8"))
    return target


def _charts(model: TopicModel) -> list[tuple[str, Callable[[], Any]]]:
    bertopic = model.bertopic
    count = len(model.result.topics)

    def documents_map() -> Any:
        from umap import UMAP

        reduced = UMAP(
            n_neighbors=min(15, len(model.texts) - 1),
            n_components=2,
            min_dist=0.0,
            metric="cosine",
            random_state=model.settings.seed,
            n_jobs=1 if model.settings.seed is not None else -1,
        ).fit_transform(model.vectors)
        return bertopic.visualize_documents(
            [_short(t, 120) for t in model.texts],
            reduced_embeddings=reduced,
            custom_labels=True,
        )

    return [
        ("Intertopic distance map", lambda: bertopic.visualize_topics(custom_labels=True)),
        (
            "Keywords per topic",
            lambda: bertopic.visualize_barchart(
                top_n_topics=min(count, 12), n_words=8, custom_labels=True
            ),
        ),
        ("Hierarchy of topics", lambda: bertopic.visualize_hierarchy(custom_labels=True)),
        ("Documents map", documents_map),
    ]


def _page(model: TopicModel, charts: list[str], *, plotly_missing: bool) -> str:
    result = model.result
    summary = (
        f"{len(result.topics)} topics in {result.documents_used} documents; "
        f"{result.outliers} outliers ({result.outlier_share:.1%}); "
        f"{result.duplicates} duplicates, {result.empty_documents} empty left out; "
        f"labels: {sum(t.label_source == 'llm' for t in result.topics)} by the model, "
        f"{result.label_failures} failed. Embeddings: {result.embedding_model}"
        f"{' (the index vectors)' if result.vectors_reused else ''}; seed {result.seed}."
    )
    rows = []
    for topic in result.topics:
        keywords = ", ".join(f"{html.escape(k.word)} ({k.weight:.3f})" for k in topic.keywords)
        docs = "".join(
            f"<li>{html.escape(_short(d.text, 200))} "
            f'<span class="source">{html.escape(d.source or f"document {d.index}")}</span></li>'
            for d in topic.representative_documents
        )
        who = "model" if topic.label_source == "llm" else "keywords"
        if topic.label_error:
            who += f" (model failed: {html.escape(_short(topic.label_error, 120))})"
        rows.append(
            f'<tr><td>{topic.id}</td><td>{topic.size}</td><td class="label">'
            f"{html.escape(topic.label)}</td><td>{who}</td><td>{keywords}</td>"
            f"<td><ul>{docs}</ul></td></tr>"
        )
    note = '<p class="missing">No chart could be drawn.</p>' if plotly_missing else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Topics</title><style>{_STYLE}</style></head><body>"
        f"<h1>Topics</h1><p>{html.escape(summary)}</p>"
        '<table id="topics"><thead><tr><th>id</th><th>size</th><th>label</th>'
        "<th>written by</th><th>keywords</th><th>representative documents</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"{note}{''.join(charts)}</body></html>\n"
    )


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
