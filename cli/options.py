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
from typing import Annotated, Any, get_type_hints

import typer

from localchain.models.registry import resolve_settings
from localchain.settings import Settings

__all__ = [
    "BackendOpt",
    "BaseUrlOpt",
    "JsonOpt",
    "MaxTokensOpt",
    "ModelOpt",
    "ModelOptions",
    "NCtxOpt",
    "NoThresholdOpt",
    "QuestionArg",
    "SeedOpt",
    "StoreOpt",
    "SystemOpt",
    "TemperatureOpt",
    "TemplateOpt",
    "ThresholdOpt",
    "print_json",
    "read_question",
    "relevance_cut",
    "settings_from_options",
    "with_model_options",
]

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="GGUF path (or model name for a remote backend)."),
]
BackendOpt = Annotated[
    str | None, typer.Option("--backend", help="llamacpp, openai or cohere.")
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (selects openai).")
]
TemperatureOpt = Annotated[
    float | None, typer.Option("--temperature", "-t", help="Sampling temperature.")
]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", help="Most tokens per answer.")]
NCtxOpt = Annotated[int | None, typer.Option("--n-ctx", help="Context window in tokens.")]
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
StoreOpt = Annotated[Path, typer.Option("--store", help="Store folder from `localchain index`.")]
ThresholdOpt = Annotated[
    float | None,
    typer.Option("--threshold", help="Dense cosine cut-off (default: measured per model)."),
]
NoThresholdOpt = Annotated[
    bool, typer.Option("--no-threshold", help="Use the k nearest, however far.")
]


def settings_from_options(**options: Any) -> Settings:
    """Settings from CLI options; options not given fall through to env and TOML."""
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


def read_question(question: str, *, name: str = "question") -> str:
    """The QUESTION argument (or the argument ``name``), read from stdin when it is ``-``;
    an empty one is a usage error."""
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise typer.BadParameter(f"the {name} is empty", param_hint=name.upper())
    return question
