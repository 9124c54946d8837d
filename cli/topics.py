"""`localchain topics --store DIR`: the topics of an index, labelled by the model.

The index's stored vectors are reused (nothing is embedded again). Progress goes to stderr
(bars on a terminal, else lines); ``--json`` prints the result as one JSON object;
``--html FILE`` writes the interactive report; ``--no-llm`` keeps keyword labels and loads
no chat model.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from localchain.cli.options import (
    JsonOpt,
    ModelOptions,
    StoreOpt,
    print_json,
    with_model_options,
)

__all__ = ["topics"]


class KeywordChoice(str, Enum):
    """Values of ``--keywords``: how a topic's keywords are chosen."""

    ctfidf = "ctfidf"
    keybert = "keybert"
    mmr = "mmr"


def _nr_topics(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    if value.isdigit() and int(value) >= 2:
        return int(value)
    raise typer.BadParameter(f"--nr-topics takes a number of at least 2 or 'auto', not {value!r}")


@with_model_options
def topics(
    store: StoreOpt,
    html: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Write the HTML report here.")
    ] = None,
    min_topic_size: Annotated[
        int, typer.Option("--min-topic-size", min=2, help="Smallest topic, in documents.")
    ] = 10,
    nr_topics: Annotated[
        str | None,
        typer.Option("--nr-topics", metavar="N|auto", help="Merge similar topics down to N."),
    ] = None,
    keywords: Annotated[
        KeywordChoice, typer.Option("--keywords", help="Keyword representation.")
    ] = KeywordChoice.ctfidf,
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="Keyword labels only; load no chat model.")
    ] = False,
    model_options: ModelOptions = ModelOptions(),
    json_output: JsonOpt = False,
) -> None:
    """Find the topics of an index (BERTopic) and label them with the model."""
    reduce_to = _nr_topics(nr_topics)
    from localchain.retrievers.store import Index
    from localchain.topics import topic_model

    index = Index.open(store)
    llm: Any = None
    if not no_llm:
        from localchain.models.registry import load_chat_model

        llm = load_chat_model(settings=model_options.settings(), temperature=0)
    model = topic_model(
        index,
        llm,
        min_topic_size=min_topic_size,
        nr_topics=reduce_to,
        keywords=keywords.value,
        progress=True,
    )
    written = model.write_html(html, progress=True) if html is not None else None
    result = model.result
    if json_output:
        data = result.model_dump(mode="json")
        data["outlier_share"] = round(result.outlier_share, 4)
        data["html"] = None if written is None else str(written)
        print_json(data)
        return
    from localchain.cli.output import print_table

    print(
        f"{len(result.topics)} topics in {result.documents_used} documents; "
        f"{result.outliers} outliers ({result.outlier_share:.1%})"
        + (f"; {result.label_failures} labels failed" if result.label_failures else "")
    )
    print_table(
        [(t.id, t.size, t.label, ", ".join(t.keyword_words()[:6])) for t in result.topics],
        headers=["id", "size", "label", "keywords"],
    )
    if written is not None:
        print(f"report: {written}")
