"""Constrained decoding on llama.cpp: GBNF grammars, JSON schemas, structured output."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from localchain.errors import ConfigError, StructuredOutputError
from localchain.models import LlamaCppChat


class Person(BaseModel):
    name: str = Field(max_length=40)
    age: int


SENTENCES = [
    ("Maarten is 33 years old.", "Maarten"),
    ("Alice turned 25 last week.", "Alice"),
    ("Bob, aged 41, lives in Paris.", "Bob"),
    ("My grandmother Rose is 88.", "Rose"),
    ("The boy, Tom, is 12 years old.", "Tom"),
    ("Jay is a 30 year old pilot.", "Jay"),
    ("Emma is 19 and studies law.", "Emma"),
    ("Carlos celebrated his 50th birthday today.", "Carlos"),
    ("Nina is 7.", "Nina"),
    ("At 64, Peter still runs marathons.", "Peter"),
]


def test_gbnf_grammar_limits_the_answer(chat: LlamaCppChat) -> None:
    for question in ["Is the sky blue?", "Is fire cold?", "Do fish swim?"]:
        reply = chat.invoke(question, grammar='root ::= "yes" | "no"')
        assert reply.content in {"yes", "no"}


def test_grammar_as_default_field() -> None:
    digits = LlamaCppChat(n_ctx=2048, grammar="root ::= [0-9]+", max_tokens=6)
    assert digits.invoke("What is 2 + 2?").content.isdigit()


def test_json_object_response_format(chat: LlamaCppChat) -> None:
    reply = chat.invoke(
        "Describe a cat as JSON.", response_format={"type": "json_object"}, max_tokens=120
    )
    assert isinstance(json.loads(reply.content), dict)


def test_json_schema_call_option(chat: LlamaCppChat) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    }
    reply = chat.invoke("What is 2 + 2?", json_schema=schema, max_tokens=30)
    data = json.loads(reply.content)
    assert set(data) == {"answer"} and isinstance(data["answer"], int)


def test_structured_output_validates_ten_of_ten(chat: LlamaCppChat) -> None:
    # The grammar guarantees the shape only when max_tokens holds the longest answer the
    # schema allows: a 40-character name and a 16-digit age take more than the fixture's 48.
    roomy = LlamaCppChat(temperature=0, max_tokens=128, n_ctx=chat.n_ctx, seed=42)
    assert roomy.engine is chat.engine
    extract = roomy.with_structured_output(Person)
    results = extract.batch([f"Extract the person: {text}" for text, _ in SENTENCES])
    assert all(isinstance(person, Person) for person in results)
    assert len(results) == 10
    # The grammar guarantees the shape; the 135M model also gets most names right.
    names_right = sum(person.name == name for person, (_, name) in zip(results, SENTENCES))
    assert names_right >= 7


def test_structured_output_with_dict_schema(chat: LlamaCppChat) -> None:
    extract = chat.with_structured_output(Person.model_json_schema())
    data = extract.invoke("Extract the person: Maarten is 33 years old.")
    assert isinstance(data, dict) and set(data) == {"name", "age"}


def test_structured_output_include_raw(chat: LlamaCppChat) -> None:
    out = chat.with_structured_output(Person, include_raw=True).invoke(
        "Extract the person: Maarten is 33 years old."
    )
    assert isinstance(out["parsed"], Person)
    assert out["parsing_error"] is None
    assert json.loads(out["raw"].content)["name"] == out["parsed"].name


def test_structured_output_cut_off_is_a_clear_error() -> None:
    cut = LlamaCppChat(n_ctx=2048, max_tokens=3).with_structured_output(Person)
    with pytest.raises(StructuredOutputError, match="cut off at max_tokens") as caught:
        cut.invoke("Extract the person: Maarten is 33 years old.")
    assert caught.value.raw.startswith("{")


def test_invalid_grammar_is_a_config_error(chat: LlamaCppChat) -> None:
    with pytest.raises(ConfigError, match="does not parse"):
        chat.invoke("Hi", grammar="this is not gbnf")
    # The model is still usable.
    assert chat.invoke("Hi", grammar='root ::= "ok"').content == "ok"


def test_only_one_constraint(chat: LlamaCppChat) -> None:
    with pytest.raises(ConfigError, match="only one"):
        chat.invoke("Hi", grammar='root ::= "a"', response_format={"type": "json_object"})
