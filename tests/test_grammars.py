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
