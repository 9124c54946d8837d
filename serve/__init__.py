"""Serve a chatbot, a RAG chain or an agent: an OpenAI-compatible HTTP API and a web chat.

:func:`create_app` returns the ASGI app (FastAPI) for a chat model, a
:class:`~localchain.chains.Chatbot`, a :class:`~localchain.agents.ReActAgent`, a retriever
(``rag=``) or any Runnable that takes messages; ``localchain serve`` starts it with uvicorn.
See docs/serve.md.

Example:
    >>> from localchain.serve import create_app
    >>> app = create_app(memory="window")                   # doctest: +SKIP
"""

from __future__ import annotations

from localchain.serve.app import backend_for, create_app
from localchain.serve.backends import (
    AgentBackend,
    Backend,
    Call,
    ChatBackend,
    Event,
    MemorySpec,
    RagBackend,
    RunnableBackend,
)
from localchain.serve.limits import ServeLimits
from localchain.serve.protocol import ApiError

__all__ = [
    "AgentBackend",
    "ApiError",
    "Backend",
    "Call",
    "ChatBackend",
    "Event",
    "MemorySpec",
    "RagBackend",
    "RunnableBackend",
    "ServeLimits",
    "backend_for",
    "create_app",
]
