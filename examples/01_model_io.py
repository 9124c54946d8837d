"""Model I/O: the embedded GGUF through LangChain, chat templates, structured output.

Shows the book's first steps on the local model:

* load the embedded SmolLM2-135M-Instruct GGUF with ``load_chat_model`` and ask a question
  (the chat template stored in the GGUF is applied for you);
* the same question with a chat template written by hand: a completion model
  (``load_llm``) that sends the prompt text exactly as written, and a Jinja template of
  your own passed as ``chat_template``;
* structured output: ``with_structured_output`` with a pydantic model, decoded under a
  grammar so the answer always validates.

Run from the repository root (any working directory works):

    .venv/bin/python examples/01_model_io.py
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage
from langchain_core.prompts import PromptTemplate
from pydantic import BaseModel

from localchain import load_chat_model, load_llm
from localchain.models import embedded_model_path

QUESTION = "What is the capital of France? Answer with one word."

# The ChatML format SmolLM2 was trained on, written out by hand.
CHATML = "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
# A format of our own, as a Jinja chat template.
JINJA = "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}### assistant:"


class Person(BaseModel):
    """The shape the model's answer must take."""

    name: str
    age: int


def main() -> None:
    settings = {"temperature": 0, "seed": 42, "n_ctx": 2048, "max_tokens": 48}

    chat = load_chat_model(**settings)
    print("model file:", embedded_model_path().name)
    print("chat template:", chat.template.name)
    print("answer:", chat.invoke(QUESTION).content)

    llm = load_llm(**settings)
    hand_written = PromptTemplate.from_template(CHATML) | llm
    print("hand-written template answer:", hand_written.invoke({"question": QUESTION}).strip())

    custom = load_chat_model(chat_template=JINJA, **settings)
    print("custom template:", custom.template.name)
    print("custom template prompt:", repr(custom.render([HumanMessage(QUESTION)])))

    extract = chat.with_structured_output(Person)
    person = extract.invoke("Extract the person: Maarten is 33 years old.")
    print("structured output type:", type(person).__name__)
    print("structured output:", person.model_dump_json())


if __name__ == "__main__":
    main()
