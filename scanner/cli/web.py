"""gapscan web: the local interview and sign-off pages, on 127.0.0.1 only (issue 18)."""

from __future__ import annotations

from typing import Annotated

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, _exit_with, err, out

DEFAULT_PORT = 8765


def web(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)")]
    = DEFAULT_PORT,
) -> None:
    """Serve the interview worksheets and the owner's sign-off page on 127.0.0.1 (Ctrl-C stops)."""
    from scanner.config.framework import load_framework
    from scanner.config.interview_guide import load_guide
    from scanner.errors import InputError
    from scanner.history.document_signing import load_document_signer
    from scanner.history.store import Store
    from scanner.web.app import create_app
    from scanner.web.auth import LocalToken
    from scanner.web.context import AppContext
    from scanner.web.server import bind_loopback, local_hosts, local_origins, uvicorn_server

    def work() -> int:
        with Store.open(db) as store:
            sealer, problem = None, None
            try:
                sealer = load_document_signer()
            except InputError as exc:
                problem = str(exc)
                err.print(f"note: sign-off is not possible until this is fixed: {problem}", highlight=False)
            sock = bind_loopback(port)
            bound = sock.getsockname()[1]
            auth = LocalToken(port=bound)
            ctx = AppContext(store=store, framework=load_framework(), guide=load_guide(),
                             origins=local_origins(bound), sealer=sealer, sealer_problem=problem)
            app = create_app(ctx, auth, local_hosts(bound))
            err.print(f"gapscan web: history {store.url}; open this address in a browser on this machine "
                      "(Ctrl-C stops the server):", highlight=False)
            out.print(auth.url(), highlight=False, soft_wrap=True)
            try:
                uvicorn_server(app).run(sockets=[sock])
            except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
                pass
            finally:
                sock.close()
            err.print("gapscan web stopped", highlight=False)
        return EXIT_OK

    _exit_with(work)
