"""Tool calling without a model: tool specs, tool_choice, the call grammar, the prompt
fallback and the reply reader (localchain.models.tool_calling)."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from localchain.agents.tools import Calculator
from localchain.errors import ToolBindingError
from localchain.grammars import InputView
from localchain.models.tool_calling import (
    HERMES,
    LLAMA_31,
    ToolCallStream,
    ToolChoice,
    calls_grammar,
    conversation_dicts,
    conversation_view,
    described_arguments,
    normalise_tool_choice,
    tool_format_of,
    tool_offered,
    tool_specs,
)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Weather(BaseModel):
    """The weather in a city."""

    city: str = Field(description="The city")


@tool
def lookup(query: str) -> str:
    """Look a word up."""
    return query


def merged(chunks: list) -> AIMessage:
    message = chunks[0]
    for chunk in chunks[1:]:
        message = message + chunk
    return message


def read(fmt, pieces: list[str], names=("add",)) -> AIMessage:
    stream = ToolCallStream(fmt, names=list(names))
    chunks = [chunk for piece in pieces for chunk in stream.feed(piece)] + stream.finish()
    return merged(chunks)


def test_tool_specs_from_every_kind_of_tool() -> None:
    as_dict = {"type": "function", "function": {"name": "ping", "description": "Ping."}}
    specs = tool_specs([add, Weather, lookup, Calculator(), as_dict])
    names = [spec["function"]["name"] for spec in specs]
    assert names == ["add", "Weather", "lookup", "calculator", "ping"]
    # A tool without parameters gets an empty object schema, so it has a grammar.
    assert specs[4]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert specs[1]["function"]["parameters"]["required"] == ["city"]
    assert specs[3]["function"]["parameters"]["properties"]["expression"]["type"] == "string"


def test_two_different_tools_with_one_name_are_refused() -> None:
    assert tool_specs([add, add]) == tool_specs([add])  # the same tool twice counts once
    other = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    with pytest.warns(UserWarning, match="two different bound tools share the name 'add'"):
        specs = tool_specs([add, other])
    assert specs == tool_specs([add])  # the first definition is the one used


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, ToolChoice("auto")),
        ("auto", ToolChoice("auto")),
        ("none", ToolChoice("none")),
        ("any", ToolChoice("required")),
        ("required", ToolChoice("required")),
        (True, ToolChoice("required")),
        ("add", ToolChoice("tool", "add")),
        ({"type": "function", "function": {"name": "add"}}, ToolChoice("tool", "add")),
    ],
)
def test_every_tool_choice_form(choice: object, expected: ToolChoice) -> None:
    assert normalise_tool_choice(choice, ["add", "lookup"]) == expected


def test_tool_choice_naming_an_unbound_tool_lists_the_bound_ones() -> None:
    with pytest.raises(ToolBindingError, match=r"'search' is not a bound tool; bound: \['add'"):
        normalise_tool_choice("search", ["add", "lookup"])
    with pytest.raises(ToolBindingError, match="names no function"):
        normalise_tool_choice({"type": "function"}, ["add"])


def test_grammar_of_auto_required_named_and_none() -> None:
    specs = tool_specs([add, lookup])
    auto = calls_grammar(specs, ToolChoice("auto"), HERMES)
    assert auto.startswith("root ::= calls | answer\nanswer ::= ")
    assert "call ::= call-0 | call-1" in auto
    assert '("\\n" call){0,7}' in auto  # parallel calls, at most 8
    named = calls_grammar(specs, ToolChoice("tool", "lookup"), HERMES)
    assert "call ::= call-1\n" in named and "call-0 ::=" not in named
    assert "calls ::= call\n" in named  # one call of the named tool
    single = calls_grammar(specs, ToolChoice("required"), HERMES, parallel=False)
    assert single.startswith("root ::= calls\ncalls ::= call\n")
    assert calls_grammar(specs, ToolChoice("none"), HERMES).startswith("root ::= answer")
    # Every tool's rules are its own: no two tools share a rule name.
    defined = [line.split(" ::= ")[0] for line in auto.splitlines() if " ::= " in line]
    assert len(defined) == len(set(defined))


def test_offered_limits_the_tools_unless_it_leaves_none() -> None:
    specs = tool_specs([add, lookup])
    only_lookup = calls_grammar(specs, ToolChoice("auto"), HERMES, offered=["lookup"])
    assert "call ::= call-1\n" in only_lookup
    everything = calls_grammar(specs, ToolChoice("auto"), HERMES, offered=[])
    assert "call ::= call-0 | call-1" in everything


@pytest.mark.parametrize(
    ("parameters", "construct"),
    [
        ({"type": "object", "properties": {"child": {"$ref": "#"}}}, "Unsupported ref"),
        ({"type": "object", "properties": {"x": {"type": "string", "pattern": "^(?=a)b$"}}},
         "Unsupported pattern syntax"),
        ({"type": "object", "properties": {"x": {"$ref": "#/$defs/Missing"}}}, "Error resolving ref"),
    ],
)  # fmt: skip
def test_a_schema_without_a_grammar_names_the_tool_and_the_construct(
    parameters: dict, construct: str
) -> None:
    specs = [{"type": "function", "function": {"name": "tree", "parameters": parameters}}]
    with pytest.raises(ToolBindingError, match=construct) as caught:
        calls_grammar(specs, ToolChoice("auto"), HERMES)
    assert "tool 'tree'" in str(caught.value) and caught.value.tool == "tree"


def test_template_formats() -> None:
    assert tool_format_of("{% for tool in tools %}{{ tool }}{% endfor %}<tool_call>") is HERMES
    llama = '<|start_header_id|>{% if tools %}"parameters"{% endif %}'
    assert tool_format_of(llama) is LLAMA_31
    assert tool_format_of("{{ '<|im_start|>' + m['content'] }}") is None
    assert tool_format_of("{{ tools }} in an unknown format") is None


def test_text_answers_stream_piece_by_piece() -> None:
    stream = ToolCallStream(HERMES, names=["add"])
    assert [c.content for c in stream.feed("The")] == ["The"]
    assert [c.content for c in stream.feed(" answer")] == [" answer"]
    assert stream.finish() == []


def test_a_reply_that_starts_like_a_call_is_held_until_it_is_one() -> None:
    stream = ToolCallStream(HERMES, names=["add"])
    assert stream.feed("<tool") == [] and stream.feed("_call>\n") == []
    chunks = stream.feed('{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>')
    assert chunks[0].tool_call_chunks[0]["name"] == "add"
    message = merged(chunks + stream.finish())
    assert message.tool_calls[0]["args"] == {"a": 2, "b": 3} and message.content == ""
    assert message.tool_calls[0]["id"].startswith("call_")


def test_a_reply_starting_with_a_lone_angle_bracket_is_text() -> None:
    assert read(HERMES, ["<b", "ig>"]).content == "<big>"


def test_parallel_calls_get_their_own_ids_and_indexes() -> None:
    text = (
        '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>\n'
        '<tool_call>\n{"name": "add", "arguments": {"a": 3, "b": 4}}\n</tool_call>'
    )
    message = read(HERMES, [text[:30], text[30:90], text[90:]])
    assert [call["args"] for call in message.tool_calls] == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    assert len({call["id"] for call in message.tool_calls}) == 2


def test_a_closing_tag_inside_an_argument_does_not_end_the_call() -> None:
    text = '<tool_call>\n{"name": "lookup", "arguments": {"query": "a</tool_call>b"}}\n</tool_call>'
    message = read(HERMES, [text], names=["lookup"])
    assert message.tool_calls[0]["args"] == {"query": "a</tool_call>b"}


def test_a_cut_off_call_is_an_invalid_tool_call_with_its_text() -> None:
    message = read(HERMES, ['<tool_call>\n{"name": "add", "arguments": {"a": 1'])
    assert message.tool_calls == []
    (invalid,) = message.invalid_tool_calls
    assert invalid["name"] == "add" and "ended inside a tool call" in invalid["args"]
    assert '{"name": "add", "arguments": {"a": 1' in invalid["args"]  # the text is kept


def test_a_call_of_an_unbound_tool_is_invalid() -> None:
    message = read(HERMES, ['<tool_call>\n{"name": "rm", "arguments": {}}\n</tool_call>'])
    assert message.tool_calls == [] and "'rm' is not a bound tool" in message.invalid_tool_calls[0]["args"]


def test_llama_31_calls_are_read_when_the_reply_ends() -> None:
    message = read(LLAMA_31, ['{"name": "add", ', '"parameters": {"a": 5, "b": 6}}'])
    assert message.tool_calls[0]["name"] == "add"
    assert message.tool_calls[0]["args"] == {"a": 5, "b": 6}
    assert LLAMA_31.write("add", {"a": 5}) == '{"name": "add", "parameters": {"a": 5}}'


CALL = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1"}


def test_fallback_shows_the_tools_the_calls_and_the_results() -> None:
    specs = tool_specs([add])
    dicts = conversation_dicts(
        [
            SystemMessage("Be brief."),
            HumanMessage("2 + 3?"),
            AIMessage("", tool_calls=[CALL, {**CALL, "id": "call_2"}]),
            ToolMessage("5", tool_call_id="call_1"),
            ToolMessage("5 again", tool_call_id="call_2"),
        ],
        tools=specs,
        native=None,
    )
    assert [d["role"] for d in dicts] == ["system", "user", "assistant", "user"]
    assert dicts[0]["content"].startswith("Be brief.\n\nYou can call tools.")
    assert json.dumps(specs[0]) in dicts[0]["content"]
    assert dicts[2]["content"] == "\n".join([HERMES.write("add", {"a": 2, "b": 3})] * 2)
    # Consecutive results share one user turn; none is dropped.
    assert dicts[3]["content"] == (
        "<tool_response>\n5\n</tool_response>\n<tool_response>\n5 again\n</tool_response>"
    )


def test_fallback_adds_a_system_message_when_there_is_none() -> None:
    dicts = conversation_dicts([HumanMessage("hi")], tools=tool_specs([add]), native=None)
    assert dicts[0]["role"] == "system" and "<tools>" in dicts[0]["content"]
    assert conversation_dicts([HumanMessage("hi")], tools=None, native=None) == [
        {"role": "user", "content": "hi"}
    ]


def test_native_templates_get_openai_shaped_calls_and_tool_messages() -> None:
    dicts = conversation_dicts(
        [HumanMessage("2 + 3?"), AIMessage("", tool_calls=[CALL]), ToolMessage("5", tool_call_id="call_1")],
        tools=tool_specs([add]),
        native=HERMES,
    )
    assert dicts[1]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}
    ]
    assert dicts[2] == {"role": "tool", "content": "5", "tool_call_id": "call_1", "name": "add"}
    assert dicts[0] == {"role": "user", "content": "2 + 3?"}  # the template shows the tools


def test_a_tool_message_answering_no_call_is_refused() -> None:
    with pytest.raises(ToolBindingError, match=r"'call_9', which no earlier AIMessage made; calls made: \['call_1'\]"):
        conversation_dicts(
            [HumanMessage("2 + 3?"), AIMessage("", tool_calls=[CALL]), ToolMessage("5", tool_call_id="call_9")],
            tools=None,
            native=None,
        )


def test_the_view_holds_the_users_words_and_the_tool_results_only() -> None:
    view = conversation_view(
        [SystemMessage("Example: 15% of 840"), HumanMessage("What is 17 * 23?"),
         AIMessage("", tool_calls=[CALL]), ToolMessage("391", tool_call_id="call_1"),
         AIMessage("It is 400.")]
    )  # fmt: skip
    assert view.texts == ("What is 17 * 23?", "391")


def test_the_calculators_argument_is_its_grounded_expression() -> None:
    calculator = Calculator()
    spec = tool_specs([calculator])[0]
    grammar = described_arguments(calculator, spec, InputView(["What is 17 * 23?"]))
    assert grammar is not None
    assert grammar.startswith('root ::= "{\\"expression\\": \\"" input "\\"}"')
    assert '"17"' in grammar and '"23"' in grammar and '"840"' not in grammar
    # The grammar goes inside a call and compiles as part of it.
    full = calls_grammar([spec], ToolChoice("required"), HERMES, arguments={"calculator": grammar})
    assert "t0-input ::=" in full and '"840"' not in full
    # With nothing to calculate the calculator is not offered.
    assert tool_offered(calculator, InputView(["Who wrote Hamlet?"])) is False
    assert tool_offered(calculator, InputView(["What is 17 * 23?"])) is True


def test_tools_without_an_input_grammar_keep_their_schema() -> None:
    spec = tool_specs([lookup])[0]
    assert described_arguments(lookup, spec, InputView(["hi"])) is None
    two = tool_specs([add])[0]
    assert described_arguments(Calculator(), two, InputView(["1 + 2"])) is None  # two arguments


def test_integer_and_number_arguments_are_quoted_from_the_view() -> None:
    specs = tool_specs([add])
    view = InputView(["What is 17 + 23?"])
    grammar = calls_grammar(specs, ToolChoice("required"), HERMES, view=view)
    assert 't0-integer ::= "-"? ("17" | "23") t0-space' in grammar
    # No number in view: the integers stay free; grounding off: free as well.
    free = calls_grammar(specs, ToolChoice("required"), HERMES, view=InputView(["Add them."]))
    assert 't0-integer ::= ("-"? t0-integral-part) t0-space' in free
    off = calls_grammar(specs, ToolChoice("required"), HERMES, view=InputView(["17"], ground_numbers=False))
    assert "t0-integral-part" in off


def test_string_arguments_are_capped_unless_the_schema_says_otherwise() -> None:
    specs = tool_specs([lookup])
    capped = calls_grammar(specs, ToolChoice("required"), HERMES, string_limit=50)
    assert capped.count("(t0-char") == 50  # the converter nests 50 optional characters
    free = calls_grammar(specs, ToolChoice("required"), HERMES, string_limit=None)
    assert "t0-char*" in free


def test_a_call_repeated_in_one_reply_counts_once() -> None:
    call = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    other = '<tool_call>\n{"name": "add", "arguments": {"b": 2, "a": 1}}\n</tool_call>'
    message = read(HERMES, [call + "\n" + other])
    assert [c["args"] for c in message.tool_calls] == [{"a": 1, "b": 2}]


def test_an_invalid_call_can_be_answered_and_is_shown_as_written() -> None:
    # create_agent answers an invalid call with an error ToolMessage; the next turn renders.
    bad = {"name": "add", "args": '{"a": 1', "id": "call_2", "error": "cut", "type": "invalid_tool_call"}
    messages = [
        HumanMessage("2 + 3?"),
        AIMessage("", tool_calls=[CALL], invalid_tool_calls=[bad]),
        ToolMessage("5", tool_call_id="call_1"),
        ToolMessage("Error: cut", tool_call_id="call_2", status="error"),
    ]
    dicts = conversation_dicts(messages, tools=None, native=None)
    assert dicts[1]["content"].endswith('<tool_call>\n{"a": 1\n</tool_call>')
    assert "<tool_response>\nError: cut\n</tool_response>" in dicts[2]["content"]
    native = conversation_dicts(messages, tools=None, native=HERMES)
    assert [c["id"] for c in native[1]["tool_calls"]] == ["call_1", "call_2"]
