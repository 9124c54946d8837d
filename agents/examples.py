"""Worked examples for the ReAct prompt, chosen per question.

A small model copies the shape of the examples it is shown: an example close to the
question (a percentage for a percentage, a unit conversion for a unit conversion) is worth
more than four fixed ones. :data:`EXAMPLE_BANK` holds worked examples in the protocol's
format, none of them a question of the agent benchmark; :class:`BM25ExampleSelector` is a
LangChain example selector (``BaseExampleSelector``) that returns the ``k`` examples most
similar to the question by BM25 over their words, and :func:`format_examples` writes them
as the ReAct prompt's ``{examples}`` text.

Each example is a dict with ``question``, ``thought``, ``tool``, ``tool_input``,
``observation`` and ``answer`` (the calculator's observations are what the calculator
returns for the input; a test checks them).

Example:
    >>> selector = BM25ExampleSelector(examples=examples_for_tools(["calculator"]), k=2)
    >>> picked = selector.select_examples({"input": "How many seconds are in 9 hours?"})
    >>> [example["tool_input"] for example in picked]
    ['4 hours to minutes', '2.5 minutes to seconds']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.example_selectors import BaseExampleSelector
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

__all__ = [
    "EXAMPLE_BANK",
    "EXAMPLE_KEYS",
    "BM25ExampleSelector",
    "examples_for_tools",
    "format_example",
    "format_examples",
]

EXAMPLE_KEYS = ("question", "thought", "tool", "tool_input", "observation", "answer")
"""The keys of one worked example."""


def _example(
    question: str, thought: str, tool: str, tool_input: str, observation: str, answer: str
) -> dict[str, str]:
    return dict(zip(EXAMPLE_KEYS, (question, thought, tool, tool_input, observation, answer)))


_CALC = "calculator"
_SEARCH = "web_search"

EXAMPLE_BANK: tuple[dict[str, str], ...] = (
    # arithmetic
    _example("What is 48 * 7 - 15?", "I need to calculate 48 * 7 - 15.", _CALC,
             "48 * 7 - 15", "321", "321"),
    _example("What is 3 to the power of 5?", "I raise 3 to the power of 5.", _CALC,
             "3 ** 5", "243", "243"),
    _example("What is the square root of 196?", "I take the square root of 196.", _CALC,
             "sqrt(196)", "14", "14"),
    _example("What is 918 divided by 27?", "I divide 918 by 27.", _CALC,
             "918 / 27", "34", "34"),
    _example("What is (14 + 9) * 6?", "I calculate the expression as written.", _CALC,
             "(14 + 9) * 6", "138", "138"),
    _example("What is 2.4 * 15?", "I multiply 2.4 by 15.", _CALC, "2.4 * 15", "36", "36"),
    # percentages
    _example("What is 40% of 65?", "I calculate 40% of 65.", _CALC, "40% of 65", "26", "26"),
    _example("A lamp costs 60 dollars and is 15% off. What is the sale price in dollars?",
             "The sale price is the price minus 15% of the price.", _CALC,
             "60 - 15% of 60", "51", "51 dollars"),
    _example("A price of 250 dollars goes up by 8%. What is the new price in dollars?",
             "The new price is the price plus 8% of the price.", _CALC,
             "250 + 8% of 250", "270", "270 dollars"),
    _example("What percentage of 200 is 34?", "I divide 34 by 200 and multiply by 100.",
             _CALC, "34 / 200 * 100", "17", "17%"),
    _example("A taxi fare is 40 dollars. How much is a 12% tip in dollars?",
             "The tip is 12% of the fare.", _CALC, "12% of 40", "4.8", "4.8 dollars"),
    _example("A village of 1500 people grows by 6%. How many people live there now?",
             "The new population is 1500 plus 6% of 1500.", _CALC,
             "1500 + 6% of 1500", "1590", "1590 people"),
    # conversions at a stated rate or formula
    _example("Convert 40 CHF to USD at 1.12 USD for 1 CHF.",
             "I multiply the amount by the rate.", _CALC, "40 * 1.12", "44.8", "44.8 USD"),
    _example("How much is 500 USD in EUR if 1 USD is 0.9 EUR?",
             "I multiply the amount by the rate.", _CALC, "500 * 0.9", "450", "450 EUR"),
    _example("Convert 80 GBP to USD at 1.25 USD per GBP.",
             "I multiply the amount by the stated rate, with its units.", _CALC,
             "80 GBP * 1.25 USD/GBP", "100 USD", "100 USD"),
    _example("How many centimeters are 7 inches if one inch is 2.54 cm?",
             "I multiply the inches by 2.54.", _CALC, "7 * 2.54", "17.78", "17.78 cm"),
    _example("Convert 50 Fahrenheit to Celsius using C = (F - 32) * 5 / 9.",
             "I put 50 into the formula.", _CALC, "(50 - 32) * 5 / 9", "10", "10 degrees Celsius"),
    # units: the calculator converts them itself
    _example("How many minutes are in 4 hours?", "I convert 4 hours to minutes.", _CALC,
             "4 hours to minutes", "240 min", "240 minutes"),
    _example("How many seconds are in 2.5 minutes?", "I convert 2.5 minutes to seconds.",
             _CALC, "2.5 minutes to seconds", "150 s", "150 seconds"),
    _example("How many hours are in 6 days?", "I convert 6 days to hours.", _CALC,
             "6 days to hours", "144 h", "144 hours"),
    _example("How many centimeters are in 2.75 meters?", "I convert 2.75 m to cm.", _CALC,
             "2.75 m to cm", "275 cm", "275 centimeters"),
    _example("How many grams are in 1.5 kilograms?", "I convert 1.5 kg to grams.", _CALC,
             "1.5 kg to grams", "1500 g", "1500 grams"),
    _example("A train moves at 120 km/h for 2.5 hours. How far does it go in km?",
             "Distance is speed times time.", _CALC, "120 km/h * 2.5 h", "300 km", "300 km"),
    _example("Convert 25 degrees Celsius to Fahrenheit.", "I convert 25 degC to degF.",
             _CALC, "25 degC to degF", "77 °F", "77 degrees Fahrenheit"),
    _example("How many liters are in 2500 milliliters?", "I convert 2500 ml to liters.",
             _CALC, "2500 ml to liters", "2.5 l", "2.5 liters"),
    _example("How many feet are 3 yards?", "I convert 3 yards to feet.", _CALC,
             "3 yards to feet", "9 ft", "9 feet"),
    # word problems in one expression
    _example("I buy 4 pens at 2.5 dollars each and pay with a 20 dollar note. How much "
             "change do I get?", "The change is 20 minus 4 times 2.5, in one expression.",
             _CALC, "20 - 4 * 2.5", "10", "10 dollars"),
    _example("A shop sells 12 boxes at 8 dollars each and gives 25% off the total. What do I "
             "pay in dollars?", "The total is 12 * 8, minus 25% of it, in one expression.",
             _CALC, "12 * 8 - 25% of (12 * 8)", "72", "72 dollars"),
    # lookups
    _example("Who wrote the novel Dracula?", "I should search for this.", _SEARCH,
             "wrote novel Dracula", "Bram Stoker wrote the novel Dracula in 1897.",
             "Bram Stoker"),
    _example("How high is Mount Kilimanjaro in metres?", "I should search for this.", _SEARCH,
             "Mount Kilimanjaro high metres", "Mount Kilimanjaro in Tanzania is 5895 metres "
             "high.", "5895 metres"),
    _example("What is the capital city of Kenya?", "I should search for this.", _SEARCH,
             "capital city Kenya", "Nairobi is the capital city of Kenya.", "Nairobi"),
    _example("In what year did the first Moon landing happen?", "I should search for this.",
             _SEARCH, "year first Moon landing", "Apollo 11 made the first Moon landing in "
             "July 1969.", "1969"),
)  # fmt: skip
"""The built-in worked examples (calculator and web search), none a benchmark question."""

_TOKEN = re.compile(r"[^\W\d_]+|%")
_STOPWORDS = frozenset(
    "a an the is are of in to for at and or what how much many do does i it if my by "
    "be with on this that there".split()
)


def _tokens(text: str) -> list[str]:
    words = (w.lower() for w in _TOKEN.findall(text))
    return ["percent" if w == "%" else w for w in words if w not in _STOPWORDS]


def examples_for_tools(tool_names: Iterable[str], bank: Sequence[dict[str, str]] = EXAMPLE_BANK):
    """The examples of ``bank`` whose tool is one of ``tool_names``.

    Example:
        >>> {e["tool"] for e in examples_for_tools(["web_search"])}
        {'web_search'}
    """
    names = set(tool_names)
    return [dict(example) for example in bank if example["tool"] in names]


class BM25ExampleSelector(BaseExampleSelector, BaseModel):
    """LangChain example selector: the ``k`` examples most similar to the input by BM25.

    Words are compared lower-cased, without numbers or stop words (``%`` is ``percent``),
    over each example's question and thought. The most similar example comes *last*, next
    to the question in the prompt. Ties keep the bank's order.

    Example:
        >>> selector = BM25ExampleSelector(examples=list(EXAMPLE_BANK), k=1)
        >>> selector.select_examples({"input": "What is 35% of 120?"})[0]["tool_input"]
        '40% of 65'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    examples: list[dict[str, str]] = Field(default_factory=list)
    """The worked examples (dicts with :data:`EXAMPLE_KEYS`)."""
    k: int = Field(3, ge=1)
    """How many examples to select."""
    input_key: str = "input"
    """The input variable holding the question."""

    _index: Any = PrivateAttr(default=None)

    @field_validator("examples")
    @classmethod
    def _check_examples(cls, examples: list[dict[str, str]]) -> list[dict[str, str]]:
        for example in examples:
            missing = [key for key in EXAMPLE_KEYS if key not in example]
            if missing:
                raise ValueError(f"a worked example needs {missing}: {example}")
        return examples

    def add_example(self, example: dict[str, str]) -> None:
        """Add one example to the bank (the index is rebuilt on the next selection)."""
        self.examples.append(dict(self._check_examples([example])[0]))
        self._index = None

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, str]]:
        """The ``k`` examples most similar to ``input_variables[input_key]``."""
        if not self.examples:
            return []
        query = _tokens(str(input_variables.get(self.input_key, "")))
        scores = self._scores(query)
        ranked = sorted(range(len(self.examples)), key=lambda i: (-scores[i], i))[: self.k]
        return [dict(self.examples[i]) for i in reversed(ranked)]

    def _scores(self, query: list[str]) -> list[float]:
        if not query:
            return [0.0] * len(self.examples)
        if self._index is None:
            from rank_bm25 import BM25Okapi

            corpus = [_tokens(f"{e['question']} {e['thought']}") or ["_"] for e in self.examples]
            self._index = BM25Okapi(corpus)
        return [float(score) for score in self._index.get_scores(query)]


def format_example(example: dict[str, str]) -> str:
    """One worked example in the protocol's format (the observation fenced in backticks).

    Example:
        >>> print(format_example(EXAMPLE_BANK[0]).splitlines()[4])
        Observation: `321`
    """
    return (
        f"Question: {example['question']}\nThought: {example['thought']}\n"
        f"Action: {example['tool']}\nAction Input: {example['tool_input']}\n"
        f"Observation: `{example['observation']}`\nThought: I now know the final answer\n"
        f"Final Answer: {example['answer']}\n"
    )


def format_examples(examples: Iterable[dict[str, str]]) -> str:
    """Several worked examples, a blank line between them (the ``{examples}`` text).

    Example:
        >>> format_examples([]) == ""
        True
    """
    return "\n".join(format_example(example) for example in examples)
