"""localchain.chains: prompt chains, sequential chains, the story chain, chatbots and RAG.

Every chain is a LangChain Runnable (invoke, batch, stream, ainvoke; composes with ``|``).

Example:
    >>> from localchain.chains import prompt_chain, story_chain
    >>> prompt_chain("Create a funny name for a business that sells {product}.").invoke(
    ...     "socks")                                                    # doctest: +SKIP
"""

from localchain.chains.chat import DEFAULT_SYSTEM_PROMPT, Chatbot, Turn, new_session_id
from localchain.chains.citations import CitationChecker, CitationReport, citation_grammar
from localchain.chains.prompt import prompt_chain, prompt_input, strip_text
from localchain.chains.rag import NO_ANSWER, RAG_PROMPT, rag_chain
from localchain.chains.rag_chat import RagChatbot, conversational_rag_chain
from localchain.chains.rag_query import (
    MultiHopRetriever,
    MultiQueryRetriever,
    query_rewriter,
    sub_queries,
)
from localchain.chains.rag_route import RouterRetriever, embedding_router, query_router
from localchain.chains.sequential import Link, SequentialChain, sequential
from localchain.chains.story import STORY_PROMPTS, story_chain

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "Chatbot",
    "Turn",
    "new_session_id",
    "Link",
    "STORY_PROMPTS",
    "SequentialChain",
    "prompt_chain",
    "prompt_input",
    "sequential",
    "story_chain",
    "strip_text",
    # RAG
    "NO_ANSWER",
    "RAG_PROMPT",
    "CitationChecker",
    "CitationReport",
    "MultiHopRetriever",
    "MultiQueryRetriever",
    "RagChatbot",
    "RouterRetriever",
    "citation_grammar",
    "conversational_rag_chain",
    "embedding_router",
    "query_rewriter",
    "query_router",
    "rag_chain",
    "sub_queries",
]
