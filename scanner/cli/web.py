"""gapscan web: the local interview and sign-off pages, on 127.0.0.1 only (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, _exit_with, err, out

DEFAULT_PORT = 8765


def web(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)")]
    = DEFAULT_PORT,
    console_users: Annotated[Path | None, typer.Option(
        "--console-users", help="Serve the MSP console instead, behind a login (users file with scrypt hashes)")]
    = None,
    allow_host: Annotated[list[str] | None, typer.Option(
        "--allow-host", help="Console: a Host header to accept besides 127.0.0.1:PORT (the TLS proxy's name)")]
    = None,
) -> None:
    """Serve the interview worksheets and the owner's sign-off page on 127.0.0.1 (Ctrl-C stops);
    with --console-users, the MSP console (portfolio, clients, sensors) behind a login."""
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
            extra = frozenset(allow_host or ())
            origins = local_origins(bound) | {f"https://{h}" for h in extra}
            ctx = AppContext(store=store, framework=load_framework(), guide=load_guide(),
                             origins=origins, sealer=sealer, sealer_problem=problem)
            if console_users is not None:
                from scanner.web.console.auth import ConsoleLogin, load_users
                from scanner.web.console.pages import console_routes

                # Secure cookies whenever a TLS proxy's name is allowed; plain loopback use is http.
                login = ConsoleLogin(users=load_users(console_users), origins=origins, secure_cookies=bool(extra))
                app = create_app(ctx, login, local_hosts(bound) | extra, console_routes())
                err.print(f"gapscan web (MSP console): history {store.url}; open http://127.0.0.1:{bound}/ "
                          "(Ctrl-C stops the server)", highlight=False)
                try:
                    uvicorn_server(app).run(sockets=[sock])
                except KeyboardInterrupt:
                    pass
                finally:
                    sock.close()
                return EXIT_OK
            auth = LocalToken(port=bound)
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
