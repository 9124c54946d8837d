"""What a CLI call imports before it works: commands that need no model, no embeddings and
no judge import none of them (they cost seconds of start-up; docs/benchmarks.md records the
times). Imports are read from ``python -X importtime``, so nothing here depends on speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_process import localchain

MODEL = {"llama_cpp", "openai", "langchain_openai"}
"""What loading a chat model imports."""
EMBEDDINGS = {"torch", "sentence_transformers", "transformers"}
"""What the embedding model imports (the dense side of a store, answer relevancy)."""
EVALS = {"ragas", "matplotlib"}
"""What the evaluation harness and its reports import."""
LANGCHAIN = {"langchain_core", "langsmith", "langchain_community", "langchain"}
RETRIEVAL = {"faiss", "numpy", "rank_bm25"}


def imported(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    """Run the command under -X importtime; its result and the top-level packages imported."""
    result = localchain(*args, cwd=cwd, python=("-X", "importtime"))
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.decode(errors="replace").splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return result, names - {"package"}  # the header line: "self [us] | cumulative | package"


@pytest.mark.parametrize(
    "args",
    [["--help"], ["config"], ["config", "--json"], ["ask", "--help"], ["chat", "--help"],
     ["retrieve", "--help"], ["rag", "ask", "--help"], ["eval", "--help"], ["index", "--help"],
     ["agent", "--help"], ["models", "--help"]],
    ids=" ".join,
)  # fmt: skip
def test_commands_that_load_nothing_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    result, names = imported(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert not names & (MODEL | EMBEDDINGS | EVALS | LANGCHAIN | RETRIEVAL)


def test_bm25_retrieval_loads_no_embedding_model_and_no_chat_model(
    interstellar_store: Path, tmp_path: Path
) -> None:
    result, names = imported("retrieve", "Who directed the film?", "--store",
                             str(interstellar_store), "--mode", "bm25", "-k", "2", "--json",
                             cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    hits = json.loads(result.stdout.decode().splitlines()[-1])
    assert len(hits) == 2 and any("Christopher Nolan" in hit["text"] for hit in hits)
    assert not names & (MODEL | EMBEDDINGS | EVALS)
    assert "Stemmer" in names  # the default tokenizer stemmed the query: it did search


def test_the_lazy_packages_still_export_every_name(tmp_path: Path) -> None:
    # A fresh interpreter: importing a package imports none of its heavy modules; every
    # name of its __all__ is there on first use (and in dir()); submodules stay reachable.
    script = """
import importlib, json, sys
out = {}
for name in ("localchain", "localchain.retrievers", "localchain.evals", "localchain.agents"):
    package = importlib.import_module(name)
    out[name] = {"heavy": sorted({m.split(".")[0] for m in sys.modules}
                                 & {"torch", "ragas", "llama_cpp", "openai", "faiss"}),
                 "unlisted": sorted(set(package.__all__) - set(dir(package)))}
import localchain
from localchain.retrievers import BM25Retriever
out["BM25Retriever"] = BM25Retriever.__module__
out["missing"] = [f"{p}.{n}" for p in out if p.startswith("localchain")
                  for n in importlib.import_module(p).__all__
                  if not hasattr(importlib.import_module(p), n)]
out["submodule"] = localchain.models.__name__
out["heavy_after_bm25"] = sorted({m.split(".")[0] for m in sys.modules}
                                 & {"torch", "sentence_transformers"})
print(json.dumps(out))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    for package in ("localchain", "localchain.retrievers", "localchain.evals",
                    "localchain.agents"):
        assert out[package] == {"heavy": [], "unlisted": []}, package
    assert out["BM25Retriever"] == "localchain.retrievers.bm25"
    assert out["missing"] == [] and out["submodule"] == "localchain.models"
    assert out["heavy_after_bm25"] == []
