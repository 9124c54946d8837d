"""GBNF building blocks (localchain.grammars), checked by llama.cpp's own grammar parser."""

from __future__ import annotations

import doctest

import pytest

from localchain import grammars
from localchain.errors import ConfigError
from localchain.grammars import gbnf_literal, rename_rule
from localchain.models import LlamaCppChat

# Everything gbnf_literal escapes, in one text: quote, backslash, tab, newline.
AWKWARD = 'say "hi"\\\tthen\nbye'


def test_gbnf_literal_escapes_what_gbnf_reads_specially() -> None:
    assert gbnf_literal("plain") == '"plain"'
    assert gbnf_literal('a "b" \\ c\n') == '"a \\"b\\" \\\\ c\\n"'
    assert gbnf_literal("tab\tcr\r") == '"tab\\tcr\\r"'
    assert gbnf_literal("") == '""'
    # Other characters are themselves, including non-ASCII ones.
    assert gbnf_literal("café [x] ::= |") == '"café [x] ::= |"'


def test_rename_rule_keeps_names_inside_literals_and_classes() -> None:
    gbnf = 'root ::= "root" [root] item root-ish\nitem ::= root | "x"'
    assert rename_rule(gbnf, "root", "args") == (
        'args ::= "root" [root] item root-ish\nitem ::= args | "x"'
    )
    assert rename_rule('root ::= "a \\" root"', "root", "r") == 'r ::= "a \\" root"'


def test_gbnf_literal_is_still_importable_from_the_agents() -> None:
    from localchain.agents import grammar

    assert grammar.gbnf_literal is gbnf_literal
    assert "gbnf_literal" in grammar.__all__


@pytest.mark.slow
def test_a_literal_round_trips_through_llama_cpp(chat: LlamaCppChat) -> None:
    gbnf = f"root ::= {gbnf_literal(AWKWARD)}"
    chat.engine.grammar(gbnf)  # raises ConfigError if llama.cpp's parser rejects it
    answer = chat.invoke("Repeat the message.", grammar=gbnf, max_tokens=16)
    assert answer.content == AWKWARD


@pytest.mark.slow
def test_llama_cpp_rejects_a_broken_literal(chat: LlamaCppChat) -> None:
    # The check above means something: an unescaped quote does not parse.
    with pytest.raises(ConfigError):
        chat.engine.grammar('root ::= "say "hi""')


def test_docstring_examples_run() -> None:
    result = doctest.testmod(grammars)
    assert result.failed == 0
    assert result.attempted > 0


def test_json_schema_grammar_keeps_raw_control_characters_out_of_strings(chat) -> None:
    """llama-cpp-python's converter allows a raw newline inside a JSON string, which no
    JSON parser accepts; every JSON-schema grammar localchain builds leaves it out."""
    from langchain_core.tools import tool
    from pydantic import BaseModel

    from localchain.agents.grammar import json_arguments_grammar
    from localchain.evals.judge import judge_grammar
    from localchain.grammars import JSON_STRING_CHAR, json_schema_grammar
    from localchain.models.engine import grammar_text

    class Person(BaseModel):
        name: str

    @tool
    def greet(name: str, times: int) -> str:
        """Greet someone a number of times."""
        return name * times

    grammars = {
        "schema": json_schema_grammar(Person.model_json_schema()),
        "structured output": grammar_text(json_schema=Person),
        "tool arguments": json_arguments_grammar(greet),
        "judge": judge_grammar(Person),
    }
    for where, gbnf in grammars.items():
        assert JSON_STRING_CHAR in gbnf, where
        assert 'char ::= [^"\\\\] |' not in gbnf, where
        chat.engine.grammar(gbnf)  # llama.cpp accepts it
