"""Options shared by the CLI commands, and JSON output.

The model options (``--model``, ``--backend``, ... ``--chat-template``) are declared once,
in :class:`ModelOptions`; :func:`with_model_options` gives them to every command that loads
a chat model.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer

if TYPE_CHECKING:
    from localchain.settings import Settings

__all__ = [
    "BackendOpt",
    "BaseUrlOpt",
    "InputError",
    "JsonOpt",
    "MaxTokensOpt",
    "ModelOpt",
    "ModelOptions",
    "NCtxOpt",
    "NParallelOpt",
    "NoThresholdOpt",
    "QueriesOpt",
    "QuestionArg",
    "SeedOpt",
    "StoreOpt",
    "SystemOpt",
    "TemperatureOpt",
    "TemplateOpt",
    "ThresholdOpt",
    "check_text",
    "print_json",
    "read_lines",
    "read_question",
    "relevance_cut",
    "session_name",
    "settings_from_options",
    "with_model_options",
]

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="GGUF path (or model name for a remote backend)."),
]
BackendOpt = Annotated[str | None, typer.Option("--backend", help="llamacpp, openai or cohere.")]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (selects openai).")
]
TemperatureOpt = Annotated[
    float | None, typer.Option("--temperature", "-t", help="Sampling temperature.")
]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", help="Most tokens per answer.")]
NCtxOpt = Annotated[int | None, typer.Option("--n-ctx", help="Context window in tokens.")]
NParallelOpt = Annotated[
    int | None,
    typer.Option(
        "--n-parallel",
        min=1,
        max=64,
        help="Answers a local model decodes together (batched decoding).",
    ),
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampling seed.")]
TemplateOpt = Annotated[
    str | None,
    typer.Option("--chat-template", help="Built-in template name or Jinja text (local models)."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout instead of text.")
]
QuestionArg = Annotated[str, typer.Argument(help="The question; '-' reads it from stdin.")]
SystemOpt = Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")]
StoreOpt = Annotated[
    str,
    typer.Option(
        "--store",
        help="Index from `localchain index`: a folder, qdrant:PATH or "
        "qdrant+http(s)://HOST:PORT/COLLECTION.",
    ),
]
ThresholdOpt = Annotated[
    float | None,
    typer.Option("--threshold", help="Dense cosine cut-off (default: measured per model)."),
]
NoThresholdOpt = Annotated[
    bool, typer.Option("--no-threshold", help="Use the k nearest, however far.")
]
QueriesOpt = Annotated[
    Path | None,
    typer.Option(
        "--queries",
        metavar="FILE",
        help="Answer every line of FILE ('-': stdin) in this one call; prints one JSON "
        "object a line.",
    ),
]


def settings_from_options(**options: Any) -> Settings:
    """Settings from CLI options; options not given fall through to env and TOML."""
    from localchain.models.registry import resolve_settings

    return resolve_settings(**{k: v for k, v in options.items() if v is not None})


@dataclass(frozen=True)
class ModelOptions:
    """The model options of every command that loads a chat model, as one value.

    A command takes them as one parameter, ``model_options: ModelOptions = ModelOptions()``,
    under :func:`with_model_options`; the fields are the command-line options.

    Example:
        >>> ModelOptions(n_ctx=2048, seed=1).settings().seed
        1
    """

    model: ModelOpt = None
    backend: BackendOpt = None
    base_url: BaseUrlOpt = None
    temperature: TemperatureOpt = None
    max_tokens: MaxTokensOpt = None
    n_ctx: NCtxOpt = None
    n_parallel: NParallelOpt = None
    seed: SeedOpt = None
    chat_template: TemplateOpt = None

    def settings(self) -> Settings:
        """The Settings these options give; options not given fall through to env and TOML."""
        return settings_from_options(**asdict(self))


MODEL_OPTIONS_PARAMETER = "model_options"
"""The parameter of a command that :func:`with_model_options` turns into the model options."""


def with_model_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the model options: its ``model_options`` parameter becomes ``--model``,
    ``--backend``, ... ``--chat-template`` on the command line (in its place, so ``--help``
    lists them there), and the command receives them as one :class:`ModelOptions`.

    Typer reads a command's signature, so the wrapper shows the options one by one and
    gathers them again when it is called.

    Example:
        >>> @with_model_options
        ... def hello(name: str, model_options: ModelOptions = ModelOptions()) -> None:
        ...     print(name, model_options.seed)
        >>> hello("Ada", seed=3)
        Ada 3
    """
    signature = inspect.signature(command, eval_str=True)
    own = signature.parameters
    if MODEL_OPTIONS_PARAMETER not in own:
        raise TypeError(
            f"{command.__name__} has no {MODEL_OPTIONS_PARAMETER!r} parameter; add "
            f"`{MODEL_OPTIONS_PARAMETER}: ModelOptions = ModelOptions()` where the model "
            "options go"
        )
    names = [field.name for field in fields(ModelOptions)]
    clash = sorted(set(names) & set(own))
    if clash:
        raise TypeError(f"{command.__name__} has parameters named like model options: {clash}")
    hints = get_type_hints(ModelOptions, include_extras=True)
    kind = own[MODEL_OPTIONS_PARAMETER].kind
    parameters: list[inspect.Parameter] = []
    for parameter in own.values():
        if parameter.name != MODEL_OPTIONS_PARAMETER:
            parameters.append(parameter)
            continue
        parameters.extend(
            inspect.Parameter(field.name, kind, default=field.default, annotation=hints[field.name])
            for field in fields(ModelOptions)
        )
    shown = signature.replace(parameters=parameters)

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        given = shown.bind(*args, **kwargs).arguments
        options = ModelOptions(**{name: given.pop(name) for name in names if name in given})
        return command(**given, **{MODEL_OPTIONS_PARAMETER: options})

    run.__signature__ = shown  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


def relevance_cut(threshold: float | None, no_threshold: bool) -> float | str | None:
    """The retriever's relevance threshold from ``--threshold`` and ``--no-threshold``:
    the number given, ``"auto"`` (measured per embedding model) or None (no cut-off).

    Example:
        >>> relevance_cut(None, False), relevance_cut(0.4, False), relevance_cut(None, True)
        ('auto', 0.4, None)
    """
    if no_threshold and threshold is not None:
        raise typer.BadParameter("give --threshold or --no-threshold, not both")
    if no_threshold:
        return None
    return "auto" if threshold is None else threshold


def print_json(data: dict[str, Any]) -> None:
    """Write one JSON object and a newline to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


class InputError(Exception):
    """Input a command cannot use, such as text that is not UTF-8 or an unusable session
    name: :func:`localchain.cli.main` prints it as one ``error:`` line on stderr and exits
    with code 2, the code of a usage error.

    Example:
        >>> from localchain.cli import main
        >>> main(["ask", "   "])                              # doctest: +SKIP
        2
    """


def _bad_byte(text: str) -> tuple[int, int] | None:
    """(byte, offset in bytes) of the first byte of ``text`` that was not UTF-8, else None.

    Undecodable bytes of argv (and of stdin in the C locale) reach Python as lone
    surrogates (``surrogateescape``: byte 0xff is ``"\\udcff"``).
    """
    for index, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            return ord(char) - 0xDC00, len(text[:index].encode("utf-8", "surrogateescape"))
        if "\ud800" <= char <= "\udfff":  # a surrogate no decoder makes: not from bytes
            return ord(char), len(text[:index].encode("utf-8", "surrogatepass"))
    return None


def check_text(text: str, what: str) -> str:
    """``text`` if it is valid Unicode (every byte it came from was UTF-8), else
    :class:`InputError` naming ``what`` and the first bad byte.

    Example:
        >>> check_text("caf\u00e9", "the question")
        'café'
        >>> try:
        ...     check_text("caf\\udce9", "the question")
        ... except InputError as err:
        ...     print(err)
        the question is not valid UTF-8 (byte 0xe9 at offset 3); pass UTF-8 text
    """
    bad = _bad_byte(text)
    if bad is not None:
        raise InputError(
            f"{what} is not valid UTF-8 (byte 0x{bad[0]:02x} at offset {bad[1]}); pass UTF-8 text"
        )
    return text


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{what} is not valid UTF-8 (byte 0x{data[err.start]:02x} on line {line}, offset "
            f"{err.start}); pass UTF-8 text"
        ) from None


def _read_stdin(what: str) -> str:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # stdin replaced by a text stream (an embedding program, a test)
        return check_text(sys.stdin.read(), what)
    return _decode(buffer.read(), what)


def read_question(question: str, *, name: str = "question") -> str:
    """The QUESTION argument (or the argument ``name``), read from stdin when it is ``-``.

    Text from stdin loses its trailing line break (``echo ... |`` adds one). An empty
    question, or one that is not UTF-8, is an :class:`InputError`.

    Example:
        >>> read_question("What is 2 + 2?")
        'What is 2 + 2?'
    """
    if question == "-":
        question = _read_stdin(f"the {name} read from stdin").rstrip("\r\n")
    else:
        check_text(question, f"the {name}")
    if not question.strip():
        raise InputError(f"the {name} is empty")
    return question


def read_lines(path: Path, *, option: str = "--queries") -> list[str]:
    """The non-blank lines of a file (``-``: stdin), each without its line break.

    The whole file is checked first: a byte that is not UTF-8 is an :class:`InputError`
    naming the line, before any line is answered.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "queries.txt"
        >>> _ = path.write_text("black hole\\n\\nwormhole\\n", encoding="utf-8")
        >>> read_lines(path)
        ['black hole', 'wormhole']
    """
    if str(path) == "-":
        text = _read_stdin(f"{option} - (stdin)")
    else:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise InputError(f"{option} {path}: {err.strerror or err}") from None
        text = _decode(data, f"{option} {path}")
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def session_name(name: str, where: str) -> str:
    """A session name as stores keep it (trimmed), or :class:`InputError` saying why it
    cannot be one (blank, longer than 200 characters, not UTF-8).

    Example:
        >>> session_name("  trip ", "--session")
        'trip'
    """
    from localchain.memory.history import check_session_id

    check_text(name, f"the session name given to {where}")
    try:
        return check_session_id(name)
    except ValueError as err:
        raise InputError(f"{where}: {err}") from None
