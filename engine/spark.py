"""The process's one SparkSession, created lazily and sized from the machine."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
#: JDBC drivers from Debian's packages, put on Spark's class path when present.
JDBC_JARS = (
    "/usr/share/java/postgresql.jar",
    "/usr/share/java/mariadb-java-client.jar",
    "/usr/share/java/sqlite-jdbc.jar",
)

_lock = threading.Lock()
_session: Any = None
_session_master: str | None = None


class SparkConfigError(Exception):
    """Spark cannot start with the requested master or settings."""


def requested_master(master: str | None = None) -> str:
    return master or os.environ.get("SEER_SPARK_MASTER") or DEFAULT_MASTER


def _memory_plan() -> tuple[str, str]:
    """Driver heap and maxResultSize from the machine's memory.

    Half the RAM (at most 16 GB, at least 1 GB) for the driver; a result sent back to the
    driver may use half of that. SEER_DRIVER_MEMORY overrides (e.g. "4g").
    """
    override = os.environ.get("SEER_DRIVER_MEMORY")
    if override:
        m = re.fullmatch(r"(\d+)([gm])", override.strip().lower())
        if not m:
            raise SparkConfigError(
                f"SEER_DRIVER_MEMORY must look like 4g or 512m. Got {override!r}."
            )
        mb = int(m.group(1)) * (1024 if m.group(2) == "g" else 1)
    else:
        total_mb = psutil.virtual_memory().total // (1024 * 1024)
        mb = max(1024, min(16 * 1024, total_mb // 2))
    return f"{mb}m", f"{max(256, mb // 2)}m"


def spark_conf(master: str, local_dir: Path | None, log_dir: Path | None = None) -> dict[str, str]:
    driver_mem, max_result = _memory_plan()
    cores = os.cpu_count() or 2
    is_local = master.startswith("local")
    conf = {
        "spark.app.name": "seer",
        "spark.master": master,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(max(4, 2 * cores) if is_local else 64),
        "spark.default.parallelism": str(max(2, cores)) if is_local else "",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.driver.memory": driver_mem,
        "spark.driver.maxResultSize": max_result,
        # Python workers must run this interpreter, or they miss the project's packages.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.executorEnv.PYSPARK_PYTHON": sys.executable,
        "spark.sql.sources.partitionOverwriteMode": "static",
        # a barrier stage (distributed LightGBM) asking for more slots than the cluster has
        # fails after a few seconds instead of retrying for ten minutes
        "spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures": "2",
        "spark.scheduler.barrier.maxConcurrentTasksCheck.interval": "2s",
    }
    log4j = resources.files("engine").joinpath("log4j2.properties")
    # statusLoggerLevel: log4j's own errors (spark.log unwritable, a full disk) stay off the
    # terminal; Seer reports the failure as one sentence
    java_opts = f"-Dlog4j2.configurationFile=file:{log4j} -Dlog4j2.statusLoggerLevel=OFF"
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        java_opts += f" -Dseer.log.dir={log_dir}"
    conf["spark.driver.extraJavaOptions"] = java_opts
    jars = [j for j in JDBC_JARS if Path(j).exists()]
    if jars:
        conf["spark.jars"] = ",".join(jars)
    if local_dir is not None:
        local_dir.mkdir(parents=True, exist_ok=True)
        conf["spark.local.dir"] = str(local_dir)
    for key, value in os.environ.items():  # SEER_SPARK_CONF_spark.x.y=value passes through
        if key.startswith("SEER_SPARK_CONF_"):
            conf[key.removeprefix("SEER_SPARK_CONF_")] = value
    conf.update(HARDENING)
    return {k: v for k, v in conf.items() if v != ""}


#: Session settings that keep SQL written in flows away from files, scripts and the
#: environment (engine/sqlguard.py checks the SQL itself); applied last, so they cannot be
#: turned off through SEER_SPARK_CONF_.
HARDENING = {
    # no ``SELECT * FROM csv.`/any/path` ``
    "spark.sql.runSQLOnFiles": "false",
    # no ``BEGIN ... END`` scripts of several statements
    "spark.sql.scripting.enabled": "false",
    # no ``${env:SECRET}`` / ``${system:...}`` substitution into SQL text
    "spark.sql.variable.substitute": "false",
}


def get_spark(
    master: str | None = None, local_dir: Path | None = None, log_dir: Path | None = None
) -> Any:
    """The process's SparkSession; started on first use with Seer's configuration."""
    global _session, _session_master
    want = requested_master(master)
    with _lock:
        if _session is not None:
            if master and want != _session_master:
                raise SparkConfigError(
                    f"This process already runs Spark on {_session_master}; it cannot switch to "
                    f"{want}. Start a new process (e.g. a new `seer run --master {want}`)."
                )
            return _session
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        from pyspark.sql import SparkSession

        builder = SparkSession.builder
        for key, value in spark_conf(want, local_dir, log_dir).items():
            builder = builder.config(key, value)
        log.info("starting Spark (%s)", want)
        with _jvm_stderr_to(log_dir) as jvm_said:
            try:
                _session = builder.getOrCreate()
            except Exception as exc:
                reason = jvm_said()
                raise SparkConfigError(
                    f"Spark could not start with master {want}: {exc}"
                    + (f" (the Java process said: {reason})" if reason else "")
                ) from exc
        _session_master = want
        return _session


JVM_LOG = "spark-jvm.log"


@contextmanager
def _jvm_stderr_to(log_dir: Path | None) -> Iterator[Callable[[], str]]:
    """Give the Java process that Spark launches ``log_dir/spark-jvm.log`` as its stderr.

    The JVM inherits file descriptor 2 when it starts, so its own notices (``WARNING: Using
    incubator modules``, ...) land in the log instead of between Seer's progress lines. The
    descriptor is Seer's again as soon as the session exists. The context gives a function
    returning the last lines the JVM wrote meanwhile (for an error message).
    """
    if log_dir is None:
        yield lambda: ""
        return
    path = log_dir / JVM_LOG
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:  # no log folder to write: the terminal keeps the JVM's lines
        yield lambda: ""
        return
    start = os.lseek(target, 0, os.SEEK_END)
    try:
        os.dup2(target, 2)
        yield lambda: _last_lines(path, start)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def _last_lines(path: Path, start: int, limit: int = 3) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "incubator" not in ln]
    return " / ".join(lines[-limit:])


def spark_started() -> bool:
    return _session is not None


def active_session() -> Any:
    return _session


def stop_spark() -> None:
    global _session, _session_master
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None
            _session_master = None


_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+\s*;?")


def _java_messages(exc: BaseException) -> list[str]:
    """Messages along a Py4J Java exception's cause chain, outermost first."""
    out: list[str] = []
    # Py4JJavaError keeps the Java exception in java_exception; PySpark's converted
    # exceptions (AnalysisException, ...) in _origin.
    jexc = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    seen = 0
    while jexc is not None and seen < 20:
        try:
            msg = jexc.getMessage()
            jexc = jexc.getCause()
        except Exception:
            break
        if msg:
            out.append(str(msg))
        seen += 1
    return out


def _clean(text: str) -> str:
    head = text.strip().split("\n", 1)[0]
    head = _SQLSTATE.sub(" ", head).strip()
    head = re.sub(r";?\s*line \d+ pos \d+;?$", "", head).strip()
    head = re.sub(r"^(\w+\.)*\w+(Exception|Error): ", "", head)
    head = re.sub(r"^\[[A-Z0-9_.]+\]\s*", "", head)
    return head.rstrip(";").strip()


def spark_error_message(exc: BaseException) -> str:
    """The useful sentence of a Spark error, without the query plan or the JVM stack."""
    candidates = _java_messages(exc)
    if candidates:
        # Prefer the innermost message that carries one of Spark's error classes.
        classed = [m for m in candidates if re.search(r"\[[A-Z][A-Z0-9_.]+\]", m)]
        chosen = classed[-1] if classed else candidates[-1]
        text = _clean(re.sub(r"^.*?(\[[A-Z][A-Z0-9_.]+\])", r"\1", chosen, count=1, flags=re.S))
        root = _clean(candidates[-1])
        if chosen is not candidates[-1] and root and root not in text and len(root) < 300:
            text = f"{text.rstrip('.')}: {root}"  # the root cause, e.g. "Connection refused"
        return text
    getter = getattr(exc, "getMessage", None)
    try:
        text = getter() if callable(getter) else str(exc)
    except Exception:
        text = str(exc)
    return _clean(text or str(exc) or type(exc).__name__)


def is_spark_error(exc: BaseException) -> bool:
    try:
        from pyspark.errors import PySparkException
    except ImportError:  # pragma: no cover
        return False
    from py4j.protocol import Py4JJavaError

    return isinstance(exc, (PySparkException, Py4JJavaError))
