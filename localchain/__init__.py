"""localchain: chatbots, RAG pipelines and agents on a local GGUF model, built on LangChain.

Example:
    >>> from localchain import load_chat_model
    >>> chat = load_chat_model(temperature=0)          # embedded SmolLM2-135M-Instruct
    >>> print(chat.invoke("Name three colours.").content)  # doctest: +SKIP
"""

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
