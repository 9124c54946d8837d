"""`localchain serve`: a chatbot, a RAG chain or the agent behind an OpenAI-compatible API.

The app is :func:`localchain.serve.create_app`; this command picks what answers, opens the
session store and starts uvicorn. It binds 127.0.0.1 unless ``--host`` says otherwise, and
on SIGTERM or Ctrl-C stops taking requests, lets running answers finish for
``--grace`` seconds, then cancels the rest (a cancelled turn is not stored: sessions stay
whole), and exits as the signal's default action says (SIGTERM: status 143).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from localchain.cli.chat import HistoryTokensOpt, MemoryKind, SessionsFileOpt, WindowKOpt
from localchain.cli.options import ModelOptions, SystemOpt, check_text, with_model_options
from localchain.cli.stores import ModeChoice

__all__ = ["serve"]


@with_model_options
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")
    ] = 8000,
    rag: Annotated[
        str | None,
        typer.Option("--rag", help="Answer from this index (`localchain index`), with citations."),
    ] = None,
    rag_mode: Annotated[
        ModeChoice, typer.Option("--rag-mode", help="Search method for --rag.")
    ] = ModeChoice.hybrid,
    agent: Annotated[
        bool, typer.Option("--agent", help="Answer with the ReAct agent and its tools.")
    ] = False,
    tools: Annotated[
        str, typer.Option("--tools", help="Tools of --agent: calculator, web_search.")
    ] = "calculator,web_search",
    memory: Annotated[
        MemoryKind, typer.Option("--memory", help="What a session's model sees of it.")
    ] = MemoryKind.buffer,
    k: WindowKOpt = 2,
    history_tokens: HistoryTokensOpt = 512,
    sessions_file: SessionsFileOpt = None,
    system: SystemOpt = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="LOCALCHAIN_API_KEY",
            show_envvar=True,
            help="Require Authorization: Bearer <key> on the API.",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="Origin allowed to call the API from a browser (repeat for more; default: none).",
        ),
    ] = None,
    max_queue: Annotated[
        int,
        typer.Option(
            "--max-queue", min=0, help="Requests that may wait for the model; more get 429."
        ),
    ] = 8,
    max_request_tokens: Annotated[
        int,
        typer.Option(
            "--max-request-tokens", min=1, help="Largest max_tokens a request may ask for."
        ),
    ] = 1024,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="Largest request body.")
    ] = 1_000_000,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds a request may take, queue included.")
    ] = 300.0,
    grace: Annotated[
        float,
        typer.Option("--grace", min=0, help="Seconds running answers get to finish on shutdown."),
    ] = 10.0,
    no_page: Annotated[
        bool, typer.Option("--no-page", help="Serve the API only, without the web chat at /.")
    ] = False,
    model_options: ModelOptions = ModelOptions(),
) -> None:
    """Serve the chat model (or --rag DIR, or --agent) over an OpenAI-compatible API, with
    sessions and a web chat at /."""
    if rag is not None and agent:
        raise typer.BadParameter("give --rag or --agent, not both")
    if system is not None:
        check_text(system, "--system")
    if api_key is not None and not api_key.strip():
        raise typer.BadParameter("the API key is empty", param_hint="--api-key")
    import uvicorn

    from localchain.memory import SQLiteSessionStore
    from localchain.models.registry import load_chat_model
    from localchain.serve import MemorySpec, ServeLimits, create_app

    store = SQLiteSessionStore(sessions_file)
    store.sessions()  # a file that is not a session database fails now, not per request
    settings = model_options.settings()
    llm = load_chat_model(settings=settings)
    target: object = llm
    retriever = None
    if rag is not None:
        from localchain.cli.stores import open_store_retriever

        retriever = open_store_retriever(rag, rag_mode, llm=llm)
    elif agent:
        from localchain.agents import ReActAgent
        from localchain.cli.agent import tools_from_names

        target = ReActAgent(llm=llm, tools=tools_from_names(tools))
    app = create_app(
        target,
        rag=retriever,
        store=store,
        memory=MemorySpec(kind=memory.value, k=k, max_tokens=history_tokens),
        system_prompt=system,
        api_key=api_key,
        cors_origins=cors_origin or (),
        limits=ServeLimits(
            max_queue=max_queue,
            max_tokens=max_request_tokens,
            max_body_bytes=max_body_bytes,
            timeout_s=timeout,
        ),
        page=not no_page,
    )
    mode = "rag" if rag else "agent" if agent else "chat"
    model_id = app.state.localchain.backend.model_id
    auth = ", API key required" if api_key else ""
    print(
        f"localchain serve: {mode} on http://{host}:{port} (model {model_id}, memory "
        f"{memory.value}, sessions {store.path}{auth})",
        file=sys.stderr,
        flush=True,
    )
    server_class = _server_class()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=os.environ.get("LOCALCHAIN_SERVE_LOG", "warning"),
        timeout_graceful_shutdown=grace,
        access_log=False,
    )
    server_class(config).run()


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, saying when it starts to stop. After a graceful stop uvicorn
        raises the signal again, so the process ends as the signal's default says (SIGTERM:
        exit status 143 / -15; Ctrl-C: "interrupted", 130)."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            if not self.should_exit:
                print(
                    "localchain serve: stopping; running answers get --grace seconds",
                    file=sys.stderr,
                    flush=True,
                )
            super().handle_exit(sig, frame)

    return Server
