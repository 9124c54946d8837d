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
    "AgentError",
    "NotScorableError",
    "StepParseError",
    "ToolCallError",
    "ToolBindingError",
]


class LocalchainError(Exception):
    """Root of every error localchain raises on purpose.

    Example:
        >>> from localchain.errors import LocalchainError
        >>> from localchain.retrievers import BM25Retriever
        >>> try:
        ...     BM25Retriever.from_texts([])
        ... except LocalchainError as err:
        ...     print(type(err).__name__)
        EmptyCorpusError
    """


class ConfigError(LocalchainError, ValueError):
    """A setting has a value localchain cannot use.

    Example:
        >>> from localchain import ConfigError, load_settings
        >>> try:
        ...     load_settings(n_ctx=4)
        ... except ConfigError as err:
        ...     print(err.source)
        n_ctx from argument
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{message} (from {source})" if source else message)


class ModelNotFoundError(LocalchainError, FileNotFoundError):
    """The model file named by an argument or a setting does not exist.

    Example:
        >>> from localchain import ModelNotFoundError, load_chat_model
        >>> try:
        ...     load_chat_model("models/missing.gguf")
        ... except ModelNotFoundError as err:
        ...     print(err.path)
        models/missing.gguf
    """

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
    """A model file exists but cannot be loaded (not GGUF, truncated, unsupported).

    Example:
        >>> import tempfile
        >>> from localchain import ModelLoadError, load_chat_model
        >>> with tempfile.NamedTemporaryFile(suffix=".gguf") as file:
        ...     _ = file.write(b"not a model")
        ...     file.flush()
        ...     try:
        ...         load_chat_model(file.name)
        ...     except ModelLoadError as err:
        ...         print(err.reason)
        not a GGUF file (starts with b'not ', expected b'GGUF'); ...
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot load model {path}: {reason}")


class ContextOverflowError(LocalchainError, ValueError):
    """A prompt does not fit the model's context window.

    Example:
        >>> from localchain import ContextOverflowError
        >>> err = ContextOverflowError(prompt_tokens=5000, n_ctx=4096)
        >>> err.prompt_tokens > err.n_ctx
        True
        >>> print(err)
        prompt is 5000 tokens but the context window is 4096 tokens: at least 1 token must ...
        >>> print(ContextOverflowError(prompt_tokens=4096, n_ctx=4096, max_tokens=512))
        prompt is 4096 tokens but the context window is 4096 tokens: no room is left for ...
        >>> print(ContextOverflowError(prompt_tokens=4000, n_ctx=4096, max_tokens=512))
        prompt is 4000 tokens but the context window is 4096 tokens: only 96 of the 512 ...
    """

    def __init__(self, *, prompt_tokens: int, n_ctx: int, max_tokens: int = 0) -> None:
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        if max_tokens > 0:
            room = (
                f"no room is left for the answer of up to {max_tokens} tokens (max_tokens)"
                if prompt_tokens >= n_ctx
                else f"only {n_ctx - prompt_tokens} of the {max_tokens} answer tokens "
                "(max_tokens) fit"
            )
        else:
            room = "at least 1 token must be left for the answer"
        super().__init__(
            f"prompt is {prompt_tokens} tokens but the context window is {n_ctx} tokens: "
            f"{room}. Shorten the prompt or history, or load the model with a larger context "
            f"(n_ctx / LOCALCHAIN_N_CTX)."
        )


class BackendConnectionError(LocalchainError, ConnectionError):
    """A remote server (a model server, a Qdrant server) could not be reached or did not
    answer in time.

    Example:
        >>> from localchain import BackendConnectionError
        >>> err = BackendConnectionError("http://127.0.0.1:8000/v1", "refused", timeout=30)
        >>> print(err)
        no answer from the model server at http://127.0.0.1:8000/v1 within 30 s: refused. ...
        >>> isinstance(err, ConnectionError)
        True
    """

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        timeout: float | None = None,
        service: str = "model server",
        hint: str | None = None,
    ) -> None:
        self.url = url
        self.reason = reason
        self.timeout = timeout
        self.service = service
        limit = f" within {timeout:g} s" if timeout is not None else ""
        advice = hint or (
            "Check that the server is running and that base_url (LOCALCHAIN_BASE_URL) "
            "points at it."
        )
        super().__init__(f"no answer from the {service} at {url}{limit}: {reason}. {advice}")


class MissingDependencyError(LocalchainError, ImportError):
    """An optional feature needs a package that is not installed.

    Example:
        >>> from localchain import MissingDependencyError
        >>> print(MissingDependencyError("the Cohere backend", "langchain-cohere", extra="cohere"))
        the Cohere backend needs the package 'langchain-cohere': pip install 'localchain[cohere]'
    """

    def __init__(self, feature: str, package: str, extra: str | None = None) -> None:
        self.feature = feature
        self.package = package
        self.extra = extra
        hint = f"pip install 'localchain[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the package {package!r}: {hint}")


class StructuredOutputError(LocalchainError, ValueError):
    """A structured answer did not validate against its schema.

    Example:
        >>> from langchain_core.messages import AIMessage
        >>> from pydantic import BaseModel
        >>> from localchain import StructuredOutputError
        >>> from localchain.models import parse_structured
        >>> class City(BaseModel):
        ...     name: str
        >>> try:
        ...     parse_structured(AIMessage('{"name": "Par'), City)
        ... except StructuredOutputError as err:
        ...     print(err.schema, err.raw)
        City {"name": "Par
    """

    def __init__(self, schema: str, raw: str, reason: str) -> None:
        self.schema = schema
        self.raw = raw
        self.reason = reason
        super().__init__(
            f"the model's answer does not validate against {schema}: {reason}. "
            f"Raw answer: {raw[:300]!r}. A larger max_tokens often helps when the JSON was cut off."
        )


class ChainInputError(LocalchainError, ValueError):
    """A chain was invoked without the variables its prompts need, or built inconsistently.

    Example:
        >>> from langchain_core.language_models import FakeListLLM
        >>> from localchain import ChainInputError
        >>> from localchain.chains import sequential
        >>> links = {"title": "A title for {summary}.", "story": "A story on {title} and {hero}."}
        >>> try:
        ...     sequential(links, llm=FakeListLLM(responses=["..."]), inputs=["summary"])
        ... except ChainInputError as err:
        ...     print(err.chain, err.missing)
        sequential ['hero']
    """

    def __init__(self, chain: str, message: str, *, missing: list[str] | None = None) -> None:
        self.chain = chain
        self.missing = missing or []
        super().__init__(f"{chain}: {message}")


class SessionStoreError(LocalchainError):
    """A chat session database cannot be read or written; what was saved before is intact.

    Example:
        >>> import tempfile
        >>> from localchain import SessionStoreError
        >>> from localchain.memory import SQLiteSessionStore
        >>> folder = tempfile.gettempdir()                # a folder, not a database file
        >>> try:
        ...     SQLiteSessionStore(folder).history("alice").messages
        ... except SessionStoreError as err:
        ...     print(err.reason)
        cannot open: unable to open database file
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"session store {path}: {reason}. Sessions saved before are unchanged; use "
            "another file (--sessions or LOCALCHAIN_SESSIONS) or close the program holding it."
        )


class DocumentLoadError(LocalchainError, ValueError):
    """A file cannot be loaded as a document: missing, binary, not decodable, corrupt, no text.

    Example:
        >>> from localchain.errors import DocumentLoadError
        >>> from localchain.retrievers import load_file
        >>> try:
        ...     load_file("notes/missing.txt")
        ... except DocumentLoadError as err:
        ...     print(err.reason)
        no such file
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"cannot load {path}: {reason}. Folder loading skips such files and lists them; "
            "convert the file to text, Markdown, HTML or a PDF with a text layer."
        )


class EmptyCorpusError(LocalchainError, ValueError):
    """There is nothing to load, chunk or search (empty folder, no text, empty index).

    Example:
        >>> from localchain.errors import EmptyCorpusError
        >>> from localchain.retrievers import BM25Retriever
        >>> try:
        ...     BM25Retriever.from_texts([])
        ... except EmptyCorpusError as err:
        ...     print(err)
        BM25Retriever needs at least one document to index (pass allow_empty=True ...)
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{message} (in {source})" if source else message)


class EmptyQueryError(LocalchainError, ValueError):
    """A search query is empty, or has nothing left to search for after tokenization.

    Example:
        >>> from localchain.errors import EmptyQueryError
        >>> from localchain.retrievers import BM25Retriever
        >>> retriever = BM25Retriever.from_texts(["Cats purr.", "Dogs bark."])
        >>> try:
        ...     retriever.invoke("the")
        ... except EmptyQueryError as err:
        ...     print(err.query, "-", err.reason)
        the - no search terms are left after dropping stop words and punctuation; ...
    """

    def __init__(self, query: str, reason: str) -> None:
        self.query = query
        self.reason = reason
        super().__init__(f"cannot search for {query!r}: {reason}")


class IndexFormatError(LocalchainError, ValueError):
    """A saved index is not one localchain wrote, has another format version, or was altered.

    Example:
        >>> import tempfile
        >>> from localchain.errors import IndexFormatError
        >>> from localchain.retrievers import open_retriever
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     try:
        ...         open_retriever(folder)
        ...     except IndexFormatError as err:
        ...         print(err.reason)
        no manifest.json in it; build one with `localchain index PATH --store ...`
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"cannot load the index at {path}: {reason}. Rebuild it from the source documents."
        )


class EmbeddingMismatchError(LocalchainError, ValueError):
    """A vector store was built with other embeddings than the ones it is used with.

    Example:
        >>> from localchain.errors import EmbeddingMismatchError
        >>> err = EmbeddingMismatchError("index/", stored_model="all-MiniLM-L6-v2",
        ...                              stored_dimension=384, model="bge-small", dimension=512)
        >>> print(err)
        index/: dimension mismatch: the store holds 384-dimensional vectors ...
    """

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
    of the wrong shape, a judgment outside its grammar).

    Example:
        >>> from localchain.errors import BackendResponseError
        >>> print(BackendResponseError("Cohere rerank", "invalid api token", status=401))
        Cohere rerank failed (HTTP 401): invalid api token
    """

    def __init__(self, service: str, reason: str, *, status: int | None = None) -> None:
        self.service = service
        self.reason = reason
        self.status = status
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{service} failed{code}: {reason}")


class JudgmentsFormatError(LocalchainError, ValueError):
    """A relevance judgments (qrels) or run file has a line localchain cannot parse.

    Example:
        >>> from localchain.errors import JudgmentsFormatError
        >>> print(JudgmentsFormatError("qrels.txt", 3, "expected 4 fields: query 0 doc relevance"))
        qrels.txt, line 3: expected 4 fields: query 0 doc relevance
    """

    def __init__(self, path: str, line_number: int, reason: str) -> None:
        self.path = path
        self.line_number = line_number
        self.reason = reason
        super().__init__(f"{path}, line {line_number}: {reason}")


class CalculatorError(LocalchainError, ValueError):
    """The calculator refused an expression or could not evaluate it.

    Example:
        >>> from localchain.agents.tools import Calculator, evaluate
        >>> from localchain.errors import CalculatorError
        >>> try:
        ...     evaluate("__import__('os')")
        ... except CalculatorError as err:
        ...     print(err.reason)
        names starting with '_' are not allowed. Use only numbers, ...
        >>> Calculator().invoke("2 **")        # the tool returns the message as the observation
        "cannot calculate '2 **': this is not an arithmetic expression. ..."
    """

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        shown = expression if len(expression) <= 80 else expression[:77] + "..."
        super().__init__(f"cannot calculate {shown!r}: {reason}")


class RouteError(LocalchainError, ValueError):
    """A router's answer names none of its routes, and there is no default route.

    Example:
        >>> from localchain.errors import RouteError
        >>> err = RouteError("I think cooking", ["science", "sports"])
        >>> err.routes
        ['science', 'sports']
    """

    def __init__(self, answer: str, routes: list[str]) -> None:
        self.answer = answer
        self.routes = routes
        super().__init__(
            f"the router's answer {answer[:80]!r} names none of the routes "
            f"({', '.join(routes)}); give the router a default route, or use a model with "
            "grammar support (llama.cpp) so it can only answer with a route name"
        )


class AgentError(LocalchainError):
    """Root of the errors of the ReAct agent's loop (parsing a step, calling a tool).

    Example:
        >>> from localchain.errors import AgentError, StepParseError, ToolCallError
        >>> issubclass(StepParseError, AgentError) and issubclass(ToolCallError, AgentError)
        True
    """


class StepParseError(AgentError, ValueError):
    """A model's reply is not a ReAct step (no usable Action / Action Input or Final Answer).

    Example:
        >>> from localchain.errors import StepParseError
        >>> err = StepParseError("I think 4.", "no Action or Final Answer")
        >>> err.reason, err.raw
        ('no Action or Final Answer', 'I think 4.')
    """

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(
            f"cannot read a ReAct step from the model's reply: {reason}. "
            f"Reply: {raw[:300]!r}. On llama.cpp the agent decodes steps under a grammar; "
            "other backends are parsed with repair and retried."
        )


class ToolCallError(AgentError):
    """A tool failed or was called wrongly; the agent shows this text as the observation.

    Example:
        >>> from localchain.errors import ToolCallError
        >>> print(ToolCallError("calculator", "2 +", "the expression is incomplete"))
        the tool calculator failed: the expression is incomplete
    """

    def __init__(self, tool: str, tool_input: object, reason: str) -> None:
        self.tool = tool
        self.tool_input = tool_input
        self.reason = reason
        super().__init__(f"the tool {tool} failed: {reason}")


class ToolBindingError(LocalchainError, ValueError):
    """Tools bound to a chat model cannot be used as given: a schema with no grammar, a
    ``tool_choice`` naming a tool that is not bound, or a ``ToolMessage`` answering a call
    that was never made.

    Example:
        >>> from localchain.errors import ToolBindingError
        >>> err = ToolBindingError("tool_choice 'search' is not a bound tool; bound: ['add']")
        >>> isinstance(err, ValueError), err.tool
        (True, None)
    """

    def __init__(self, message: str, *, tool: str | None = None) -> None:
        self.tool = tool
        super().__init__(message)


class EvalDatasetError(LocalchainError, ValueError):
    """An evaluation dataset is empty, unreadable, or has a row localchain cannot use.

    Example:
        >>> from localchain.errors import EvalDatasetError
        >>> from localchain.evals import load_dataset
        >>> try:
        ...     load_dataset([{"answer": "Paris"}])
        ... except EvalDatasetError as err:
        ...     print(err.source, "-", err.reason)
        <list>, row 1 - missing field 'question' (the row has: answer)
    """

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
    """The judge model gave no answer that validates against the schema, after its retries.

    Example:
        >>> from localchain.errors import JudgeOutputError
        >>> err = JudgeOutputError("smollm2", "Verdict", 3, raw='{"verdict": ', reason="not JSON")
        >>> err.attempts, err.raw
        (3, '{"verdict": ')
    """

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


class NotScorableError(LocalchainError, ValueError):
    """A metric cannot score this sample (a refusal, contexts in another language); the
    harness records it as a typed not-scorable score instead of a number.

    ``kind`` is a :class:`~localchain.evals.results.NotScorableKind` value; ``reason`` is the
    metric's explanation for the report.

    Example:
        >>> from localchain.errors import NotScorableError
        >>> err = NotScorableError("refusal", "the answer only declines to answer")
        >>> err.kind, str(err)
        ('refusal', 'the answer only declines to answer')
    """

    def __init__(self, kind: str, detail: str, *, reason: str = "") -> None:
        self.kind = kind
        self.detail = detail
        self.reason = reason
        super().__init__(detail)
