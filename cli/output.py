"""Tables on stdout: a rich table on a terminal, plain aligned columns otherwise.

Rich cuts a cell to fit the width it assumes when stdout is not a terminal (80 columns),
which turned a model path into "…/Smo…" in a pipe. Piped output is meant to be read by
programs, so there every value is printed whole.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["print_table"]


def print_table(rows: Sequence[Sequence[object]], headers: Sequence[str] | None = None) -> None:
    """Print ``rows`` (cells are shown with ``str``) as a table; the first column in bold
    on a terminal, where long cells wrap instead of being cut.

    Example:
        >>> print_table([("path", "/models/a.gguf"), ("n_ctx", 4096)])
        path   /models/a.gguf
        n_ctx  4096
    """
    cells = [[str(cell) for cell in row] for row in rows]
    if sys.stdout.isatty():
        _rich_table(cells, headers)
        return
    lines = ([list(headers)] if headers else []) + cells
    if not lines:
        return
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(lines[0]))]
    for line in lines:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + line[-1:]
        sys.stdout.write("  ".join(padded).rstrip() + "\n")
    sys.stdout.flush()


def _rich_table(cells: list[list[str]], headers: Sequence[str] | None) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=headers is not None, box=box.HEAVY_HEAD if headers else None)
    columns = headers or [""] * (len(cells[0]) if cells else 0)
    for number, name in enumerate(columns):
        table.add_column(name, style="bold" if number == 0 else None, overflow="fold")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))  # values are text, never rich markup
    Console(highlight=False).print(table)
