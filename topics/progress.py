"""Progress of a topic run on stderr: rich bars on a terminal, plain lines in a log or a pipe.

Fitting (UMAP, HDBSCAN, c-TF-IDF) has no steps to count from outside BERTopic, so it shows a
running bar with the elapsed time; labelling counts topics.

Example:
    >>> with TopicProgress(False) as progress:       # False: nothing is shown
    ...     progress.start("Labelling topics", total=2)
    ...     progress.advance("wing flutter")
    ...     progress.advance("heat transfer")
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, Literal

__all__ = ["ProgressMode", "TopicProgress"]

ProgressMode = bool | Literal["bars", "lines"] | None
"""``True``/``None``: bars on a terminal, else lines; ``"bars"``; ``"lines"``; ``False``:
nothing."""


class TopicProgress:
    """Bars (rich) or lines on stderr for the phases of a run.

    Example:
        >>> with TopicProgress("lines") as progress:  # doctest: +SKIP
        ...     progress.start("Fitting topics", total=None, detail="1,400 documents")
    """

    def __init__(self, mode: ProgressMode = None) -> None:
        if mode is True or mode is None:
            mode = "bars" if sys.stderr.isatty() else "lines"
        self.mode: str | None = mode or None
        self.started = time.perf_counter()
        self._bars: Any = None
        self._task: Any = None
        self._name = ""
        self._done = 0
        self._total: int | None = None

    def __enter__(self) -> TopicProgress:
        if self.mode == "bars":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bars.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def start(self, name: str, total: int | None, detail: str = "") -> None:
        """A new phase of ``total`` steps (``None``: not counted, a running bar)."""
        self._name, self._done, self._total = name, 0, total
        if self._bars is not None:
            if self._task is not None:
                self._bars.update(self._task, visible=False)
            self._task = self._bars.add_task(name, total=total)
        elif self.mode == "lines":
            self._line(f"{name}{': ' + detail if detail else ''}")

    def advance(self, what: str = "") -> None:
        """One step of the phase done (``what``: shown in lines mode)."""
        self._done += 1
        if self._bars is not None:
            self._bars.advance(self._task)
        elif self.mode == "lines":
            shown = f" ({what})" if what else ""
            self._line(f"{self._name} {self._done}/{self._total}{shown}")

    def finish(self, detail: str) -> None:
        """The phase ended; ``detail`` says with what (lines mode)."""
        if self._bars is not None and self._task is not None:
            self._bars.update(self._task, total=1, completed=1)
        elif self.mode == "lines":
            self._line(f"{self._name}: {detail}")

    def _line(self, text: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"[topics {elapsed:6.1f} s] {text}", file=sys.stderr, flush=True)
