"""Run the fenced code blocks of the user guide (README.md and docs/*.md) as written.

    .venv/bin/python scripts/doc_blocks.py                    # every page
    .venv/bin/python scripts/doc_blocks.py docs/chains.md -v  # one page, with each block's output
    .venv/bin/python scripts/doc_blocks.py --list             # what would run, and the annotations

What runs, page by page, in the order the blocks appear:

- ```python blocks: in one namespace per page, in this process (a block of ``>>>`` lines
  is a doctest: its printed output is compared too);
- ```bash, ```sh, ```shell blocks: each with ``bash`` under ``set -euo pipefail``;
- ```console blocks: the ``$ `` lines, as one bash script (the other lines are output).

Other fences (text, json, toml, no language) are shown output and are not run. Every page
runs in a fresh temporary folder that stands in for the repository root: the repository's
``data/`` folder is copied in and ``.venv`` links to the repository's, so ``data/...`` and
``.venv/bin/localchain`` work as they do at the root. Shell blocks get ``.venv/bin`` first on
PATH and stdin from /dev/null. No ``LOCALCHAIN_*`` variable of the machine leaks in,
configuration and sessions live in the temporary folder, and nothing reaches the network
(web search, OpenAI and Cohere clients see a dead proxy and behave as offline).

A block that cannot run as it stands says so in an HTML comment right before its fence
(several comments may stack):

    <!-- doc-check: skip - the reason -->           not run; the reason is reported
    <!-- doc-check: stdin "line 1\\nline 2\\n" -->   the shell block reads this (JSON string)
    <!-- doc-check: gguf models/other.gguf -->      a GGUF of the reader's: the embedded
                                                    model is linked at that relative path
    <!-- doc-check: server -->                      talks to an OpenAI-compatible server at
                                                    http://127.0.0.1:8000/v1: one serving the
                                                    embedded model is started and the block
                                                    is pointed at its port (127.0.0.1:8000,
                                                    localhost:8000 and --port 8000 are
                                                    replaced by the port actually used)
    <!-- doc-check: background -->                  a command that serves until stopped (the
                                                    server command itself): run in the
                                                    background on a free port, waited for,
                                                    used by the page's ``server`` blocks
    <!-- doc-check: root -->                        runs in the repository itself (make)
    <!-- doc-check: file NAME -->                   not run: written to NAME in the folder,
                                                    for later blocks to use
"""

from __future__ import annotations

import argparse
import contextlib
import doctest
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

__all__ = [
    "ROOT",
    "Block",
    "BlockResult",
    "DocCheckError",
    "Runner",
    "blocks",
    "pages",
    "run_page",
]

ROOT = Path(__file__).resolve().parents[1]
PYTHON = {"python", "py", "python3", "pycon"}
SHELL = {"bash", "sh", "shell"}
CONSOLE = {"console"}
SERVED = ("127.0.0.1:8000", "localhost:8000")
# Nothing reaches the network: web search (ddgs), OpenAI and Cohere clients go through a
# proxy on a closed port and fail at once, as offline; local servers are reached directly.
OFFLINE = {
    "DDGS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    "HF_HUB_OFFLINE": "1",
}
KINDS = {"skip", "stdin", "gguf", "server", "background", "root", "file"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_NOTE = re.compile(r"^\s*<!--\s*doc-check:\s*(?P<body>.*?)\s*-->\s*$")


class DocCheckError(ValueError):
    """A page's blocks or annotations cannot be read; the message names the page and line."""


@dataclass(frozen=True)
class Block:
    """One fenced block of a page, with the doc-check annotations written before it."""

    page: str
    number: int
    line: int
    language: str
    info: str
    code: str
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        """``python``, ``doctest``, ``shell``, ``console``, or None for shown output."""
        if self.language in PYTHON:
            return "doctest" if self.code.lstrip().startswith(">>>") else "python"
        if self.language in SHELL:
            return "shell"
        if self.language in CONSOLE:
            return "console"
        return None

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.code.splitlines() if line.strip()), "")

    @property
    def skip_reason(self) -> str | None:
        return self.notes.get("skip")

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    def script(self) -> str:
        """The shell text to run: the block itself, or a console block's ``$`` commands."""
        if self.kind != "console":
            return self.code
        commands: list[str] = []
        continued = False
        for line in self.code.splitlines():
            if continued or line.startswith("$ "):
                commands.append(line if continued else line[2:])
                continued = line.rstrip().endswith("\\")
        return "\n".join(commands) + "\n"


@dataclass
class BlockResult:
    block: Block
    status: str  # passed, failed, skipped, not run
    seconds: float = 0.0
    output: str = ""
    detail: str = ""


def pages(root: Path = ROOT) -> list[Path]:
    """README.md and docs/*.md (not docs/ subfolders, whose pages are generated)."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _parse_note(body: str, where: str) -> tuple[str, str]:
    kind, _, rest = body.partition(" ")
    rest = rest.strip()
    if kind not in KINDS:
        raise DocCheckError(
            f"{where}: unknown doc-check annotation {kind!r} (known: {sorted(KINDS)})"
        )
    if kind == "skip":
        reason = re.sub(r"^[-\u2013\u2014:]\s*", "", rest)
        if not reason:
            raise DocCheckError(f"{where}: 'doc-check: skip' needs a reason")
        return kind, reason
    if kind == "stdin":
        try:
            text = json.loads(rest)
        except ValueError:
            raise DocCheckError(
                f'{where}: write stdin as a JSON string: stdin "/exit\\n"'
            ) from None
        return kind, text
    if kind in ("gguf", "file") and (not rest or any(Path(p).is_absolute() for p in rest.split())):
        raise DocCheckError(f"{where}: 'doc-check: {kind}' needs relative paths")
    return kind, rest


def blocks(page: Path, root: Path = ROOT) -> list[Block]:
    """Every fenced block of a page, numbered from 1, with its annotations."""
    try:
        name = page.resolve().relative_to(root).as_posix()
    except ValueError:
        name = str(page)
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    notes: dict[str, str] = {}
    note_line = 0
    i = 0
    while i < len(lines):
        note = _NOTE.match(lines[i])
        if note:
            kind, value = _parse_note(note["body"], f"{name}:{i + 1}")
            notes[kind] = value
            note_line = i + 1
            i += 1
            continue
        opening = _FENCE.match(lines[i])
        if notes and not opening:
            raise DocCheckError(
                f"{name}:{note_line}: a doc-check annotation must come right before a fence"
            )
        if not opening:
            i += 1
            continue
        indent, fence, info = len(opening["indent"]), opening["fence"], opening["info"].strip()
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            text = lines[j]
            body.append(text[min(indent, len(text) - len(text.lstrip())) :])
            j += 1
        if j == len(lines):
            raise DocCheckError(f"{name}:{i + 1}: the fence is never closed")
        words = info.split()
        block = Block(
            name,
            len(found) + 1,
            i + 1,
            words[0].lower() if words else "",
            info,
            "\n".join(body) + "\n",
            notes,
        )
        if "skip" in words[1:] and "skip" not in notes:
            raise DocCheckError(f"{block.where}: '{info}' needs a 'doc-check: skip - reason' note")
        if set(notes) - {"file"} and block.kind is None:
            raise DocCheckError(
                f"{block.where}: annotations on a block that is not run ({info or 'no language'})"
            )
        found.append(block)
        notes = {}
        i = j + 1
    if notes:
        raise DocCheckError(
            f"{name}:{note_line}: a doc-check annotation must come right before a fence"
        )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with code {process.returncode} before answering {url}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answered {url} within {seconds:.0f} s") from None
            time.sleep(0.5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in a Python block that runs too long (main thread only)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the block ran longer than {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Captured(io.StringIO):
    """What a Python block prints (its stdout and stderr). A child process started with the
    block's ``sys.stderr`` (an MCP client starting its stdio server does) needs a file
    descriptor, which a StringIO lacks: it writes to the process's own stderr instead."""

    def fileno(self) -> int:
        return sys.__stderr__.fileno() if sys.__stderr__ is not None else 2


class Runner:
    """Runs pages; owns the llama.cpp server that ``server`` blocks use, started on demand.

    ``server_url`` (a URL, or a function returning one, called once when first needed)
    replaces the server this runner would start; the pytest fixture passes its own.
    """

    def __init__(
        self,
        *,
        server_url: str | Callable[[], str] | None = None,
        timeout: float = 600,
        keep_going: bool = True,
        echo: Callable[[BlockResult], None] | None = None,
    ) -> None:
        self.timeout = timeout
        self.keep_going = keep_going
        self.echo = echo
        self._server_url = server_url
        self._server: subprocess.Popen[bytes] | None = None

    def close(self) -> None:
        if self._server is not None:
            _stop(self._server)
            self._server = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def server(self) -> str:
        """The base URL (``http://127.0.0.1:PORT/v1``) of a server with the embedded model."""
        if callable(self._server_url):
            self._server_url = self._server_url()
        if self._server_url is None:
            from localchain.models import embedded_model_path

            port = _free_port()
            self._server = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()),
                 "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                 "--model_alias", "smollm2"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}/v1"
            _wait_for(f"{url}/models", self._server)
            self._server_url = url
        return self._server_url

    def run_page(
        self,
        page: Path,
        *,
        python: bool | str = True,
        only: Sequence[int] | None = None,
        workdir: Path | None = None,
    ) -> list[BlockResult]:
        """Run a page's blocks in order. ``python=False`` (or the name of the test that runs
        them) leaves its Python blocks out; ``only`` picks block numbers."""
        with contextlib.ExitStack() as stack:
            if workdir is None:
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="doc-")))
            return _PageRun(self, page, workdir, stack).run(python, only)


class _PageRun:
    def __init__(
        self, runner: Runner, page: Path, workdir: Path, stack: contextlib.ExitStack
    ) -> None:
        self.runner, self.page, self.workdir = runner, page, workdir
        shutil.copytree(ROOT / "data", workdir / "data", dirs_exist_ok=True)
        if not (workdir / ".venv").exists():
            (workdir / ".venv").symlink_to(ROOT / ".venv")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
        self.env.update(
            XDG_CONFIG_HOME=str(workdir / ".xdg" / "config"),
            XDG_DATA_HOME=str(workdir / ".xdg" / "data"),
            PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            **OFFLINE,
        )
        self.module = types.ModuleType("doc_page")
        self.module.__file__ = str(workdir / "doc_page.py")
        self.page_server: str | None = None
        stack.callback(self._stop_background)
        self.background: list[subprocess.Popen[bytes]] = []

    def _stop_background(self) -> None:
        for process in self.background:
            _stop(process)

    def run(self, python: bool | str, only: Sequence[int] | None) -> list[BlockResult]:
        results: list[BlockResult] = []
        failed = False
        for block in blocks(self.page):
            runs = block.kind is not None or "file" in block.notes
            if not runs or (only is not None and block.number not in only):
                continue
            if block.skip_reason is not None:
                result = BlockResult(block, "skipped", detail=block.skip_reason)
            elif "file" in block.notes:
                target = self.workdir / block.notes["file"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code, encoding="utf-8")
                result = BlockResult(block, "passed", detail=f"written to {block.notes['file']}")
            elif block.kind in ("python", "doctest") and python is not True:
                result = BlockResult(block, "not run", detail=f"run by {python or 'another test'}")
            elif failed and not self.runner.keep_going:
                result = BlockResult(block, "not run", detail="an earlier block failed")
            else:
                result = self._run(block)
            failed = failed or result.status == "failed"
            results.append(result)
            if self.runner.echo:
                self.runner.echo(result)
        return results

    def _prepare(self, block: Block) -> str:
        from localchain.models import embedded_model_path

        for name in block.notes.get("gguf", "").split():
            link = self.workdir / name
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(embedded_model_path())
        code = block.code if block.kind != "console" else block.script()
        served = None
        if "background" in block.notes:
            self.page_server = served = f"127.0.0.1:{_free_port()}"
        elif "server" in block.notes:
            served = self.page_server or self.runner.server().split("//", 1)[1].split("/", 1)[0]
        if served:
            for address in SERVED:
                code = code.replace(address, served)
            code = re.sub(r"--port(\s+|=)8000\b", rf"--port\g<1>{served.rsplit(':', 1)[1]}", code)
        return code

    def _run(self, block: Block) -> BlockResult:
        started = time.monotonic()
        try:
            code = self._prepare(block)
            if block.kind == "python":
                status, output, detail = self._python(block, code)
            elif block.kind == "doctest":
                status, output, detail = self._doctest(block, code)
            elif "background" in block.notes:
                status, output, detail = self._background(block, code)
            else:
                status, output, detail = self._shell(block, code)
        except Exception as error:  # noqa: BLE001 - a set-up failure is the block's failure
            status, output, detail = "failed", "", f"{type(error).__name__}: {error}"
        return BlockResult(block, status, time.monotonic() - started, output, detail)

    @contextlib.contextmanager
    def _inside(self) -> Iterator[None]:
        """The page's folder, environment and module, for as long as one block runs."""
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        saved_module = sys.modules.get("doc_page")
        os.environ.clear()
        os.environ.update(self.env)
        os.chdir(self.workdir)
        sys.modules["doc_page"] = self.module
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                yield
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            if saved_module is None:
                sys.modules.pop("doc_page", None)
            else:
                sys.modules["doc_page"] = saved_module

    def _python(self, block: Block, code: str) -> tuple[str, str, str]:
        captured = _Captured()
        compiled = compile(code, block.where, "exec")
        try:
            with (
                self._inside(),
                contextlib.redirect_stdout(captured),
                contextlib.redirect_stderr(captured),
                _alarm(self.runner.timeout),
            ):
                exec(compiled, self.module.__dict__)  # noqa: S102 - running the docs is the point
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            frames = traceback.extract_tb(error.__traceback__)
            ours = [f for f in frames if f.filename == block.where] or frames[-1:]
            where = f"line {block.line + (ours[-1].lineno or 0)}" if ours else "?"
            return (
                "failed",
                captured.getvalue(),
                (
                    f"{type(error).__name__}: {error} (at {block.page} {where})\n"
                    + "".join(traceback.format_exception(error)[-12:])
                ),
            )
        return "passed", captured.getvalue(), ""

    def _doctest(self, block: Block, code: str) -> tuple[str, str, str]:
        test = doctest.DocTestParser().get_doctest(
            code, self.module.__dict__, block.where, str(self.page), block.line
        )
        report = io.StringIO()
        runner = doctest.DocTestRunner(
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
        )
        with self._inside(), _alarm(self.runner.timeout):
            outcome = runner.run(test, out=report.write, clear_globs=False)
        if outcome.failed:
            return "failed", "", report.getvalue()
        return "passed", "", ""

    def _shell(self, block: Block, code: str) -> tuple[str, str, str]:
        stdin = block.notes.get("stdin")
        cwd = ROOT if "root" in block.notes else self.workdir
        try:
            done = subprocess.run(
                ["bash", "-c", "set -euo pipefail\n" + code],
                check=False,
                cwd=cwd,
                env=self.env,
                input=stdin if stdin is not None else None,
                stdin=subprocess.DEVNULL if stdin is None else None,
                capture_output=True,
                text=True,
                timeout=self.runner.timeout,
            )
        except subprocess.TimeoutExpired as error:
            out = (
                (error.stdout or b"").decode(errors="replace")
                if isinstance(error.stdout, bytes)
                else (error.stdout or "")
            )
            return "failed", out, f"ran longer than {self.runner.timeout:.0f} s"
        output = done.stdout + (f"\n[stderr]\n{done.stderr}" if done.stderr.strip() else "")
        if done.returncode != 0:
            return "failed", output, f"exit code {done.returncode}\n{done.stderr[-3000:]}"
        return "passed", output, ""

    def _background(self, block: Block, code: str) -> tuple[str, str, str]:
        log = self.workdir / f".background-{block.number}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", "set -euo pipefail\n" + code],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append(process)
        try:
            _wait_for(f"http://{self.page_server}/v1/models", process)
        except RuntimeError as error:
            return "failed", log.read_text(errors="replace")[-3000:], str(error)
        return "passed", "", f"serving on {self.page_server} until the page is done"


def run_page(page: Path, **options: object) -> list[BlockResult]:
    """Run one page with a runner of its own (see ``Runner.run_page`` for the options)."""
    with Runner() as runner:
        return runner.run_page(page, **options)  # type: ignore[arg-type]


def _echo(verbose: bool) -> Callable[[BlockResult], None]:
    def echo(result: BlockResult) -> None:
        block = result.block
        head = f"{result.status.upper():8} {block.page} #{block.number} ({block.kind}, line {block.line})"
        if result.status in ("passed", "failed"):
            head += f" {result.seconds:.1f}s"
        if result.status in ("skipped", "not run") or (result.detail and result.status == "passed"):
            head += f": {result.detail}"
        print(head, flush=True)
        if result.status == "failed" or (verbose and result.output.strip()):
            text = result.output.rstrip()
            if result.status == "failed":
                text = (text[-2000:] + "\n" if text else "") + result.detail.rstrip()
            print("    " + text.replace("\n", "\n    "), flush=True)

    return echo


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", type=Path, help="pages to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the blocks; run nothing")
    parser.add_argument(
        "--only", type=int, nargs="+", metavar="N", help="run only these block numbers"
    )
    parser.add_argument("--no-python", action="store_true", help="leave the Python blocks out")
    parser.add_argument(
        "-x", "--exitfirst", action="store_true", help="stop a page at its first failure"
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds per block (default 600)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every block's output")
    args = parser.parse_args(argv)
    chosen = [p.resolve() for p in args.pages] or pages()
    if args.list:
        for page in chosen:
            for block in blocks(page):
                notes = "; ".join(f"{k} {v!r}" if v else k for k, v in block.notes.items())
                print(
                    f"{block.page} #{block.number} line {block.line} {block.kind or '-':8} "
                    f"{block.first_line[:60]}" + (f"   [{notes}]" if notes else "")
                )
        return 0
    totals = {"passed": 0, "failed": 0, "skipped": 0, "not run": 0}
    with Runner(
        timeout=args.timeout, keep_going=not args.exitfirst, echo=_echo(args.verbose)
    ) as runner:
        for page in chosen:
            started = time.monotonic()
            results = runner.run_page(page, python=not args.no_python, only=args.only)
            counts = {s: sum(r.status == s for r in results) for s in totals}
            for status, n in counts.items():
                totals[status] += n
            print(
                f"== {page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}: "
                + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
                + f" in {time.monotonic() - started:.1f}s\n",
                flush=True,
            )
    print("total: " + ", ".join(f"{n} {s}" for s, n in totals.items()))
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DocCheckError as error:
        sys.exit(f"doc_blocks: {error}")
