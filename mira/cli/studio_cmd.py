"""`mira studio`: serve Mira Studio (mira/studio) over one home; 127.0.0.1 unless --host, then with a token."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Annotated, Optional

import typer

from synth.errors import InputError
from synth.labels import reviewer_name
from .common import HomeOpt, console, store_for

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def studio(home: HomeOpt = None,
           port: Annotated[int, typer.Option("--port", help="port (0: any free one)")] = 8765,
           host: Annotated[str, typer.Option("--host", help="interface; any but 127.0.0.1 needs the token "
                                             "printed at start")] = "127.0.0.1",
           reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="name stored with your labels "
                                                           "(default: the OS user)")] = None,
           runs: Annotated[Optional[list[Path]], typer.Option("--runs", help="more folders to look for `mira eval "
                                                              "--out` results in (the home is always searched)")]
           = None) -> None:
    """Read, review and label the home's datasets in a browser (opens nothing by itself)."""
    try:
        import uvicorn

        from mira.studio.app import create_app
    except ImportError as e:
        raise InputError(f"mira studio needs its extra: pip install 'mira[studio]' ({e.name} is missing).") from None
    store = store_for(home)
    token = None if host in LOCAL_HOSTS else secrets.token_urlsafe(18)
    who = reviewer_name(reviewer)
    app = create_app(store.home, who, token, list(runs or []))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections made right after the URL is printed wait for the server
    except OSError as e:
        raise InputError(f"Cannot listen on {host}:{port}: {e.strerror}. Pick another --port (0: any free one).") \
            from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/" + (f"?token={token}" if token else "")
    console.print(f"Mira Studio on {store.home} as reviewer '{who}': {url}", highlight=False, soft_wrap=True)
    if token:
        console.print("Listening beyond this machine: every request needs the token in that URL.")
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
