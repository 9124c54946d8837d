"""A small corpus with five clear themes, and an index of it built by ``Index.build``."""

from __future__ import annotations

import random
from itertools import combinations
from pathlib import Path

import pytest

from localchain.retrievers import Index, ParagraphChunker

THEMES = {
    "baking": [
        "Knead the bread dough until it is smooth and elastic.",
        "Bake the loaf in a hot oven for forty minutes.",
        "Mix the flour, sugar and butter into a soft dough.",
        "Let the yeast dough rise in a warm kitchen.",
        "Brush the pastry with egg before it goes in the oven.",
        "Sift the flour twice for a lighter sponge cake.",
        "Cool the cake on a rack before adding the icing.",
        "A sourdough starter needs flour and water every day.",
    ],
    "football": [
        "The striker scored a late goal to win the match.",
        "The referee showed a red card to the defender.",
        "The coach changed the team formation at half time.",
        "The league title was decided on the last day of the season.",
        "The goalkeeper saved a penalty in the final minute.",
        "Fans sang in the stadium as the team attacked.",
        "The midfielder passed the ball to the winger.",
        "The club signed a young forward before the season.",
    ],
    "space": [
        "The rocket launched the satellite into a low orbit.",
        "Astronauts docked with the space station after launch.",
        "The lunar lander touched down near the crater.",
        "Mission control tracked the spacecraft around the Moon.",
        "The probe sent images of Mars back to Earth.",
        "A booster stage returned to the launch pad.",
        "The telescope in orbit observed a distant galaxy.",
        "The crew capsule splashed down after the mission.",
    ],
    "gardening": [
        "Plant the tomato seedlings in rich garden soil.",
        "Water the vegetable beds early in the morning.",
        "Add compost to the soil before sowing the seeds.",
        "Prune the rose bushes in late winter.",
        "Mulch keeps weeds down and the soil moist.",
        "Sow carrot seeds in shallow rows in spring.",
        "Pick the ripe beans from the garden every few days.",
        "Earthworms make the garden soil richer.",
    ],
    "finance": [
        "The central bank raised interest rates again.",
        "Investors sold shares as the stock market fell.",
        "The company reported higher quarterly profits.",
        "Bond yields rose after the inflation report.",
        "The bank approved the mortgage loan at a fixed rate.",
        "Savings accounts pay little interest this year.",
        "The fund bought shares of technology companies.",
        "Inflation reduced the value of household savings.",
    ],
}
PER_THEME = 24


def theme_corpus(per_theme: int = PER_THEME, seed: int = 7) -> list[tuple[str, str]]:
    """(theme, text) pairs: each text is two distinct sentences of one theme."""
    rng = random.Random(seed)
    out = []
    for theme, sentences in THEMES.items():
        pairs = list(combinations(sentences, 2))
        rng.shuffle(pairs)
        out.extend((theme, f"{a} {b}") for a, b in pairs[:per_theme])
    return out


@pytest.fixture(scope="session")
def theme_texts() -> list[tuple[str, str]]:
    return theme_corpus()


@pytest.fixture(scope="session")
def theme_store(tmp_path_factory: pytest.TempPathFactory, theme_texts) -> Path:
    """The corpus, a file per text, indexed whole (one chunk per file) by ``Index.build``."""
    folder = tmp_path_factory.mktemp("themes")
    docs = folder / "docs"
    docs.mkdir()
    for number, (theme, text) in enumerate(theme_texts):
        (docs / f"{theme}-{number:03d}.txt").write_text(text, encoding="utf-8")
    Index.build(docs, folder / "store", chunker=ParagraphChunker(), progress=False)
    return folder / "store"


@pytest.fixture(scope="session")
def theme_index(theme_store: Path) -> Index:
    return Index.open(theme_store)


def theme_of(source: str | None) -> str:
    """The theme a document's source file is named after."""
    assert source is not None
    return Path(source).name.split("-")[0]
