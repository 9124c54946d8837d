"""Chains, part 2: the book's story chain, summary -> title -> character -> story.

Shows ``localchain.chains.story_chain``, a sequential chain of three prompts. Each link sees
the input and everything the links before it made, and one ``invoke`` returns a dict with
all four parts: ``summary`` (the input), ``title``, ``character`` and ``story``. The book's
prompts are in ``STORY_PROMPTS``.

Run from the repository root (any working directory works):

    .venv/bin/python examples/03_story_chain.py
"""

from __future__ import annotations

from localchain import load_chat_model
from localchain.chains import STORY_PROMPTS, story_chain


def main() -> None:
    chat = load_chat_model(temperature=0, seed=42, n_ctx=2048, max_tokens=120)
    for link, prompt in STORY_PROMPTS.items():
        print(f"prompt for {link}: {prompt!r}")

    result = story_chain(chat).invoke("a girl that lost her mother")
    print("keys:", list(result))
    for key, text in result.items():
        print(f"\n[{key}]\n{text}")


if __name__ == "__main__":
    main()
