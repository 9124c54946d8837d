"""Evaluation datasets: JSONL, JSON, CSV or a list of dicts, checked row by row.

Files are read as UTF-8; a byte-order mark makes them UTF-16 or UTF-32 instead (Excel and
PowerShell write "Unicode" text as UTF-16 with a mark), and other encodings are refused with
the byte and line where decoding failed. A row needs a ``question``. Optional: ``reference`` (or ``ground_truth``) - the reference
answer; ``answer`` and ``contexts`` - when already generated (no target needed);
``relevant_ids`` - ids of the relevant chunks or sources, as a list or ``{id: grade}``;
``id``. A malformed row raises :class:`~localchain.errors.EvalDatasetError` naming the file,
the line (or row) and the field; nothing is skipped silently.

Example:
    >>> samples = load_dataset([{"question": "Who wrote Dune?", "ground_truth": "Frank Herbert"}])
    >>> samples[0].reference
    'Frank Herbert'
    >>> load_dataset([{"query": "x"}, {"answer": "y"}])
    Traceback (most recent call last):
    ...
    localchain.errors.EvalDatasetError: <list>, row 2: missing field 'question' (the row has: answer). Each row needs a non-empty 'question'; 'reference' (or 'ground_truth'), 'answer', 'contexts' (a list of texts) and 'relevant_ids' (a list of ids) are optional.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from localchain.errors import EvalDatasetError

__all__ = ["DatasetSource", "EvalSample", "load_dataset", "sample_from_row"]

DatasetSource = str | Path | Sequence[Mapping[str, Any]]

_ALIASES: dict[str, tuple[str, ...]] = {
    "question": ("question", "user_input", "query"),
    "reference": ("reference", "ground_truth", "reference_answer", "ground_truths"),
    "answer": ("answer", "response"),
    "contexts": ("contexts", "retrieved_contexts"),
    "context_ids": ("context_ids", "retrieved_ids"),
    "relevant_ids": ("relevant_ids", "relevant", "relevant_chunks", "relevant_sources",
                     "relevant_docs"),
    "id": ("id", "qid", "query_id"),
}
_KNOWN = {alias for names in _ALIASES.values() for alias in names}


class EvalSample(BaseModel):
    """One dataset row, normalized.

    Example:
        >>> EvalSample(question="q", relevant_ids={"d1": 1.0}).has_judgments
        True
    """

    question: str
    id: str | None = None
    reference: str | None = None
    answer: str | None = None
    """A pre-generated answer (used when there is no target)."""
    contexts: list[str] | None = None
    """Pre-retrieved contexts (used when there is no target); None when not given."""
    context_ids: list[str] = Field(default_factory=list)
    relevant_ids: dict[str, float] = Field(default_factory=dict)
    """Relevance judgments: id of a relevant chunk or source -> grade."""
    precomputed: bool = False
    """True when the row carries its own answer and/or contexts."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Fields the harness does not read, kept for the report."""

    @property
    def has_judgments(self) -> bool:
        """True when the row lists at least one relevant id."""
        return any(grade > 0 for grade in self.relevant_ids.values())


def _pick(row: Mapping[str, Any], field: str) -> tuple[str | None, Any]:
    for name in _ALIASES[field]:
        if name in row:
            return name, row[name]
    return None, None


def _text_list(value: Any, field: str, fail: Any) -> tuple[list[str], list[str]]:
    """Texts and (where given) ids of a list of strings, Documents or dicts."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as err:
                fail(f"field {field!r} is not a valid JSON list ({err})", field)
        else:
            fail(f"field {field!r} must be a list of texts, got a string", field)
    if not isinstance(value, list | tuple):
        fail(f"field {field!r} must be a list of texts, got {type(value).__name__}", field)
    texts, ids = [], []
    for position, item in enumerate(value, 1):
        if isinstance(item, str):
            texts.append(item)
            ids.append("")  # ids stay aligned with positions: a plain text has none
            continue
        content = getattr(item, "page_content", None)
        if content is None and isinstance(item, Mapping):
            content = item.get("text", item.get("page_content", item.get("content")))
        if not isinstance(content, str):
            fail(f"item {position} of {field!r} is neither a text nor has one "
                 f"(got {type(item).__name__})", field)
        texts.append(content)
        meta = item.get("metadata", {}) if isinstance(item, Mapping) else item.metadata
        found = (item.get("id") if isinstance(item, Mapping) else item.id) or meta.get("id")
        ids.append("" if found is None else str(found))
    return texts, (ids if any(ids) else [])


def _judgments(value: Any, fail: Any) -> dict[str, float]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith(("[", "{")):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as err:
                fail(f"field 'relevant_ids' is not valid JSON ({err})", "relevant_ids")
        else:
            value = stripped.replace(";", " ").replace(",", " ").split()
    if isinstance(value, Mapping):
        try:
            return {str(k): float(v) for k, v in value.items()}
        except (TypeError, ValueError):
            fail("field 'relevant_ids' maps ids to grades; a grade is not a number",
                 "relevant_ids")
    if isinstance(value, list | tuple) and all(isinstance(v, str | int) for v in value):
        return {str(v): 1.0 for v in value}
    fail("field 'relevant_ids' must be a list of ids or a {id: grade} mapping, got "
         f"{type(value).__name__}", "relevant_ids")
    return {}


def sample_from_row(row: Mapping[str, Any], *, source: str = "<list>", line: int | None = None,
                    row_label: str = "line") -> EvalSample:
    """Validate and normalize one row; raises :class:`EvalDatasetError` with its location.

    Example:
        >>> sample_from_row({"question": "q", "contexts": ["a", "b"], "relevant_ids": "d1 d2"}).relevant_ids
        {'d1': 1.0, 'd2': 1.0}
    """
    def fail(reason: str, field: str | None = None) -> None:
        if row_label == "line":
            raise EvalDatasetError(source, reason, line=line, field=field)
        raise EvalDatasetError(f"{source}, {row_label} {line}", reason, field=field)

    if not isinstance(row, Mapping):
        fail(f"a row must be an object with a 'question', got {type(row).__name__}")
    _, question = _pick(row, "question")
    if question is None:
        fail(f"missing field 'question' (the row has: {', '.join(map(str, row)) or 'nothing'})",
             "question")
    if not isinstance(question, str) or not question.strip():
        fail(f"field 'question' must be a non-empty text, got {question!r}", "question")
    _, reference = _pick(row, "reference")
    if isinstance(reference, list | tuple):
        reference = " ".join(str(part) for part in reference)
    if reference is not None and not isinstance(reference, str):
        fail(f"field 'reference' must be a text, got {type(reference).__name__}", "reference")
    answer_key, answer = _pick(row, "answer")
    if answer is not None and not isinstance(answer, str):
        fail(f"field 'answer' must be a text or null, got {type(answer).__name__}", "answer")
    contexts_key, raw_contexts = _pick(row, "contexts")
    contexts: list[str] | None = None
    context_ids: list[str] = []
    if raw_contexts is not None and raw_contexts != "":
        contexts, context_ids = _text_list(raw_contexts, contexts_key or "contexts", fail)
    _, raw_ids = _pick(row, "context_ids")
    if raw_ids not in (None, ""):
        context_ids, _ = _text_list(raw_ids, "context_ids", fail)
    _, sample_id = _pick(row, "id")
    return EvalSample(
        question=question.strip(),
        id=None if sample_id in (None, "") else str(sample_id),
        reference=reference or None,
        answer=answer,
        contexts=contexts,
        context_ids=context_ids,
        relevant_ids=_judgments(_pick(row, "relevant_ids")[1], fail),
        precomputed=answer_key is not None or contexts_key is not None,
        extra={k: v for k, v in row.items() if k not in _KNOWN},
    )


# UTF-32's little-endian mark starts with UTF-16's, so it is tested first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8-sig"),
)


def _read_text(path: Path) -> str:
    """The file's text: UTF-8, or what its byte-order mark says; anything else is an
    EvalDatasetError that names the byte and the line, not a UnicodeDecodeError."""
    data = path.read_bytes()
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        shown = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
        line = data[: err.start].count(b"\n") + 1 if shown == "UTF-8" else None
        raise EvalDatasetError(
            str(path),
            f"not {shown} text ({err.reason} at byte {err.start}); save the dataset as UTF-8 "
            "(or as UTF-16 with a byte-order mark)",
            line=line,
        ) from None


def _rows(path: Path) -> Iterable[tuple[int, Any]]:
    source = str(path)
    if not path.is_file():
        raise EvalDatasetError(source, "no such file")
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        for row in reader:
            # Empty CSV cells mean "not given", as a missing JSON key does.
            yield reader.line_num, {k: v for k, v in row.items() if k and v not in (None, "")}
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise EvalDatasetError(source, f"not valid JSON ({err})", line=err.lineno) from None
        if not isinstance(data, list):
            raise EvalDatasetError(source, "a .json dataset must be a list of rows")
        yield from enumerate(data, 1)
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise EvalDatasetError(source, f"not valid JSON ({err.msg})", line=number) from None


def load_dataset(source: DatasetSource) -> list[EvalSample]:
    """Load and check a dataset: a ``.jsonl`` / ``.json`` / ``.csv`` path or a list of dicts.

    Example:
        >>> [s.question for s in load_dataset([{"question": "a"}, {"user_input": "b"}])]
        ['a', 'b']
    """
    if isinstance(source, str | Path):
        path = Path(source)
        label = "row" if path.suffix.lower() == ".json" else "line"
        samples = [sample_from_row(row, source=str(path), line=number, row_label=label)
                   for number, row in _rows(path)]
        name = str(path)
    elif isinstance(source, Sequence):
        samples = [sample_from_row(row, source="<list>", line=number, row_label="row")
                   for number, row in enumerate(source, 1)]
        name = "<list>"
    else:
        raise EvalDatasetError(repr(source)[:60], "a dataset is a path or a list of dicts")
    if not samples:
        raise EvalDatasetError(name, "the dataset has no rows")
    return samples
