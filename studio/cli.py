"""`seer studio`: the studio's command (the ``seer.commands`` entry point ``studio``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from seer_cli.common import add_data_root


def cmd_studio(args: argparse.Namespace) -> int:
    from studio.server import serve

    return serve(
        host=args.host,
        port=args.port,
        workspace=args.workspace,
        master=args.master,
        open_browser=not args.no_browser,
        serve_port=args.serve_port,
        allowed_hosts=tuple(args.allowed_host),
        trusted_proxy=args.trusted_proxy,
        data_roots=tuple(args.data_root),
        scheduler=not args.no_scheduler,
    )


def add_commands(sub: Any) -> None:
    st = sub.add_parser("studio", help="start the studio (the flow editor in the browser)")
    st.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    st.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    st.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    st.add_argument(
        "--master", help="Spark master URL for runs (default local[*] or $SEER_SPARK_MASTER)"
    )
    st.add_argument(
        "--serve-port",
        type=int,
        default=8600,
        help="port of the scoring service it starts or finds (default 8600)",
    )
    st.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    st.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not check watched models (alerts, retraining schedules) while the studio runs",
    )
    st.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name users reach the studio by (e.g. behind a proxy); repeatable",
    )
    st.add_argument(
        "--trusted-proxy",
        metavar="ADDRESS",
        help="the reverse proxy's address: its X-Forwarded-Proto/-Host/-For headers are "
        "believed (https detection, client addresses); nobody else's are",
    )
    add_data_root(st)
    st.set_defaults(func=cmd_studio)


def main(argv: list[str] | None = None) -> int:
    """`python -m studio.cli ...`: the whole `seer` command line."""
    from seer_cli.main import main as seer_main

    return seer_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
