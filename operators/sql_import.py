"""import.sql: a table or a read-only query from SQLite, PostgreSQL or MySQL/MariaDB.

Read through Spark's JDBC source with the JDBC drivers Debian packages
(libpostgresql-jdbc-java, libmariadb-java, libxerial-sqlite-jdbc-java); big tables are read in
parallel partitions of a numeric or date column.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.opapi import (
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    files_fingerprint,
    query_problem,
    spark_error_message,
)

_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
_DRIVERS = {
    "postgresql": (
        "org.postgresql.Driver",
        "libpostgresql-jdbc-java",
        "/usr/share/java/postgresql.jar",
    ),
    # The MariaDB driver with a jdbc:mysql: URL: Spark picks its MySQL dialect from that prefix
    # (backtick quoting); a jdbc:mariadb: URL falls to the generic dialect, which quotes
    # identifiers with double quotes that MySQL reads as string literals.
    "mysql": (
        "org.mariadb.jdbc.Driver",
        "libmariadb-java",
        "/usr/share/java/mariadb-java-client.jar",
    ),
    "sqlite": ("org.sqlite.JDBC", "libxerial-sqlite-jdbc-java", "/usr/share/java/sqlite-jdbc.jar"),
}
_QUOTE = {"postgresql": '"', "mysql": "`", "sqlite": '"'}
_DEFAULT_PORT = {"postgresql": 5432, "mysql": 3306}
# URL parts that carry a password (pgjdbc ?password=, MySQL ;password=, sslpassword, ...)
_SECRET_IN_URL = re.compile(r"(?i)(^|[?&;:/])(ssl)?(password|passwd|pwd|pass|secret|token)=")
# Every connection is opened read-only, a second guard beside the query check
# (engine/sqlguard.py). Driver properties, not Spark's sessionInitStatement: Spark's schema
# probe runs the query on a connection that never sees sessionInitStatement.
_READ_ONLY = {
    "postgresql": {"readOnly": "true", "readOnlyMode": "always"},
    # MariaDB and MySQL 5.7 call it tx_read_only; MySQL 8 only transaction_read_only
    "mysql": {"sessionVariables": "tx_read_only=1"},
    "sqlite": {"open_mode": "1"},  # SQLITE_OPEN_READONLY
}
_MYSQL8_READ_ONLY = {"sessionVariables": "transaction_read_only=1"}
_TABLE_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


@dataclass(frozen=True)
class Source:
    kind: str  # postgresql | mysql | sqlite
    jdbc_url: str
    display: str  # the URL without credentials, for messages
    user: str | None
    sqlite_path: Path | None = None


def parse_url(url: str, base: Path) -> Source:
    """A Seer database URL as a JDBC URL; raises ValueError with a sentence."""
    parts = urlsplit(url)
    kind = _SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise ValueError(
            f'"{url}" is not a database URL Seer reads; use sqlite:///file.db, '
            "postgresql://host:port/db or mysql://host:port/db."
        )
    if parts.password or _SECRET_IN_URL.search(url.split("://", 1)[-1]):
        raise ValueError(
            "The URL contains a password. Flows get shared: never store a password in one. "
            "Put it in an environment variable and name that variable in 'password_env'."
        )
    if kind == "sqlite":
        raw = url.split(":", 1)[1].removeprefix("//")
        raw = raw[1:] if raw.startswith("/") else raw  # sqlite:///rel.db, sqlite:////abs.db
        path = Path(raw) if Path(raw).is_absolute() else (base / raw).resolve()
        return Source(kind, f"jdbc:sqlite:{path}", f"sqlite:///{path}", None, path)
    if not parts.hostname or not parts.path.strip("/"):
        raise ValueError(
            f'"{url}" needs a host and a database name, e.g. {parts.scheme}://127.0.0.1/mydb.'
        )
    port = parts.port or _DEFAULT_PORT[kind]
    db = parts.path.lstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    display = f"{parts.scheme}://{parts.hostname}:{port}/{db}"
    return Source(
        kind, f"jdbc:{kind}://{parts.hostname}:{port}/{db}{query}", display, parts.username
    )


def quote_table(name: str, kind: str) -> str:
    """``schema.table`` as a quoted identifier of the source database: the name can never be
    read as SQL (``loans; DELETE FROM loans`` is just a table that does not exist)."""
    q = _QUOTE[kind]
    return ".".join(q + part.replace(q, q + q) + q for part in name.split("."))


def table_problem(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    parts = name.split(".")
    if len(parts) > 2 or not all(p.strip() for p in parts) or not _TABLE_NAME.fullmatch(name):
        return (
            f"The 'table' parameter of import.sql must be a table name or schema.table. Got "
            f"{name!r}; use 'query' for anything else."
        )
    return None


def source_kind(url: Any) -> str:
    scheme = url.split(":", 1)[0].lower() if isinstance(url, str) else ""
    return _SCHEMES.get(scheme, "postgresql")


class ImportSql(Operator):
    id = "import.sql"
    version = 1
    category = "Data"
    title = "Import from a database"
    description = (
        "Reads a table, or the result of a read-only query, from SQLite (a file), PostgreSQL or "
        "MySQL/MariaDB through JDBC. Credentials come from environment variables named in the "
        "flow — flows get shared, so never put a password in one. With a partition column, the "
        "rows are read in parallel ranges of that column. A database changes under you, so "
        "this node reruns every time unless 'static' is on."
    )
    outputs = (Port("out", "table", "The rows read."),)
    example_params = {"url": "postgresql://127.0.0.1:5432/sales", "table": "orders"}
    params = (
        Param(
            "url",
            "string",
            "sqlite:///file.db (relative to the flow's folder), postgresql://host:port/db or "
            "mysql://host:port/db (MariaDB too). A user name may be given as user@host; never a password.",
            required=True,
            min_length=1,
            widget="text",
        ),
        Param(
            "table",
            "string",
            "Table to read (schema.table where the database has schemas).",
            nullable=True,
            widget="text",
        ),
        Param(
            "query",
            "string",
            "A read-only SELECT query, instead of a table.",
            nullable=True,
            widget="code",
        ),
        Param(
            "user_env",
            "string",
            "Name of the environment variable that holds the user name.",
            nullable=True,
            widget="text",
        ),
        Param(
            "password_env",
            "string",
            "Name of the environment variable that holds the password.",
            nullable=True,
            widget="text",
        ),
        Param(
            "partition_column",
            "string",
            "A numeric, date or timestamp column to read big tables in parallel ranges of.",
            nullable=True,
            widget="text",
        ),
        Param(
            "partitions",
            "integer",
            "Number of parallel reads with a partition column.",
            default=4,
            minimum=1,
            maximum=256,
            widget="number",
        ),
        Param(
            "fetch_size",
            "integer",
            "Rows fetched per round trip.",
            default=10_000,
            minimum=1,
            maximum=1_000_000,
            widget="number",
        ),
        Param(
            "static",
            "boolean",
            "The source does not change: serve this node from the cache when its params are unchanged.",
            default=False,
            widget="checkbox",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        table, query = params.get("table"), params.get("query")
        if bool(table) == bool(query):
            out.append(
                ("table", "Set exactly one of the 'table' and 'query' parameters of import.sql.")
            )
        if query:
            dialect = source_kind(params.get("url"))
            problem = query_problem(query, "The 'query' parameter of import.sql", dialect=dialect)
            if problem:
                out.append(("query", problem))
        if table:
            problem = table_problem(table)
            if problem:
                out.append(("table", problem))
        try:
            parse_url(params["url"], Path.cwd())
        except ValueError as exc:
            out.append(("url", f"The 'url' parameter of import.sql is not usable: {exc}"))
        for key in ("user_env", "password_env"):
            name = params.get(key)
            if name and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                out.append(
                    (
                        key,
                        f"The '{key}' parameter of import.sql must name an environment variable, like DB_PASSWORD.",
                    )
                )
        return out

    def is_cacheable(self, params: Mapping[str, Any]) -> bool:
        return bool(params.get("static"))

    def resolve_params(self, params: dict[str, Any], base: Path) -> dict[str, Any]:
        url = params.get("url")
        if isinstance(url, str) and url.lower().startswith("sqlite:"):
            with contextlib.suppress(ValueError):  # a bad URL is reported by check_params
                params["url"] = parse_url(url, base).display  # sqlite:////absolute/path.db
        return params

    def local_paths(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        url = params.get("url")
        if isinstance(url, str) and url.lower().startswith("sqlite:"):
            with contextlib.suppress(ValueError):
                return [("url", str(parse_url(url, Path.cwd()).sqlite_path))]
        return []

    def fingerprint(self, params: Mapping[str, Any]) -> Any:
        url = params.get("url") or ""
        if url.lower().startswith("sqlite:"):
            # a static SQLite file is still re-read when the file changes
            src = parse_url(url, Path.cwd())
            return files_fingerprint(str(src.sqlite_path))
        return None

    def error_hint(self, message: str, params: Mapping[str, Any]) -> str | None:
        return _hint(message)

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        where = ctx.where
        src = parse_url(params["url"], ctx.flow_dir)
        _check_source(ctx, src, params)
        props = _connection_props(src, params, where)
        relation = (
            quote_table(params["table"], src.kind)
            if params.get("table")
            else f"({params['query'].strip().rstrip(';')}) seer_q"
        )
        try:
            try:
                df = _read(ctx, src, relation, props, params)
            except Exception as exc:
                if "unknown system variable 'tx_read_only'" not in str(exc).lower():
                    raise
                df = _read(ctx, src, relation, {**props, **_MYSQL8_READ_ONLY}, params)  # MySQL 8
        except Exception as exc:
            message = spark_error_message(exc).rstrip(".")
            hint = _hint(message) or ""
            raise OperatorError(
                f"{where} could not read from {src.display}: {message}. {hint}".strip()
            ) from exc
        if params.get("partition_column") and params["partition_column"] not in df.columns:
            raise OperatorError(
                f"The 'partition_column' parameter of {where} names \"{params['partition_column']}\", "
                f"which the source does not have. Columns: {', '.join(df.columns)}."
            )
        ctx.log(
            f"reading {'table ' + params['table'] if params.get('table') else 'a query'} from {src.display}"
        )
        return {"out": df}


def _check_source(ctx: RunContext, src: Any, params: Mapping[str, Any]) -> None:
    """The driver is installed, a SQLite file is inside the data roots and there, and the query
    (checked again right before the database sees it) or table name is allowed."""
    where = ctx.where
    _, package, jar = _DRIVERS[src.kind]
    if not Path(jar).exists():
        raise OperatorError(
            f"{where} needs the {src.kind} JDBC driver ({jar}). Install the Debian package "
            f"{package} and start Seer again."
        )
    if src.sqlite_path is not None:
        ctx.check_path(src.sqlite_path, f"The 'url' parameter of {where}")
    if src.sqlite_path is not None and not src.sqlite_path.is_file():
        raise OperatorError(
            f'{where} found no SQLite database at "{src.sqlite_path}". Check the url.'
        )
    if params.get("query"):
        problem = query_problem(
            params["query"], f"The 'query' parameter of {where}", dialect=src.kind
        )
        if problem:
            raise OperatorError(problem)
    elif problem := table_problem(params["table"]):
        raise OperatorError(problem)


def _connection_props(src: Any, params: Mapping[str, Any], where: str) -> dict[str, str]:
    """JDBC properties: driver, fetch size, read-only session, and the user and password from
    the environment variables the params name (never from the flow file)."""
    driver = _DRIVERS[src.kind][0]
    props = {"driver": driver, "fetchsize": str(params["fetch_size"])}
    props.update(_READ_ONLY[src.kind])
    user = src.user
    for key, field in (("user_env", "user"), ("password_env", "password")):
        name = params.get(key)
        if name:
            if name not in os.environ:
                raise OperatorError(
                    f"{where} reads the {field} from the environment variable {name}, which is "
                    f"not set. Set it before starting Seer (export {name}=...)."
                )
            props[field] = os.environ[name]
            if field == "user":
                user = os.environ[name]
    if user:
        props["user"] = user
    return props


def _read(
    ctx: RunContext, src: Any, relation: str, props: dict[str, str], params: Mapping[str, Any]
) -> Any:
    """The table as a Spark DataFrame; with a partition column, read in parallel ranges
    between its minimum and maximum."""
    reader = (
        ctx.spark.read.format("jdbc")
        .option("url", src.jdbc_url)
        .option("dbtable", relation)
        .options(**props)
    )
    part = params.get("partition_column")
    if not part:
        return reader.load()
    q = _QUOTE[src.kind]
    col = q + part.replace(q, q + q) + q
    bounds_sql = (
        f"(SELECT MIN({col}) AS lo, MAX({col}) AS hi, COUNT(*) AS n FROM {relation}) seer_b"
    )
    row = (
        ctx.spark.read.format("jdbc")
        .option("url", src.jdbc_url)
        .option("dbtable", bounds_sql)
        .options(**props)
        .load()
        .first()
    )
    if row["lo"] is not None and row["hi"] is not None and row["lo"] != row["hi"]:
        reader = (
            reader.option("partitionColumn", part)
            .option("lowerBound", str(row["lo"]))
            .option("upperBound", str(row["hi"]))
            .option("numPartitions", str(params["partitions"]))
        )
        ctx.log(f"reading {row['n']:,} rows in {params['partitions']} ranges of {part}")
    return reader.load()


def _hint(message: str) -> str | None:
    low = message.lower()
    if (
        "connection refused" in low
        or "could not connect" in low
        or "communications link failure" in low
    ):
        return "Check the host and port, and that the database server is running."
    if "password authentication failed" in low or "access denied" in low:
        return "Check the user and the password in the environment variables named by user_env/password_env."
    if "does not exist" in low or "doesn't exist" in low or "no such table" in low:
        return "Check the table name (and schema) or the query."
    if "syntax" in low:
        return "Check the SQL syntax of the query for this database."
    if "no suitable driver" in low:
        return "The JDBC driver is not on Spark's class path: install it and start Seer again."
    return None
