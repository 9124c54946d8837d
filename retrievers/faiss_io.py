"""Save and load a :class:`~.faiss_store.FaissStore` without pickle; convert to and from LangChain's FAISS.

A saved store is a folder with two files:

``index.faiss``
    FAISS's own binary index format (``faiss.write_index``; an ``IndexIDMap2``).
``docstore.json``
    ``{"format": "localchain.faiss", "version": 1, "sha256": ..., "embedding": {"name",
    "dimension"}, "settings": {...}, "kind": "flat", "next_id": N, "deleted": [...],
    "index_sha256": ..., "documents": [{"n", "id", "page_content", "metadata"}]}``

The docstore's checksum covers everything in it; ``index_sha256`` is checked before FAISS
parses a byte of the index file, so a foreign or altered file is refused with
:class:`~localchain.errors.IndexFormatError` instead of being handed to a C++ parser.

LangChain's ``FAISS.save_local`` pickles its docstore and ``load_local`` refuses to read it
unless told ``allow_dangerous_deserialization=True``: a pickle runs code on load. We never
read or write that format. :func:`to_langchain` and :func:`from_langchain` convert in memory
instead (vectors are copied; documents and ids kept).

Example:
    >>> from localchain.retrievers.embeddings import default_embeddings
    >>> from localchain.retrievers.faiss_store import FaissStore
    >>> store = FaissStore.from_texts(["Cats purr.", "Dogs bark."], default_embeddings())
    >>> folder = save_faiss_store(store, "my_store")
    >>> sorted(p.name for p in folder.iterdir())
    ['docstore.json', 'index.faiss']
    >>> len(load_faiss_store("my_store", default_embeddings()))
    2
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from pydantic import ValidationError

from localchain.errors import IndexFormatError
from localchain.files import read_versioned_json, write_atomic
from localchain.retrievers.faiss_store import FaissSettings, FaissStore

__all__ = ["from_langchain", "load_faiss_store", "save_faiss_store", "to_langchain"]

FORMAT = "localchain.faiss"
VERSION = 1
INDEX_FILE = "index.faiss"
DOCSTORE_FILE = "docstore.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")


def save_faiss_store(store: FaissStore, folder: str | Path) -> Path:
    """Write ``store`` to ``folder`` (created if needed); returns the folder.

    Metadata must be JSON-serializable (``ValueError`` otherwise, before anything is written).

    Example:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> store = FaissStore.from_texts(["Cats purr."], DeterministicFakeEmbedding(size=16))
        >>> folder = save_faiss_store(store, Path(tempfile.mkdtemp()) / "pets")
        >>> sorted(file.name for file in folder.iterdir())
        ['docstore.json', 'index.faiss']
    """
    target = Path(folder)
    with store._lock:
        index_bytes = (
            faiss.serialize_index(store.index).tobytes() if store.index is not None else b""
        )
        body = {
            "embedding": {"name": store.model_name, "dimension": store.dimension},
            "settings": store.settings.model_dump(),
            "kind": store.kind,
            "next_id": store._next,
            "deleted": sorted(store._deleted),
            "index_sha256": _sha256(index_bytes) if index_bytes else None,
            "documents": [
                {"n": n, "id": d.id, "page_content": d.page_content, "metadata": d.metadata}
                for n, d in sorted(store._docs.items())
            ],
        }
    try:
        canonical = _canonical(body)
    except (TypeError, ValueError) as err:
        raise ValueError(f"cannot save the vector store: metadata is not JSON ({err})") from err
    payload = {"format": FORMAT, "version": VERSION, "sha256": _sha256(canonical), **body}
    if index_bytes:
        write_atomic(target / INDEX_FILE, index_bytes)
    else:
        (target / INDEX_FILE).unlink(missing_ok=True)
    # The docstore goes last: it names the index file's checksum, so a crash between the two
    # writes is detected on load rather than silently mixing two versions.
    write_atomic(target / DOCSTORE_FILE, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    return target


def load_faiss_store(
    folder: str | Path, embeddings: Embeddings, *, check: bool = True
) -> FaissStore:
    """Read a store written by :func:`save_faiss_store`.

    Raises:
        IndexFormatError: no store there, another format or version, a failed checksum, or
            an index that disagrees with its docstore.
        EmbeddingMismatchError: ``embeddings`` are not the model the store was built with
            (skipped with ``check=False``; the dimension must still match).

    Example:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> embeddings = DeterministicFakeEmbedding(size=16)
        >>> store = FaissStore.from_texts(["Cats purr.", "Dogs bark."], embeddings)
        >>> folder = save_faiss_store(store, tempfile.mkdtemp())
        >>> restored = load_faiss_store(folder, embeddings)
        >>> len(restored), restored.similarity_search("Dogs bark.", k=1)[0].page_content
        (2, 'Dogs bark.')
    """
    source = Path(folder)
    where = str(source)
    payload = _read_docstore(source)
    body = {k: payload.get(k) for k in payload if k not in ("format", "version", "sha256")}
    if _sha256(_canonical(body)) != payload.get("sha256"):
        raise IndexFormatError(where, f"{DOCSTORE_FILE} checksum mismatch (the file was changed)")
    try:
        name = str(body["embedding"]["name"])
        dimension = int(body["embedding"]["dimension"])
        settings = FaissSettings.model_validate(body["settings"])
        docs = {
            int(d["n"]): Document(d["page_content"], metadata=d["metadata"], id=str(d["id"]))
            for d in body["documents"]
        }
        deleted = {int(n) for n in body["deleted"]}
        next_id = int(body["next_id"])
        kind = body["kind"]
    except (KeyError, TypeError, ValueError, ValidationError) as err:
        raise IndexFormatError(where, f"malformed {DOCSTORE_FILE} ({err})") from err
    store = FaissStore(embeddings, settings, model_name=name, dimension=dimension)
    if body.get("index_sha256"):
        store.index = _read_index(source, body["index_sha256"])
        ids = set(faiss.vector_to_array(store.index.id_map).tolist())
        if store.index.d != dimension or ids != set(docs) | deleted:
            raise IndexFormatError(where, f"{INDEX_FILE} does not match {DOCSTORE_FILE}")
    elif docs:
        raise IndexFormatError(where, f"{DOCSTORE_FILE} lists documents but has no index")
    if check:
        # After both files are read: checking may load the embedding model, which takes
        # seconds, and a writer may replace the folder meanwhile.
        store.check_embeddings(embeddings, where)
    store.kind = kind
    store._docs = docs
    store._ids = {d.id: n for n, d in docs.items()}  # type: ignore[misc]
    store._deleted = deleted
    store._next = next_id
    return store


def _read_docstore(source: Path) -> dict[str, Any]:
    where = str(source)
    file = source / DOCSTORE_FILE
    if not file.is_file():
        if (source / "index.pkl").is_file():
            raise IndexFormatError(
                where,
                "this looks like LangChain's FAISS.save_local folder, whose index.pkl is a "
                "pickle; localchain does not unpickle files. Load it with LangChain in code "
                "you trust and convert it with FaissStore.from_langchain()",
            )
        reason = "no such folder" if not source.exists() else f"no {DOCSTORE_FILE} in it"
        raise IndexFormatError(where, f"{reason}; not a localchain vector store")
    return read_versioned_json(file, format=FORMAT, version=VERSION, where=source)


def _read_index(source: Path, expected_sha256: str) -> Any:
    file = source / INDEX_FILE
    try:
        data = file.read_bytes()
    except OSError as err:
        raise IndexFormatError(str(source), f"cannot read {INDEX_FILE} ({err})") from err
    # Verify before parsing: FAISS's reader is C++ and trusts its input.
    if _sha256(data) != expected_sha256:
        raise IndexFormatError(
            str(source), f"{INDEX_FILE} checksum mismatch (the file was changed)"
        )
    try:
        index = faiss.deserialize_index(np.frombuffer(data, dtype="uint8"))
    except RuntimeError as err:
        raise IndexFormatError(str(source), f"{INDEX_FILE} is not a FAISS index") from err
    if not isinstance(index, faiss.IndexIDMap2):
        raise IndexFormatError(str(source), f"{INDEX_FILE} is not an IndexIDMap2")
    return index


def to_langchain(store: FaissStore) -> Any:
    """The store's documents and vectors as LangChain's ``FAISS`` vector store (a flat copy).

    Cosine stores become ``MAX_INNER_PRODUCT`` with ``normalize_L2=True``; L2 stores
    ``EUCLIDEAN_DISTANCE``. Later changes to either store do not reach the other.

    Example:
        >>> from localchain.retrievers.embeddings import default_embeddings
        >>> ours = FaissStore.from_texts(["Cats purr.", "Dogs bark."], default_embeddings())
        >>> theirs = to_langchain(ours)
        >>> theirs.similarity_search("a barking dog", k=1)[0].page_content
        'Dogs bark.'
    """
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy

    numbers, matrix = store.vectors()
    cosine = store.settings.metric == "cosine"
    flat = faiss.IndexFlatIP(store.dimension) if cosine else faiss.IndexFlatL2(store.dimension)
    if len(numbers):
        flat.add(matrix)
    docs = store.get_by_ids([store._docs[n].id for n in numbers])  # type: ignore[misc]
    with warnings.catch_warnings():
        # LangChain warns that normalize_L2 "is not applicable" to inner product, yet it does
        # normalize queries with it - which is what makes inner product the cosine here.
        warnings.filterwarnings("ignore", "Normalizing L2 is not applicable")
        return _langchain_faiss(FAISS, InMemoryDocstore, DistanceStrategy, store, flat, docs)


def _langchain_faiss(
    FAISS: Any,
    InMemoryDocstore: Any,
    DistanceStrategy: Any,
    store: FaissStore,
    flat: Any,
    docs: list[Document],
) -> Any:
    cosine = store.settings.metric == "cosine"
    return FAISS(
        embedding_function=store.embeddings,
        index=flat,
        docstore=InMemoryDocstore({d.id: d for d in docs}),
        index_to_docstore_id={i: d.id for i, d in enumerate(docs)},
        distance_strategy=(
            DistanceStrategy.MAX_INNER_PRODUCT if cosine else DistanceStrategy.EUCLIDEAN_DISTANCE
        ),
        normalize_L2=cosine,
    )


def from_langchain(
    vectorstore: Any, embeddings: Embeddings | None = None, settings: FaissSettings | None = None
) -> FaissStore:
    """A :class:`FaissStore` with the documents and vectors of a LangChain ``FAISS`` store.

    The LangChain index must be able to return its vectors (flat indexes can). Inner-product
    stores must hold unit vectors (``normalize_L2=True`` or normalized embeddings): we
    only know how to search them as cosine.

    Example:
        >>> from langchain_community.vectorstores import FAISS
        >>> from localchain.retrievers.embeddings import default_embeddings
        >>> theirs = FAISS.from_texts(["Cats purr.", "Dogs bark."], default_embeddings())
        >>> len(from_langchain(theirs))
        2
    """
    from langchain_community.vectorstores.utils import DistanceStrategy

    strategy = vectorstore.distance_strategy
    if strategy == DistanceStrategy.EUCLIDEAN_DISTANCE:
        metric = "l2"
    elif strategy in (DistanceStrategy.MAX_INNER_PRODUCT, DistanceStrategy.COSINE):
        metric = "cosine"
    else:
        raise ValueError(f"cannot convert a LangChain FAISS store using {strategy}")
    index = vectorstore.index
    try:
        matrix = index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d))
    except RuntimeError as err:
        raise ValueError(
            f"the LangChain store's {type(index).__name__} cannot return its vectors"
        ) from err
    matrix = np.asarray(matrix, dtype="float32")
    if metric == "cosine" and len(matrix) and not vectorstore._normalize_L2:
        norms = np.linalg.norm(matrix, axis=1)
        if not np.allclose(norms, 1.0, atol=1e-3):
            raise ValueError("inner-product vectors that are not unit length are not cosines")
    docs = []
    for position in range(index.ntotal):
        doc_id = vectorstore.index_to_docstore_id[position]
        doc = vectorstore.docstore.search(doc_id)
        if not isinstance(doc, Document):
            raise ValueError(  # noqa: TRY004 - a missing document, not a wrong type
                f"document {doc_id!r} is missing from the LangChain docstore"
            )
        docs.append(Document(doc.page_content, metadata=dict(doc.metadata), id=str(doc_id)))
    base = settings or FaissSettings()
    store = FaissStore(
        embeddings or vectorstore.embeddings,
        base.model_copy(update={"metric": metric}),
        dimension=index.d,
    )
    if docs:
        store.add_embeddings(docs, matrix)
    return store
