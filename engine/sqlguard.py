"""SQL in flows is data: a read-only query over the node's inputs, checked before it runs.

Flows get shared, so SQL written in one (``transform.sql`` queries, filter and rule
expressions, ``import.sql`` queries) must not be able to run commands, reach files or change
anything. Every such text is parsed with sqlglot and refused, with a sentence naming what was
refused, when it is not one plain query (or expression) or when it uses:

- statements other than a query: DDL, DML, ``SET``, ``ADD JAR``, ``CACHE``, scripts, ...;
- ``SELECT TRANSFORM ... USING 'command'`` (Spark runs the command as the Seer user);
- reflection (``reflect``, ``java_method``, ``try_reflect``) and XML parsers (``xpath*``,
  ``from_xml``), and ``IDENTIFIER(...)`` (a table name computed from a string);
- tables other than the node's inputs: qualified names such as ``csv.`/etc/passwd```,
  ``parquet.`path```, ``db.table`` or ``global_temp.view``;
- for an external database: ``SELECT ... INTO``, locking clauses and functions that read
  files, sleep, take locks or change state (``pg_read_file``, ``lo_import``, ``LOAD_FILE``,
  ``nextval``, ...).

The same checks run when a flow is validated and again right before the SQL reaches Spark or
the database; `engine.spark` hardens the session too (no SQL on files, no SQL scripting), and
`check_plan` looks at Spark's analysed plan as a last line.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# sqlglot logs a warning for every statement it reads as a plain command; those are refused
logging.getLogger("sqlglot").setLevel(logging.ERROR)

#: Spark SQL functions a flow may not call.
SPARK_DENIED_FUNCTIONS = frozenset(
    {
        "reflect",
        "java_method",
        "try_reflect",
        "identifier",
        "xpath",
        "xpath_boolean",
        "xpath_double",
        "xpath_float",
        "xpath_int",
        "xpath_long",
        "xpath_number",
        "xpath_short",
        "xpath_string",
        "from_xml",
        "schema_of_xml",
        "read_files",
    }
)
#: Functions of the source databases (PostgreSQL, MySQL/MariaDB, SQLite) refused in import.sql.
DB_DENIED_FUNCTIONS = frozenset(
    {
        # PostgreSQL: files, large objects, other connections, server control, state
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_notify",
        "set_config",
        "nextval",
        "setval",
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_send_query",
        # MySQL / MariaDB
        "load_file",
        "sleep",
        "benchmark",
        "get_lock",
        "release_lock",
        "release_all_locks",
        "master_pos_wait",
        "source_pos_wait",
        "sys_exec",
        "sys_eval",
        # SQLite
        "load_extension",
        "readfile",
        "writefile",
        "fts3_tokenizer",
        "edit",
    }
)
_DB_DENIED_PREFIXES = ("lo_", "pg_advisory", "pg_ls_", "pg_read", "pg_file", "dblink")
_DB_DENIED_PREFIXES += ("pg_create_", "pg_drop_", "pg_replication_", "pg_logical_", "pg_switch_")

# Statements and clauses that are not part of a read-only query, by sqlglot class name
# (looked up by name so that a class missing from one sqlglot version is simply skipped).
_REFUSED_NODES = {
    "Insert": "INSERT",
    "Update": "UPDATE",
    "Delete": "DELETE",
    "Merge": "MERGE",
    "Create": "CREATE",
    "Drop": "DROP",
    "Alter": "ALTER",
    "AlterColumn": "ALTER",
    "TruncateTable": "TRUNCATE",
    "Command": "a command",
    "Copy": "COPY",
    "Into": "SELECT ... INTO",
    "Lock": "a locking clause (FOR UPDATE/FOR SHARE)",
    "Set": "SET",
    "Use": "USE",
    "Cache": "CACHE TABLE",
    "Uncache": "UNCACHE TABLE",
    "Refresh": "REFRESH",
    "Describe": "DESCRIBE",
    "Pragma": "PRAGMA",
    "Transaction": "a transaction statement",
    "Commit": "COMMIT",
    "Rollback": "ROLLBACK",
    "LoadData": "LOAD DATA",
    "Grant": "GRANT",
    "Revoke": "REVOKE",
    "Analyze": "ANALYZE",
    "Kill": "KILL",
    "Execute": "EXECUTE",
    "Declare": "DECLARE",
    "QueryTransform": "TRANSFORM ... USING (a shell command)",
}
_REFUSED_TYPES = tuple(
    (getattr(exp, name), what) for name, what in _REFUSED_NODES.items() if hasattr(exp, name)
)
_DIALECTS = {"spark": "spark", "postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
_PLAN_CLASSES = {
    "ScriptTransformation": "TRANSFORM ... USING (a shell command)",
    "CallMethodViaReflection": "reflection (reflect/java_method)",
    "XPathExtract": "xpath",
    "XmlToStructs": "from_xml",
    "InsertIntoDir": "INSERT OVERWRITE DIRECTORY",
    "InsertIntoStatement": "INSERT",
}
MAX_SQL_CHARS = 100_000


class SqlRefused(ValueError):
    """The SQL text is not an allowed read-only query or expression."""


@lru_cache(maxsize=1024)  # the checks and the column look-ups read the same texts: once each
def _parse_once(text: str, dialect: str) -> tuple[exp.Expression, ...]:
    return tuple(_parse_text(text, dialect))


def _parse(text: str, dialect: str) -> list[exp.Expression]:
    """The statements of ``text`` (shared, cached trees: copy one before changing it)."""
    return list(_parse_once(text, dialect))


def _parse_text(text: str, dialect: str) -> list[exp.Expression]:
    if "\x00" in text:
        raise SqlRefused("it contains a null character; remove it")
    if len(text) > MAX_SQL_CHARS:
        raise SqlRefused(f"it is longer than {MAX_SQL_CHARS:,} characters")
    try:
        tokens = sqlglot.tokenize(text, read=dialect)
    except (TokenError, ValueError) as exc:
        raise SqlRefused(f"it cannot be read as SQL ({_first_line(exc)})") from None
    # `USING 'text'` only occurs in Spark's script transform (join USING takes column names)
    for a, b in zip(tokens, tokens[1:], strict=False):
        if a.token_type.name == "USING" and b.token_type.name in ("STRING", "RAW_STRING"):
            raise SqlRefused("TRANSFORM/MAP/REDUCE ... USING (a shell command) is not allowed")
    try:
        trees = [t for t in sqlglot.parse(text, read=dialect) if t is not None]
    except (ParseError, TokenError, ValueError, RecursionError) as exc:
        raise SqlRefused(f"it is not valid SQL ({_first_line(exc)})") from None
    return trees


def _first_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors and isinstance(errors[0], dict) and errors[0].get("highlight"):
        e = errors[0]
        return f"near '{e['highlight']}', line {e.get('line')}, column {e.get('col')}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _check_tree(
    tree: exp.Expression, *, denied: Collection[str], prefixes: tuple[str, ...]
) -> None:
    for node in tree.walk():
        for cls, what in _REFUSED_TYPES:
            if isinstance(node, cls):
                raise SqlRefused(f"{what} is not allowed: only a read-only query is")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in denied or name.startswith(prefixes):
                raise SqlRefused(f"the function {name}() is not allowed")


def check_query(
    text: str,
    *,
    views: Collection[str] | None = None,
    dialect: str = "spark",
) -> None:
    """Raise SqlRefused unless ``text`` is one read-only query.

    ``views``: the only table names the query may read (a Spark node's inputs); None allows
    any unqualified table name (an external database's own tables, or validation before the
    inputs are known). Names defined in a WITH clause are always allowed.
    """
    reason = _query_refusal(text, None if views is None else frozenset(views), dialect)
    if reason:
        raise SqlRefused(reason)


@lru_cache(maxsize=4096)  # a flow's SQL is checked at every validation: parse each text once
def _query_refusal(text: str, views: frozenset[str] | None, dialect: str) -> str | None:
    try:
        _check_query(text, views=views, dialect=dialect)
    except SqlRefused as exc:
        return str(exc)
    return None


def _check_query(
    text: str,
    *,
    views: Collection[str] | None,
    dialect: str,
) -> None:
    read = _DIALECTS[dialect]
    trees = _parse(text, read)
    if len(trees) != 1:
        raise SqlRefused(
            "it holds several statements; write one query (remove the ';' between them)"
            if trees
            else "it is empty"
        )
    tree = trees[0]
    spark = dialect == "spark"
    denied = SPARK_DENIED_FUNCTIONS if spark else DB_DENIED_FUNCTIONS
    _check_tree(tree, denied=denied, prefixes=() if spark else _DB_DENIED_PREFIXES)
    if not isinstance(tree, exp.Query):
        raise SqlRefused(f"it is not a query ({tree.key.upper()}): write one SELECT query")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    allowed = {v.lower() for v in views} if views is not None else None
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table-valued function such as range(10), checked as a function
        name = table.name
        qualified = ".".join(p for p in (table.catalog, table.db, name) if p)
        if table.db or table.catalog:
            if spark:
                raise SqlRefused(
                    f"it reads `{qualified}`: a query may only read the node's inputs "
                    "(files and catalog tables are not allowed; import them with a node)"
                )
            if table.catalog:
                raise SqlRefused(f"it reads {qualified} from another database")
            continue  # schema.table in the source database
        if allowed is not None and name.lower() not in allowed and name.lower() not in ctes:
            inputs = ", ".join(sorted(views or ())) or "none"
            raise SqlRefused(
                f"it reads `{name}`, which is not one of the node's inputs (its inputs: {inputs})"
            )


def check_expression(text: str) -> None:
    """Raise SqlRefused unless ``text`` is one Spark SQL expression over columns (no
    subqueries, no statements, no refused functions)."""
    reason = _expression_refusal(text)
    if reason:
        raise SqlRefused(reason)


@lru_cache(maxsize=4096)
def _expression_refusal(text: str) -> str | None:
    try:
        _check_expression(text)
    except SqlRefused as exc:
        return str(exc)
    return None


def _check_expression(text: str) -> None:
    trees = _parse(text, "spark")
    if len(trees) != 1:
        raise SqlRefused(
            "it holds several statements; write one expression" if trees else "it is empty"
        )
    tree = trees[0]
    _check_tree(tree, denied=SPARK_DENIED_FUNCTIONS, prefixes=())
    if isinstance(tree, exp.Query) or tree.find(exp.Query) is not None:
        raise SqlRefused("a subquery is not allowed in an expression: use transform.sql")
    if tree.find(exp.Table) is not None:
        raise SqlRefused("an expression may not read tables")


def query_problem(
    text: Any, what: str, *, views: Collection[str] | None = None, dialect: str = "spark"
) -> str | None:
    """The user's sentence when ``text`` is refused, e.g. ``The 'query' parameter of
    transform.sql (node "x") cannot be used: the function reflect() is not allowed.``"""
    if not isinstance(text, str):
        return None  # the param's type check reports it
    try:
        check_query(text, views=views, dialect=dialect)
    except SqlRefused as exc:
        return f"{what} cannot be used: {str(exc).rstrip('.')}."
    return None


def expression_problem(text: Any, what: str) -> str | None:
    """As `query_problem`, for a Spark SQL expression (a filter condition, a split rule)."""
    if not isinstance(text, str):
        return None
    try:
        check_expression(text)
    except SqlRefused as exc:
        return f"{what} cannot be used: {str(exc).rstrip('.')}."
    return None


def check_plan(df: Any) -> str | None:
    """A last line after Spark has analysed a query (nothing has run yet): the reason when its
    plan holds a script transform, reflection or a write, else None."""
    try:
        plan = df._jdf.queryExecution().analyzed().toJSON()
    except Exception:  # a plan that cannot be serialised: fall back to its text form
        plan = df._jdf.queryExecution().analyzed().toString()
    text = plan if isinstance(plan, str) else json.dumps(plan)
    for cls, what in _PLAN_CLASSES.items():
        if re.search(rf"[.\s]{cls}\b", text):
            return f"{what} is not allowed"
    return None


# -- columns named in expressions and queries (validation; parsed once per text) ---------------
#: Spark's functions that may be written without parentheses: not column names
_NILADIC = frozenset(
    {
        "current_date",
        "current_timestamp",
        "current_user",
        "current_catalog",
        "current_database",
        "current_schema",
        "current_timezone",
        "localtimestamp",
        "session_user",
        "user",
    }
)


@lru_cache(maxsize=4096)
def expression_columns(text: str) -> tuple[str, ...] | None:
    """The plain column names a Spark SQL expression reads, in order of first use; None when
    the text is not an allowed expression (reported by `expression_problem`). Qualified names
    (``s.field``: a struct's field or a table's column) are left out: they are not guessed."""
    if _expression_refusal(text):
        return None
    tree = _parse(text, "spark")[0]
    names: dict[str, None] = {}
    for col in tree.find_all(exp.Column):
        if not col.table and col.name and col.name.lower() not in _NILADIC:
            names.setdefault(col.name, None)
    return tuple(names)


@lru_cache(maxsize=1024)
def _query_unknown_columns(
    text: str, views: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[str, ...]:
    """Names a query reads that no view it reads has (resolved by sqlglot's scopes: aliases,
    CTEs and subqueries included). Empty when it cannot tell."""
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    if _query_refusal(text, frozenset(v for v, _ in views), "spark"):
        return ()
    schema = {v.lower(): {c: "string" for c in cols} for v, cols in views}
    known = {v.lower(): {c.lower() for c in cols} for v, cols in views}
    parsed = _parse(text, "spark")[0].copy()  # qualify changes the tree it is given
    every = set().union(*known.values())
    if all(c.name.lower() in every for c in parsed.find_all(exp.Column)):
        return ()  # every name is some input's column: resolving scopes (slow) adds little
    try:
        tree = qualify(
            parsed,
            schema=schema,
            dialect="spark",
            validate_qualify_columns=False,
            quote_identifiers=False,
            allow_partial_qualification=True,
        )
        scopes = list(traverse_scope(tree))
    except Exception:  # a shape sqlglot cannot resolve: Spark says it at run time
        logging.getLogger(__name__).debug("could not resolve %r", text, exc_info=True)
        return ()
    unknown: dict[str, None] = {}
    for scope in scopes:
        if not isinstance(scope.expression, exp.Select):
            continue
        if not scope.is_correlated_subquery:
            for col in scope.external_columns:
                if not col.table and col.name.lower() not in _NILADIC:
                    unknown.setdefault(col.name, None)
        for col in scope.columns:
            source = scope.sources.get(col.table)
            have = known.get(source.name.lower()) if isinstance(source, exp.Table) else None
            if have is not None and col.name.lower() not in have:
                unknown.setdefault(col.name, None)
    return tuple(unknown)


def _unknown_sentence(what: str, column: str, names: Collection[str]) -> str:
    import difflib

    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(column.lower(), list(by_lower), n=1, cutoff=0.6)
    hint = f" (did you mean `{by_lower[close[0]]}`?)" if close else ""
    listed = ", ".join(names)
    if len(listed) > 300:
        listed = listed[:297] + "..."
    return (
        f"{what} uses the column `{column}`, which does not exist in its input{hint}. "
        f"Columns: {listed}."
    )


def expression_column_problems(text: Any, columns: Collection[str], what: str) -> list[str]:
    """A sentence for each column a Spark SQL expression names that ``columns`` (the input's,
    compared as Spark does: ignoring case) does not have. ``what`` names the parameter, e.g.
    ``The 'condition' parameter of clean.filter``."""
    if not isinstance(text, str):
        return []
    have = {c.lower() for c in columns}
    named = expression_columns(text) or ()
    return [_unknown_sentence(what, c, list(columns)) for c in named if c.lower() not in have]


def query_column_problems(text: Any, views: dict[str, Collection[str]], what: str) -> list[str]:
    """As `expression_column_problems`, for a query over views (view name -> its columns)."""
    if not isinstance(text, str) or not views:
        return []
    key = tuple((v, tuple(cols)) for v, cols in views.items())
    names = list(dict.fromkeys(c for cols in views.values() for c in cols))
    return [_unknown_sentence(what, c, names) for c in _query_unknown_columns(text, key)]
