"""Memory: the book's buffer, window (k=2) and summary memories, turn by turn.

Replays the book's conversations on a ``Chatbot`` with each memory and prints, for every
turn, exactly the messages the model was given (``bot.last_turn.prompt``) and its answer:

* buffer: "Hi! My name is Maarten. What is 1 + 1?", then "What is my name?" - the whole
  history is in the prompt, so the name is there;
* window, k=2: name and age, "What is 3 + 3?", "What is my name?", "What is my age?" - by
  the last question the first exchange has left the window, and the age with it;
* summary: after each exchange the model rewrites a running summary, and the prompt holds
  the summary instead of the transcript.

Run from the repository root (any working directory works):

    .venv/bin/python examples/04_memory.py
"""

from __future__ import annotations

from localchain import load_chat_model
from localchain.chains import Chatbot
from localchain.memory import BufferMemory, SummaryMemory, WindowMemory

NAME = "Hi! My name is Maarten. What is 1 + 1?"
NAME_AND_AGE = "Hi! My name is Maarten and I am 33 years old. What is 1 + 1?"

CONVERSATIONS: list[tuple[str, list[str]]] = [
    ("buffer", [NAME, "What is my name?"]),
    ("window", [NAME_AND_AGE, "What is 3 + 3?", "What is my name?", "What is my age?"]),
    ("summary", [NAME, "What is my name?", "What was the first question I asked?"]),
]


def replay(kind: str, bot: Chatbot, messages: list[str]) -> None:
    """Chat through ``messages``, printing the prompt, answer (and summary) of each turn."""
    print(f"\n=== {kind} memory ===")
    for number, text in enumerate(messages, 1):
        answer = bot.chat(text)
        prompt = bot.last_turn.prompt
        print(f"--- {kind} turn {number} prompt ({len(prompt)} messages) ---")
        for message in prompt:
            print(f"{message.type}: {message.text}")
        print(f"--- {kind} turn {number} answer ---")
        print(answer)
        if isinstance(bot.memory, SummaryMemory):
            print(f"--- {kind} turn {number} summary ---")
            print(bot.memory.summary)


def main() -> None:
    chat = load_chat_model(temperature=0, seed=42, n_ctx=2048, max_tokens=48)
    memories = {"buffer": BufferMemory(), "window": WindowMemory(k=2), "summary": SummaryMemory()}
    for kind, messages in CONVERSATIONS:
        replay(kind, Chatbot(chat, memory=memories[kind]), messages)


if __name__ == "__main__":
    main()
