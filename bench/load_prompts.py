"""What the load benchmarks (bench/batching.py, bench/serve_load.py) share: the 20 short chat
prompts every run answers, and the percentile they report."""

from __future__ import annotations

PROMPTS = [
    "What is the capital of France?", "Name three colors.", "What is 12 times 12?",
    "Say hello in Spanish.", "What is the boiling point of water?", "Name a planet.",
    "What day comes after Monday?", "Give me a synonym for happy.", "What is a cat?",
    "How many legs does a spider have?", "Name a fruit that is yellow.",
    "What is the opposite of cold?", "Who wrote Romeo and Juliet?", "What is 7 plus 8?",
    "Name an ocean.", "What color is the sky?", "What is ice made of?",
    "Name a musical instrument.", "What do bees make?", "How many days are in a week?",
]  # fmt: skip


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of ``values``, rounded; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 4)
