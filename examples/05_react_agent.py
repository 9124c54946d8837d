"""Agents: the book's ReAct loop on the embedded model, with a calculator and a web search.

Shows ``localchain.agents.ReActAgent`` streaming its trace (Thought / Action / Action Input /
Observation, then the Final Answer) for two questions:

* a plain calculation, "What is 17 * 23?", which the 135M model hands to the calculator;
* the book's MacBook question, search then calculate. The web search runs offline
  (``WebSearch(offline=True, fallback=...)``): it never touches the network and answers
  from a small local index (a ``BM25Retriever`` over four documents) instead. The script
  first calls the search tool directly, to show what that index returns.

Every step is decoded under a grammar, so it always parses, and the executor ends every
run. It does not make the 135M model clever: on the two-step MacBook question it does not
search, calculates with a number of its own and answers with that. Pass a larger GGUF as
``llm=`` for better answers.

Run from the repository root (any working directory works):

    .venv/bin/python examples/05_react_agent.py
"""

from __future__ import annotations

from langchain_core.documents import Document

from localchain import load_chat_model
from localchain.agents import ReActAgent
from localchain.agents.tools import Calculator, WebSearch
from localchain.retrievers import BM25Retriever

MACBOOK = (
    "What is the current price of a MacBook Pro in USD? "
    "How much would it cost in EUR if the exchange rate is 0.85 EUR for 1 USD?"
)

# The local index the offline web search answers from.
PAGES = [
    ("MacBook Pro price list", "shop/apple-prices.txt",
     "Apple MacBook Pro 14-inch: the current price of the MacBook Pro is 1599 USD."),
    ("iPad Air price list", "shop/apple-prices.txt",
     "Apple iPad Air 11-inch: the current price of the iPad Air is 599 USD."),
    ("Euro exchange rates", "bank/rates.txt",
     "Exchange rates change every day; banks add a fee to the market rate."),
    ("Eiffel Tower", "encyclopedia/eiffel-tower.txt",
     "The Eiffel Tower in Paris is 330 metres tall including its antennas."),
]  # fmt: skip


def run(agent: ReActAgent, question: str) -> None:
    """Stream one run and print its trace, then the result's key fields."""
    print(f"\nQuestion: {question}")
    for event in agent.stream({"input": question}):
        if "thought" in event:
            print(f"Thought: {event['thought']}")
        elif "action" in event:
            print(f"Action: {event['action'].tool}")
            print(f"Action Input: {event['action'].tool_input}")
        elif "observation" in event:
            print(f"Observation: {event['observation']}")
        elif "notice" in event:
            print(f"Notice: {event['notice']}")
        elif "output" in event:
            print(f"Final Answer: {event['output']}")
            print(f"stopped: {event['stopped_reason']}")
            print(f"parse failures: {event['parse_failures']}")
            print(f"tool calls: {len(event['intermediate_steps'])}")


def main() -> None:
    chat = load_chat_model(temperature=0, seed=42, n_ctx=2048, max_tokens=48)
    pages = [Document(text, metadata={"title": title, "source": source})
             for title, source, text in PAGES]  # fmt: skip
    search = WebSearch(offline=True, fallback=BM25Retriever.from_documents(pages, k=2))
    print("Search tool, called directly with 'MacBook Pro price':")
    print(search.invoke("MacBook Pro price"))

    agent = ReActAgent(llm=chat, tools=[Calculator(), search], max_iterations=6, max_seconds=300)
    run(agent, "What is 17 * 23?")
    run(agent, MACBOOK)


if __name__ == "__main__":
    main()
