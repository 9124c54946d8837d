"""Fixtures for the retriever tests: the book's Interstellar text and real PDF files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "data"
INTERSTELLAR = SHARED_DATA / "interstellar.txt"
CRANFIELD = SHARED_DATA / "cranfield"


def write_pdf(path: Path, pages: list[list[str]], *, title: str | None = None) -> Path:
    """Write a valid PDF 1.4 file: one page per item, each a list of text lines in Helvetica.

    An empty list gives a page with no text at all. The cross-reference table carries real
    byte offsets, so pypdf reads the file without repairing it.
    """

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects: list[bytes] = []  # object n is objects[n - 1]
    n_pages = len(pages)
    page_ids = [4 + 2 * i for i in range(n_pages)]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        content_id = page_ids[i] + 1
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>".encode()
        )
        ops = ["BT", "/F1 12 Tf", "16 TL", "72 720 Td"]
        for line in lines:
            ops += [f"({escape(line)}) Tj", "T*"]
        ops.append("ET")
        stream = ("\n".join(ops) if lines else "").encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_ref = ""
    if title is not None:
        objects.append(f"<< /Title ({escape(title)}) /Producer (localchain tests) >>".encode())
        info_ref = f" /Info {len(objects)} 0 R"

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info_ref} >>\n".encode()
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def make_pdf() -> Callable[..., Path]:
    return write_pdf


@pytest.fixture(scope="session")
def interstellar_text() -> str:
    return INTERSTELLAR.read_text(encoding="utf-8")


# --- dense / hybrid / rerank fixtures: the real bundled MiniLM, loaded once per session ---

BOOK_QUERY = "how precise was the science"
MOON_QUERY = "What is the mass of the moon?"


@pytest.fixture(scope="session")
def minilm():  # type: ignore[no-untyped-def]
    from localchain.retrievers.embeddings import default_embeddings

    embeddings = default_embeddings()
    embeddings.warm_up()
    return embeddings


@pytest.fixture(scope="session")
def book_chunks():  # type: ignore[no-untyped-def]
    """The book's 15 Interstellar chunks (split on '.'), with loader metadata and ids."""
    from localchain.retrievers.chunking import SeparatorChunker
    from localchain.retrievers.loaders import load_documents

    return SeparatorChunker(".").split_documents(load_documents(INTERSTELLAR).documents)


@pytest.fixture(scope="session")
def book_store(minilm, book_chunks):  # type: ignore[no-untyped-def]
    from localchain.retrievers.faiss_store import FaissStore

    return FaissStore.from_documents(book_chunks, minilm)


@pytest.fixture(scope="session")
def book_qdrant(minilm, book_store, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The book's 15 chunks in a Qdrant collection (local mode, on disk), with the vectors of
    ``book_store`` (nothing embedded twice)."""
    from qdrant_client import QdrantClient

    from localchain.retrievers.qdrant_store import QdrantStore

    client = QdrantClient(path=str(tmp_path_factory.mktemp("book_qdrant")))
    store = QdrantStore(minilm, client)
    numbers, matrix = book_store.vectors()
    store.add_embeddings(book_store.get_by_ids([book_store._docs[n].id for n in numbers]), matrix)
    yield store
    store.close()
