"""Errors raised by localchain.

Every error derives from :class:`LocalchainError` and carries its context as attributes,
with a message that says what to do next.

Example:
    >>> from localchain.errors import LocalchainError, ModelLoadError
    >>> try:
    ...     raise ModelLoadError(path="m.gguf", reason="not a GGUF file")
    ... except LocalchainError as err:
    ...     print(err.path)
    m.gguf
"""

from __future__ import annotations

__all__ = [
    "LocalchainError",
    "ConfigError",
    "ModelNotFoundError",
    "ModelLoadError",
    "ContextOverflowError",
    "BackendConnectionError",
    "MissingDependencyError",
    "StructuredOutputError",
    "ChainInputError",
    "SessionStoreError",
    "DocumentLoadError",
    "EmptyCorpusError",
    "EmptyQueryError",
    "IndexFormatError",
    "EmbeddingMismatchError",
    "BackendResponseError",
    "JudgmentsFormatError",
    "CalculatorError",
    "EvalDatasetError",
    "JudgeOutputError",
    "RouteError",
]


class LocalchainError(Exception):
    """Root of every error localchain raises on purpose."""


class ConfigError(LocalchainError, ValueError):
    """A setting has a value localchain cannot use."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{message} (from {source})" if source else message)


class ModelNotFoundError(LocalchainError, FileNotFoundError):
    """The model file named by an argument or a setting does not exist."""

    def __init__(self, path: str, *, source: str | None = None) -> None:
        self.path = path
        self.source = source
        where = f" (set by {source})" if source else ""
        super().__init__(
            f"model file not found: {path}{where}. Choose a model with "
            "load_chat_model(\"path/to/model.gguf\"), "
            "the LOCALCHAIN_MODEL environment variable, `model = \"...\"` in localchain.toml, "
            "or `--model PATH` on the command line; leave it unset to use the embedded "
            "SmolLM2-135M-Instruct model."
        )


class ModelLoadError(LocalchainError):
    """A model file exists but cannot be loaded (not GGUF, truncated, unsupported)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot load model {path}: {reason}")


class ContextOverflowError(LocalchainError, ValueError):
    """A prompt does not fit the model's context window."""

    def __init__(self, *, prompt_tokens: int, n_ctx: int, max_tokens: int = 0) -> None:
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        super().__init__(
            f"prompt is {prompt_tokens} tokens but the context window is {n_ctx} tokens "
            f"(at least 1 must be left for the answer). Shorten the prompt or history, or "
            f"load the model with a larger context (n_ctx / LOCALCHAIN_N_CTX)."
        )


class BackendConnectionError(LocalchainError, ConnectionError):
    """A remote model server could not be reached or did not answer in time."""

    def __init__(self, url: str, reason: str, *, timeout: float | None = None) -> None:
        self.url = url
        self.reason = reason
        self.timeout = timeout
        limit = f" within {timeout:g} s" if timeout is not None else ""
        super().__init__(
            f"no answer from the model server at {url}{limit}: {reason}. Check that the "
            "server is running and that base_url (LOCALCHAIN_BASE_URL) points at it."
        )


class MissingDependencyError(LocalchainError, ImportError):
    """An optional feature needs a package that is not installed."""

    def __init__(self, feature: str, package: str, extra: str | None = None) -> None:
        self.feature = feature
        self.package = package
        self.extra = extra
        hint = f"pip install 'localchain[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the package {package!r}: {hint}")


class StructuredOutputError(LocalchainError, ValueError):
    """A structured answer did not validate against its schema."""

    def __init__(self, schema: str, raw: str, reason: str) -> None:
        self.schema = schema
        self.raw = raw
        self.reason = reason
        super().__init__(
            f"the model's answer does not validate against {schema}: {reason}. "
            f"Raw answer: {raw[:300]!r}. A larger max_tokens often helps when the JSON was cut off."
        )


class ChainInputError(LocalchainError, ValueError):
    """A chain was invoked without the variables its prompts need, or built inconsistently."""

    def __init__(self, chain: str, message: str, *, missing: list[str] | None = None) -> None:
        self.chain = chain
        self.missing = missing or []
        super().__init__(f"{chain}: {message}")


class SessionStoreError(LocalchainError):
    """A chat session database cannot be read or written; what was saved before is intact."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"session store {path}: {reason}. Sessions saved before are unchanged; use "
            "another file (--sessions or LOCALCHAIN_SESSIONS) or close the program holding it."
        )


class DocumentLoadError(LocalchainError, ValueError):
    """A file cannot be loaded as a document: missing, binary, not decodable, corrupt, no text."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"cannot load {path}: {reason}. Folder loading skips such files and lists them; "
            "convert the file to text, Markdown, HTML or a PDF with a text layer."
        )


class EmptyCorpusError(LocalchainError, ValueError):
    """There is nothing to load, chunk or search (empty folder, no text, empty index)."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{message} (in {source})" if source else message)


class EmptyQueryError(LocalchainError, ValueError):
    """A search query is empty, or has nothing left to search for after tokenization."""

    def __init__(self, query: str, reason: str) -> None:
        self.query = query
        self.reason = reason
        super().__init__(f"cannot search for {query!r}: {reason}")


class IndexFormatError(LocalchainError, ValueError):
    """A saved index is not one localchain wrote, has another format version, or was altered."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"cannot load the index at {path}: {reason}. Rebuild it from the source documents."
        )


class EmbeddingMismatchError(LocalchainError, ValueError):
    """A vector store was built with other embeddings than the ones it is used with."""

    def __init__(
        self,
        path: str,
        *,
        stored_model: str,
        stored_dimension: int,
        model: str,
        dimension: int,
    ) -> None:
        self.path = path
        self.stored_model = stored_model
        self.stored_dimension = stored_dimension
        self.model = model
        self.dimension = dimension
        what = (
            f"dimension mismatch: the store holds {stored_dimension}-dimensional vectors "
            f"from {stored_model!r}, the embeddings give {dimension}-dimensional vectors "
            f"({model!r})"
            if stored_dimension != dimension
            else f"the store was built with {stored_model!r}, not {model!r}"
        )
        super().__init__(
            f"{path}: {what}. Open it with the embeddings it was built with, or rebuild it "
            "(localchain index PATH --store NEW_DIR)."
        )


class BackendResponseError(LocalchainError, ValueError):
    """A model or service answered, but with something unusable (an API error, a response
    of the wrong shape, a judgment outside its grammar)."""

    def __init__(self, service: str, reason: str, *, status: int | None = None) -> None:
        self.service = service
        self.reason = reason
        self.status = status
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{service} failed{code}: {reason}")


class JudgmentsFormatError(LocalchainError, ValueError):
    """A relevance judgments (qrels) or run file has a line localchain cannot parse."""

    def __init__(self, path: str, line_number: int, reason: str) -> None:
        self.path = path
        self.line_number = line_number
        self.reason = reason
        super().__init__(f"{path}, line {line_number}: {reason}")


class CalculatorError(LocalchainError, ValueError):
    """The calculator refused an expression or could not evaluate it."""

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        shown = expression if len(expression) <= 80 else expression[:77] + "..."
        super().__init__(f"cannot calculate {shown!r}: {reason}")


class RouteError(LocalchainError, ValueError):
    """A router's answer names none of its routes, and there is no default route."""

    def __init__(self, answer: str, routes: list[str]) -> None:
        self.answer = answer
        self.routes = routes
        super().__init__(
            f"the router's answer {answer[:80]!r} names none of the routes "
            f"({', '.join(routes)}); give the router a default route, or use a model with "
            "grammar support (llama.cpp) so it can only answer with a route name"
        )


class AgentError(LocalchainError):
    """Root of the errors of the ReAct agent's loop (parsing a step, calling a tool)."""


class StepParseError(AgentError, ValueError):
    """A model's reply is not a ReAct step (no usable Action / Action Input or Final Answer)."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(
            f"cannot read a ReAct step from the model's reply: {reason}. "
            f"Reply: {raw[:300]!r}. On llama.cpp the agent decodes steps under a grammar; "
            "other backends are parsed with repair and retried."
        )


class ToolCallError(AgentError):
    """A tool failed or was called wrongly; the agent shows this text as the observation."""

    def __init__(self, tool: str, tool_input: object, reason: str) -> None:
        self.tool = tool
        self.tool_input = tool_input
        self.reason = reason
        super().__init__(f"the tool {tool} failed: {reason}")


class EvalDatasetError(LocalchainError, ValueError):
    """An evaluation dataset is empty, unreadable, or has a row localchain cannot use."""

    def __init__(self, source: str, reason: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        self.field = field
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(
            f"{where}: {reason}. Each row needs a non-empty 'question'; 'reference' (or "
            "'ground_truth'), 'answer', 'contexts' (a list of texts) and 'relevant_ids' "
            "(a list of ids) are optional."
        )


class JudgeOutputError(LocalchainError, ValueError):
    """The judge model gave no answer that validates against the schema, after its retries."""

    def __init__(self, model: str, schema: str, attempts: int, raw: str, reason: str) -> None:
        self.model = model
        self.schema = schema
        self.attempts = attempts
        self.raw = raw
        self.reason = reason
        super().__init__(
            f"the judge {model} gave no valid {schema} in {attempts} attempt(s): {reason}. "
            f"Last answer: {raw[:200]!r}. A judge on llama.cpp decodes under the schema's "
            "grammar; with another backend, use a model that supports structured output."
        )
