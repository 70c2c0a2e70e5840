"""`cg-dashboard`: the study dashboards of one audience, served by Streamlit on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dashboard.published import AUDIENCE_PATTERN, default_publish_dir, open_view

APP = Path(__file__).resolve().parent / "app.py"
# one default port per kind of audience, so the sponsor's, the governance forum's and a
# CRO's dashboards can run side by side (the dbt exposures link these)
DEFAULT_PORTS = {"sponsor": 8501, "governance": 8502, "cro": 8503}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cg-dashboard",
        description=(
            "Serve the study dashboards of one audience on http://127.0.0.1:<port>. It opens only that "
            "audience's published DuckDB file, read-only, and follows each new build the pipeline publishes."
        ),
    )
    parser.add_argument(
        "--audience", required=True,
        help="sponsor, governance or cro-<id> (the name of a published view, e.g. cro-acme)",
    )
    parser.add_argument(
        "--port", type=int, default=None,
        help="port on 127.0.0.1 (default 8501 for sponsor, 8502 for governance, 8503 for a CRO)",
    )
    parser.add_argument(
        "--publish-dir", type=Path, default=None,
        help="folder of the published views (default: $CG_PUBLISH_DIR, else data/published)",
    )
    return parser.parse_args(argv)


def warm_up(publish_dir: Path, audience: str) -> None:
    """What the first page view would otherwise wait for, done before the server answers:
    importing pandas and Altair, declaring the charts, opening the published view and
    reading what the first page shows with the default filters (the server runs in this
    process, so the app finds it all done and the query results kept)."""
    import dashboard.pages  # noqa: F401  (declares its charts when imported)
    from dashboard import queries

    build = open_view(publish_dir, audience).current()
    try:
        build.build()
        if audience != "governance":
            study_ids = queries.studies(build)["study_id"]
            queries.countries(build, study_ids.iloc[0] if len(study_ids) else None)
            queries.portfolio(build, queries.Filters(perspective=queries.default_perspective(audience)))
        else:
            queries.senders(build)
    finally:
        build.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    publish_dir = (args.publish_dir or default_publish_dir()).resolve()
    if not AUDIENCE_PATTERN.match(args.audience):
        sys.exit(f"cg-dashboard: --audience {args.audience!r} is not sponsor, governance or cro-<id>")
    port = args.port or DEFAULT_PORTS[args.audience.split("-")[0]]
    database = publish_dir / f"{args.audience}.duckdb"
    if not database.exists():
        available = sorted(path.stem for path in publish_dir.glob("*.duckdb"))
        sys.exit(
            f"cg-dashboard: no published view {database}. Published here: {', '.join(available) or 'none'}; "
            "run `make demo` first, or pass --publish-dir"
        )
    os.environ["CG_PUBLISH_DIR"] = str(publish_dir)
    os.environ["CG_DASHBOARD_AUDIENCE"] = args.audience
    warm_up(publish_dir, args.audience)
    print(f"Dashboard of {args.audience} ({database}) on http://127.0.0.1:{port}", flush=True)
    from streamlit.web import cli as streamlit_cli

    sys.argv = [
        "streamlit", "run", str(APP),
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
    ]
    sys.exit(streamlit_cli.main())
