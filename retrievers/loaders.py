"""Load text, Markdown, HTML and PDF files, or whole folders of them, into LangChain Documents.

One Document per file (text, Markdown, HTML) or per page with text (PDF). Metadata, shared by
every later stage (chunkers, BM25, vector stores, RAG citations):

==============  =====================================================================
``source``      absolute path of the file, as a string
``title``       Markdown front-matter ``title:`` or first heading; HTML ``<title>`` or
                first ``<h1>``; PDF metadata title; otherwise the file name's stem
``file_type``   ``"text"``, ``"markdown"``, ``"html"`` or ``"pdf"``
``page``        PDF only: 0-based page number (LangChain's convention)
``page_label``  PDF only: the page's printed label ("1", "iv", ...), for citations
``total_pages`` PDF only: number of pages in the file
==============  =====================================================================

Character offsets are added by the chunkers (``start_index``/``end_index`` into the loaded
Document's ``page_content``); a loaded Document is the whole file or page.

Folder loading never stops on one bad file: unreadable, binary, undecodable, corrupt or
text-less files are skipped, listed in :attr:`LoadResult.skipped` and reported in one
:class:`SkippedFilesWarning`. Loading a single file with :func:`load_file` raises
:class:`~localchain.errors.DocumentLoadError` instead.

Example:
    >>> from pathlib import Path
    >>> folder = Path("notes"); folder.mkdir()
    >>> _ = (folder / "a.md").write_text("# Moons\\n\\nThe Moon orbits Earth.\\n")
    >>> result = load_documents(folder)
    >>> [d.metadata["title"] for d in result.documents]
    ['Moons']
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Literal

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from pydantic import BaseModel, ConfigDict, Field

from localchain.errors import DocumentLoadError, EmptyCorpusError

__all__ = [
    "FileType",
    "SkippedFile",
    "LoadResult",
    "SkippedFilesWarning",
    "CorpusLoader",
    "file_type_of",
    "load_file",
    "load_documents",
]

logger = logging.getLogger(__name__)

FileType = Literal["text", "markdown", "html", "pdf"]

_SUFFIXES: dict[str, FileType] = {
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html", ".pdf": "pdf",
}  # fmt: skip
# A NUL byte in the first block is the usual test for binary content (git and grep use it).
_SNIFF_BYTES = 8192
# Above this many files a progress bar is worth its noise when progress is left on auto.
_PROGRESS_MIN_FILES = 100
# Elements whose text a reader never sees.
_INVISIBLE_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "title",
    "svg",
    "iframe",
    "object",
)
_BLOCK_TAGS = (
    "p", "div", "section", "article", "header", "footer", "nav", "aside", "main",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "tr", "td", "th", "pre", "blockquote", "figure", "figcaption", "hr", "form",
)  # fmt: skip


class SkippedFile(BaseModel):
    """A file that folder loading left out, and why.

    Example:
        >>> import tempfile, warnings
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "notes.txt").write_text("Cats purr.")
        >>> _ = (folder / "photo.bin").write_bytes(bytes(range(256)))
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", SkippedFilesWarning)
        ...     result = load_documents(folder, progress=False)
        >>> [(Path(skipped.path).name, skipped.reason) for skipped in result.skipped]
        [('photo.bin', 'binary file')]
    """

    path: str
    """Absolute path of the file."""
    reason: str
    """What was wrong, e.g. ``"binary file"`` or ``"PDF has no extractable text"``."""


class LoadResult(BaseModel):
    """Documents loaded from a folder (or a file), plus the files that were skipped.

    Example:
        >>> result = LoadResult(documents=[Document("hi", metadata={"source": "/a.txt"})])
        >>> result.sources
        ['/a.txt']
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    documents: list[Document] = Field(default_factory=list)
    """Loaded Documents in a fixed order: files by relative path, PDF pages in order."""
    skipped: list[SkippedFile] = Field(default_factory=list)
    """Files that could not be loaded; the same list the warning reports."""

    @property
    def sources(self) -> list[str]:
        """Distinct ``source`` paths that produced at least one Document, in load order."""
        return list(dict.fromkeys(d.metadata["source"] for d in self.documents))


class SkippedFilesWarning(UserWarning):
    """Issued once per folder load that skipped files; the message lists them.

    Example:
        >>> import tempfile, warnings
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "notes.txt").write_text("Cats purr.")
        >>> _ = (folder / "photo.bin").write_bytes(bytes(range(256)))
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("error", SkippedFilesWarning)   # skipping is an error
        ...     try:
        ...         load_documents(folder, progress=False)
        ...     except SkippedFilesWarning as warning:
        ...         print(warning)                                # doctest: +ELLIPSIS
        skipped 1 file(s):
          .../photo.bin: binary file
    """


def file_type_of(path: str | Path) -> FileType:
    """The loader used for ``path``, by suffix; unknown suffixes are read as plain text.

    Example:
        >>> file_type_of("guide.MD"), file_type_of("notes.rst")
        ('markdown', 'text')
    """
    return _SUFFIXES.get(Path(path).suffix.lower(), "text")


def load_file(path: str | Path, *, encoding: str = "utf-8") -> list[Document]:
    """Load one file: a single Document, or one per PDF page with text.

    Raises:
        DocumentLoadError: the file is missing, unreadable (no permission), binary, not
            decodable with ``encoding``, corrupt, or has no text.

    Example:
        >>> _ = Path("a.txt").write_text("Plain words.")
        >>> load_file("a.txt")[0].metadata["title"]
        'a'
    """
    file = Path(path).resolve()
    if not file.is_file():
        raise DocumentLoadError(str(file), "no such file")
    kind = file_type_of(file)
    try:
        if kind == "text":
            with file.open("rb") as head:
                kind = "pdf" if head.read(5) == b"%PDF-" else kind  # a PDF without its suffix
        docs = _load_pdf(file) if kind == "pdf" else [_load_textual(file, kind, encoding)]
    except DocumentLoadError:
        raise
    except OSError as err:  # no permission, an I/O error, gone since it was listed
        raise DocumentLoadError(str(file), f"cannot read ({err.strerror or err})") from err
    # Parsers raise many exception types on malformed input; each becomes one typed error.
    except Exception as err:  # noqa: BLE001
        raise DocumentLoadError(str(file), f"{type(err).__name__}: {err}") from err
    return docs


class CorpusLoader(BaseLoader):
    """LangChain document loader for a file or a folder (recursive, glob patterns).

    Files are visited in sorted order of their path relative to the folder, so the same folder
    always loads in the same order. After loading, :attr:`skipped` lists the files left out.

    Args:
        path: a file or a folder.
        glob: pattern(s) relative to the folder; ``"**/*"`` (default) is every file at any
            depth, ``"*.md"`` only Markdown files at the top level.
        exclude: pattern(s) that leave files out, matched against the relative POSIX path with
            :func:`fnmatch.fnmatch` (``*`` crosses folders) or :meth:`PurePath.match`.
        include_hidden: also load files under names starting with ``"."`` (e.g. ``.git``).
        encoding: text encoding for non-PDF files (a byte-order mark overrides it).
        progress: show a progress bar (plain lines where stderr is not a terminal);
            ``None`` shows one for 100+ files on a terminal.
        warn: issue a :class:`SkippedFilesWarning` when files are skipped.

    Example:
        >>> _ = Path("docs").mkdir(), Path("docs/a.txt").write_text("Some text.")
        >>> loader = CorpusLoader("docs", glob="**/*.txt")
        >>> len(loader.load()), loader.skipped
        (1, [])
    """

    def __init__(
        self,
        path: str | Path,
        *,
        glob: str | Sequence[str] = "**/*",
        exclude: str | Sequence[str] = (),
        include_hidden: bool = False,
        encoding: str = "utf-8",
        progress: bool | None = None,
        warn: bool = True,
    ) -> None:
        self.path = Path(path)
        self.glob = [glob] if isinstance(glob, str) else list(glob)
        self.exclude = [exclude] if isinstance(exclude, str) else list(exclude)
        if not self.glob:
            raise ValueError("glob must name at least one pattern, e.g. '**/*'")
        self.include_hidden = include_hidden
        self.encoding = encoding
        self.progress = progress
        self.warn = warn
        self.skipped: list[SkippedFile] = []

    def files(self) -> list[Path]:
        """The files a load would visit, in load order (no reading)."""
        root = self.path
        if root.is_file():
            return [root.resolve()]
        if not root.is_dir():
            raise DocumentLoadError(str(root.resolve()), "no such file or folder")
        found: dict[Path, str] = {}
        for pattern in self.glob:
            for candidate in root.glob(pattern):
                rel = candidate.relative_to(root)
                if not self.include_hidden and any(p.startswith(".") for p in rel.parts):
                    continue
                if any(fnmatch(rel.as_posix(), x) or rel.match(x) for x in self.exclude):
                    continue
                if candidate.is_file():
                    found.setdefault(candidate.resolve(), rel.as_posix())
        return sorted(found, key=lambda f: found[f])

    def lazy_load(self) -> Iterator[Document]:
        """Yield Documents file by file; skipped files are collected in :attr:`skipped`."""
        self.skipped = []
        files = self.files()
        if self.path.is_file():
            # One named file is a request for that file: failing loudly is more useful.
            yield from load_file(files[0], encoding=self.encoding)
            return
        if not files:
            raise EmptyCorpusError(
                f"no files match {self.glob} (hidden files "
                f"{'included' if self.include_hidden else 'excluded'})",
                source=str(self.path.resolve()),
            )
        for file in _track(files, self.progress, f"Loading {self.path}"):
            try:
                docs = load_file(file, encoding=self.encoding)
            except DocumentLoadError as err:
                logger.debug("skipping %s: %s", file, err.reason)
                self.skipped.append(SkippedFile(path=str(file), reason=err.reason))
                continue
            yield from docs
        if self.skipped and self.warn:
            warnings.warn(_skipped_message(self.skipped), SkippedFilesWarning, stacklevel=2)


def load_documents(
    path: str | Path,
    *,
    glob: str | Sequence[str] = "**/*",
    exclude: str | Sequence[str] = (),
    include_hidden: bool = False,
    encoding: str = "utf-8",
    progress: bool | None = None,
    warn: bool = True,
) -> LoadResult:
    """Load a folder (every matching file, see :class:`CorpusLoader`) or a single file.

    A folder load skips files it cannot read and lists them; a single file is a request for
    that file, so it fails loudly like :func:`load_file`.

    Raises:
        EmptyCorpusError: no file in the folder matches, or every matching file was skipped.
        DocumentLoadError: ``path`` does not exist, or the single file cannot be loaded.

    Example:
        >>> _ = Path("kb").mkdir(), Path("kb/x.html").write_text("<title>X</title><p>Hi</p>")
        >>> load_documents("kb").documents[0].page_content
        'Hi'
    """
    root = Path(path)
    if not root.is_dir():
        return LoadResult(documents=load_file(root, encoding=encoding))
    loader = CorpusLoader(
        root,
        glob=glob,
        exclude=exclude,
        include_hidden=include_hidden,
        encoding=encoding,
        progress=progress,
        warn=False,  # warned below, so the warning points at the caller's line
    )
    documents = loader.load()
    if not documents:
        raise EmptyCorpusError(
            f"no text could be loaded; {_skipped_message(loader.skipped)}",
            source=str(root.resolve()),
        )
    if loader.skipped and warn:
        warnings.warn(_skipped_message(loader.skipped), SkippedFilesWarning, stacklevel=2)
    return LoadResult(documents=documents, skipped=loader.skipped)


def _track(files: list[Path], progress: bool | None, label: str) -> Iterator[Path]:
    show = (
        progress
        if progress is not None
        else (len(files) >= _PROGRESS_MIN_FILES and sys.stderr.isatty())
    )
    if not show:
        yield from files
        return
    if not sys.stderr.isatty():
        # rich draws nothing where stderr is a log or a pipe: plain lines, one per tenth.
        shown = 0
        for done, file in enumerate(files, 1):
            yield file
            if done == len(files) or done * 10 // len(files) > shown:
                shown = done * 10 // len(files)
                print(f"{label}: {done}/{len(files)} files", file=sys.stderr, flush=True)
        return
    from rich.console import Console
    from rich.progress import track

    # stderr keeps the bar out of piped output such as `--json`.
    yield from track(files, description=label, console=Console(stderr=True), transient=True)


def _skipped_message(skipped: list[SkippedFile], limit: int = 20) -> str:
    lines = [f"  {s.path}: {s.reason}" for s in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  ... and {len(skipped) - limit} more (see LoadResult.skipped)")
    return f"skipped {len(skipped)} file(s):\n" + "\n".join(lines)


def _read_text(file: Path, encoding: str) -> str:
    data = file.read_bytes()
    # UTF-16 text is full of NUL bytes, so its byte-order mark must be honoured before sniffing.
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise DocumentLoadError(str(file), "binary file")
    try:
        return data.decode(
            "utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding
        )
    except UnicodeDecodeError as err:
        raise DocumentLoadError(
            str(file),
            f"not {encoding} text ({err.reason} at byte {err.start}); "
            "pass encoding='...' if the folder uses another encoding",
        ) from err


def _load_textual(file: Path, kind: FileType, encoding: str) -> Document:
    raw = _read_text(file, encoding)
    if kind == "html":
        title, text = _html_title_and_text(raw)
    elif kind == "markdown":
        title, text = _markdown_title_and_text(raw)
    else:
        title, text = None, raw
    if not text.strip():
        raise DocumentLoadError(str(file), "no text")
    metadata = {"source": str(file), "title": title or file.stem, "file_type": kind}
    return Document(page_content=text, metadata=metadata)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_FENCE_RUN = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
_ATX = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^[ \t]{0,3}(=+|-+)[ \t]*$")


def _markdown_title_and_text(raw: str) -> tuple[str | None, str]:
    """Title from front matter or the first heading outside code fences; front matter and
    HTML comments removed."""
    title = None
    text = raw
    front = _FRONT_MATTER.match(raw)
    if front:
        text = raw[front.end() :]
        found = re.search(r"^title:[ \t]*(.+?)[ \t]*$", front.group(1), re.M)
        if found:
            title = found.group(1).strip("'\"") or None
    text = _strip_markdown_comments(text)
    if title is None:
        in_fence = False
        previous = ""
        for line in text.splitlines():
            if _FENCE.match(line):
                in_fence = not in_fence
            elif not in_fence:
                if m := _ATX.match(line):
                    title = m.group(1).strip()
                    break
                if previous.strip() and _SETEXT.match(line):
                    title = previous.strip()
                    break
            previous = "" if in_fence else line
    return title, text


def _strip_markdown_comments(text: str) -> str:
    """Markdown without its HTML comments (``<!-- ... -->``, on one line or several).

    A rendered page never shows them, so they are not the document's text: left in, notes
    to the authors (or instructions aimed at a model) reach chunks and answers. Inside code
    fences and inline code a comment is literal code and stays. A line that held only
    comments goes with them; an unclosed ``<!--`` hides the rest of the file, as it does
    when rendered.
    """
    if "<!--" not in text:
        return text
    out: list[str] = []
    fence = ""  # the opening fence while inside a fenced code block
    in_comment = False
    for line in text.splitlines(keepends=True):
        if fence:
            closing = _FENCE_RUN.match(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                fence = ""
            out.append(line)
            continue
        if not in_comment and (opening := _FENCE_RUN.match(line)):
            fence = opening.group(1)
            out.append(line)
            continue
        kept, in_comment = _uncomment_line(line, in_comment)
        if kept == line:
            out.append(line)
        elif kept.strip():
            out.append(kept)
        elif out and out[-1].strip():
            out.append("\n" if line.endswith("\n") else "")  # the comment's own lines go
    return "".join(out)


def _uncomment_line(line: str, in_comment: bool) -> tuple[str, bool]:
    """One line without comment text, and whether a comment is still open at its end.
    Inline code spans (matching runs of backticks on the line) are left as they are."""
    kept: list[str] = []
    at = 0
    while at < len(line):
        if in_comment:
            end = line.find("-->", at)
            if end < 0:
                return "".join(kept), True
            at, in_comment = end + 3, False
            if kept and kept[-1].endswith((" ", "\t")) and line[at : at + 1] in (" ", "\t"):
                at += 1  # "text <!-- note --> more" keeps one space, not two
            continue
        opening = line.find("<!--", at)
        if opening < 0:
            kept.append(line[at:])
            break
        ticks = _BACKTICKS.search(line, at, opening)
        if ticks:
            # A code span opened before the comment: keep it whole, if it closes on the line.
            run = ticks.group(0)
            close = re.compile(rf"(?<!`){run}(?!`)").search(line, ticks.end())
            if close:
                kept.append(line[at : close.end()])
                at = close.end()
                continue
        kept.append(line[at:opening])
        # "<!-->" and "<!--->" are complete (empty) comments too, so the end is looked
        # for from the second character on.
        at, in_comment = opening + 2, True
    return "".join(kept), in_comment


def _html_title_and_text(raw: str) -> tuple[str | None, str]:
    """Visible text with paragraph breaks between block elements; title from <title> or <h1>."""
    from bs4 import BeautifulSoup, NavigableString
    from bs4.element import PreformattedString

    soup = BeautifulSoup(raw, "html.parser")
    title = None
    if soup.title and soup.title.get_text(strip=True):
        title = " ".join(soup.title.get_text().split())
    elif (h1 := soup.find("h1")) and h1.get_text(strip=True):
        title = " ".join(h1.get_text().split())
    for tag in soup(_INVISIBLE_TAGS):
        tag.decompose()
    # Comments, the doctype and processing instructions are markup, not text.
    for markup in soup.find_all(string=lambda s: isinstance(s, PreformattedString)):
        markup.extract()
    # The text on both sides of a removed comment becomes one string, so "a <!-- c --> b"
    # collapses to "a b" below.
    soup.smooth()
    # Source line breaks inside a paragraph are not visible breaks; only <pre> keeps them.
    for string in soup.find_all(string=True):
        if isinstance(string, NavigableString) and not string.find_parent("pre"):
            string.replace_with(re.sub(r"\s+", " ", str(string)))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    text = soup.get_text()
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return title, text.strip()


def _load_pdf(file: Path) -> list[Document]:
    from pypdf import PdfReader

    reader = PdfReader(file)
    if reader.is_encrypted and not reader.decrypt(""):
        raise DocumentLoadError(str(file), "PDF is encrypted with a password")
    meta = reader.metadata
    title = (meta.title or "").strip() if meta else ""
    total = len(reader.pages)
    try:
        labels = reader.page_labels
    except Exception:  # noqa: BLE001 - a broken label tree should not cost the text
        labels = [str(i + 1) for i in range(total)]
    docs = []
    for number, page in enumerate(reader.pages):
        text = (page.extract_text() or "").strip()
        if not text:
            logger.debug("%s: page %d has no text", file, number)
            continue
        metadata = {
            "source": str(file),
            "title": title or file.stem,
            "file_type": "pdf",
            "page": number,
            "page_label": labels[number] if number < len(labels) else str(number + 1),
            "total_pages": total,
        }
        docs.append(Document(page_content=text, metadata=metadata))
    if not docs:
        raise DocumentLoadError(
            str(file), "PDF has no extractable text (scanned images need OCR first)"
        )
    return docs
