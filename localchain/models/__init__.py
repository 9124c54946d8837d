"""Model I/O: load a chat model over a local GGUF, an OpenAI-compatible server or Cohere.

Example:
    >>> from localchain.models import load_chat_model
    >>> chat = load_chat_model(temperature=0)
    >>> chat.invoke("What is 2 + 2?").content  # doctest: +SKIP
"""

# The function capabilities() is imported from localchain.models.capabilities: binding it
# here would hide the module of the same name.
from localchain.models.capabilities import ANSWER_SHARE, Capabilities
from localchain.models.embedded import EMBEDDED_MODEL_NAME, embedded_model_path
from localchain.models.engine import GenerationStats, LlamaCppEngine, get_engine, unload_engines
from localchain.models.llamacpp import LlamaCppChat, LlamaCppLLM, parse_structured
from localchain.models.openai_compat import OpenAICompatibleChat
from localchain.models.registry import backends, load_chat_model, load_llm, register_backend
from localchain.models.templates import BUILTIN_TEMPLATES, ChatTemplate

__all__ = [
    "ANSWER_SHARE",
    "BUILTIN_TEMPLATES",
    "Capabilities",
    "EMBEDDED_MODEL_NAME",
    "ChatTemplate",
    "GenerationStats",
    "LlamaCppChat",
    "LlamaCppEngine",
    "LlamaCppLLM",
    "OpenAICompatibleChat",
    "backends",
    "embedded_model_path",
    "get_engine",
    "load_chat_model",
    "load_llm",
    "parse_structured",
    "register_backend",
    "unload_engines",
]
