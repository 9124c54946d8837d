"""The web chat in a real headless Chromium (Debian's chromium, driven by chromium-driver)
on the real embedded model: a typed message streams its answer, a reload shows the session
again, sessions switch and delete, and a screenshot shows the answer."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsers import require
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from localchain.memory import SQLiteSessionStore
from localchain.models import LlamaCppChat
from localchain.serve import create_app

pytestmark = pytest.mark.slow



@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, driver_path = require("chromium", "chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1200,900",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=driver_path)
    )
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Any, timeout: float = 120, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting for the page")


def texts(driver: Any, selector: str) -> list[str]:
    """The text of every element matching ``selector``, read in one step by the page (the
    lists are re-rendered as they update, which would leave Python holding stale ones)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", selector
    )


def test_the_web_chat_streams_keeps_sessions_across_reloads_and_shows_the_answer(
    browser: Any, serve: Any, chat: LlamaCppChat, tmp_path: Path
) -> None:
    store = SQLiteSessionStore(tmp_path / "web.db")
    url = serve(create_app(chat, store=store, memory="window"))
    browser.get(url)
    wait_for(lambda: "memory: window" in browser.find_element(By.ID, "info").text)
    question = "What is the capital of France?"
    box = browser.find_element(By.ID, "input")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)

    # While it streams, the answer grows piece by piece before it is marked done.
    seen: list[str] = []

    def finished() -> bool:
        text = texts(browser, "#messages li.assistant .content")
        if text and text[-1] and (not seen or seen[-1] != text[-1]):
            seen.append(text[-1])
        return bool(texts(browser, "#messages li.assistant.done"))

    wait_for(finished, step=0.02)
    [answer] = texts(browser, "#messages li.assistant .content")
    assert not texts(browser, "#messages li.error")
    assert answer.strip() and "Paris" in answer
    partial = [text for text in seen if text != answer]
    assert partial and all(answer.startswith(text.rstrip()) for text in partial), seen
    session = browser.execute_script("return localStorage.getItem('localchain.session')")
    assert store.history(session).messages[0].text == question

    # A reload shows the same session and its messages, from the server.
    browser.refresh()
    wait_for(lambda: texts(browser, "#messages li.assistant .content") == [answer])
    assert texts(browser, "#messages li.user .content") == [question]
    wait_for(lambda: session in texts(browser, "#sessions li button.open"))

    # The answer is on screen: its part of a screenshot is not blank.
    browser.save_screenshot(str(tmp_path / "chat.png"))
    assert (tmp_path / "chat.png").stat().st_size > 10_000
    element = browser.find_element(By.CSS_SELECTOR, "#messages li.assistant")
    assert element.is_displayed()
    shot = Image.open(io.BytesIO(element.screenshot_as_png)).convert("L")
    assert shot.width > 50 and shot.height > 10
    shades = shot.getcolors(maxcolors=256) or []
    assert len(shades) > 8, "the answer's area of the screenshot is blank"

    # A new chat starts empty; the old one is a click away; deleting removes it.
    browser.find_element(By.ID, "new-session").click()
    wait_for(lambda: not texts(browser, "#messages li"))
    fresh = browser.execute_script("return localStorage.getItem('localchain.session')")
    assert fresh != session
    click = "document.querySelector(arguments[0]).click()"
    browser.execute_script(click, f"#sessions li[data-session='{session}'] .open")
    wait_for(lambda: texts(browser, "#messages li.user .content") == [question])
    browser.execute_script(click, f"#sessions li[data-session='{session}'] .delete")
    wait_for(lambda: session not in texts(browser, "#sessions li button.open"))
    assert not store.exists(session)


def test_the_page_shows_rag_sources_and_agent_steps(browser: Any, serve: Any) -> None:
    from langchain_core.language_models import FakeListChatModel

    from localchain.agents import ReActAgent
    from localchain.agents.tools import Calculator
    from localchain.retrievers import BM25Retriever

    retriever = BM25Retriever.from_texts(
        ["The film grossed over $677 million worldwide.", "Nolan directed the film."],
        metadatas=[{"source": "/kb/box-office.txt"}, {"source": "/kb/crew.txt"}],
        k=2,
    )
    answers = FakeListChatModel(responses=["It grossed over $677 million. [1]"])
    browser.get(serve(create_app(answers, rag=retriever)))
    wait_for(lambda: "rag" in browser.find_element(By.ID, "info").text)
    browser.find_element(By.ID, "input").send_keys("How much did the film gross?", Keys.ENTER)
    wait_for(lambda: texts(browser, "#messages li.assistant.done"))
    [content] = texts(browser, "#messages li.assistant .content")
    assert content == "It grossed over $677 million. [1]"  # footnotes become the list below
    sources = texts(browser, "#messages li.assistant .sources li")
    assert sources[0].startswith("[1] * /kb/box-office.txt: The film grossed over $677 million")

    steps = FakeListChatModel(responses=[
        "Thought: multiply\nAction: calculator\nAction Input: 12 * 34",
        "Thought: done\nFinal Answer: 408"])  # fmt: skip
    agent = ReActAgent(llm=steps, tools=[Calculator()], max_iterations=3)
    browser.get(serve(create_app(agent)))
    wait_for(lambda: "agent" in browser.find_element(By.ID, "info").text)
    browser.find_element(By.ID, "input").send_keys("What is 12 * 34?", Keys.ENTER)
    wait_for(lambda: texts(browser, "#messages li.assistant.done"))
    assert texts(browser, "#messages li.assistant .steps li") == ["calculator(12 * 34) -> 408"]
    assert texts(browser, "#messages li.assistant .content") == ["408"]
