"""localchain: chatbots, RAG pipelines and agents on a local GGUF model, built on LangChain.

Example:
    >>> from localchain import load_chat_model
    >>> chat = load_chat_model(temperature=0)          # embedded SmolLM2-135M-Instruct
    >>> print(chat.invoke("Name three colours.").content)  # doctest: +SKIP

The package and its layers (``localchain.retrievers``, ``localchain.evals``, ...) import
what they export on first use, so ``import localchain`` and a CLI call that only reads the
settings do not pay for llama.cpp, torch or Ragas.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localchain.errors import (
    BackendConnectionError,
    ChainInputError,
    ConfigError,
    ContextOverflowError,
    LocalchainError,
    MissingDependencyError,
    ModelLoadError,
    ModelNotFoundError,
    SessionStoreError,
    StructuredOutputError,
)

if TYPE_CHECKING:
    from localchain.models import LlamaCppChat, LlamaCppLLM, load_chat_model, load_llm
    from localchain.settings import Settings, explain_settings, load_settings

__version__ = "0.1.0"
"""The installed localchain version (the ``version`` in pyproject.toml)."""

__all__ = [
    "BackendConnectionError",
    "ChainInputError",
    "ConfigError",
    "ContextOverflowError",
    "LlamaCppChat",
    "LlamaCppLLM",
    "LocalchainError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFoundError",
    "SessionStoreError",
    "Settings",
    "StructuredOutputError",
    "__version__",
    "explain_settings",
    "load_chat_model",
    "load_llm",
    "load_settings",
]


def _lazy_exports(
    package: str, modules: dict[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module ``__getattr__`` and ``__dir__`` that import each exported name
    from its submodule on first use (``modules``: submodule -> the names it exports).

    An attribute that is no export but a submodule (``localchain.models``) is imported too,
    as it would be had the package imported it.
    """
    where = {name: f"{package}.{module}" for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "models": ("LlamaCppChat", "LlamaCppLLM", "load_chat_model", "load_llm"),
        "settings": ("Settings", "explain_settings", "load_settings"),
    },
)
