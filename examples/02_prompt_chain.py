"""Chains, part 1: a prompt template piped into the model, and the book's business names.

Shows ``localchain.chains.prompt_chain``: the book's single link (``prompt | llm``) as one
call. The template's variable is filled from a dict, or from a bare value when there is
only one variable, and the answer comes back as a stripped string. The same template is
reused for several products with ``batch``, and a chain over the completion model shows a
chat template written by hand.

Run from the repository root (any working directory works):

    .venv/bin/python examples/02_prompt_chain.py
"""

from __future__ import annotations

from localchain import load_chat_model, load_llm
from localchain.chains import prompt_chain

BUSINESS = "Create a funny name for a business that sells {product}."
# SmolLM2's ChatML format, written by hand for the completion model.
CAPITAL = (
    "<|im_start|>user\nWhat is the capital of {country}? Answer with one word.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def main() -> None:
    settings = {"temperature": 0, "seed": 42, "n_ctx": 2048, "max_tokens": 48}
    chat = load_chat_model(**settings)

    name = prompt_chain(BUSINESS, chat)
    print("template:", BUSINESS)
    print("name for ice cream:", name.invoke({"product": "ice cream"}))
    for product, answer in zip(["socks", "tea"], name.batch(["socks", "tea"])):
        print(f"name for {product}:", answer)

    capital = prompt_chain(CAPITAL, load_llm(**settings))
    print("hand-written template answer:", capital.invoke("France"))


if __name__ == "__main__":
    main()
