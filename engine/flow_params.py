"""A node's params as a run uses them: flow parameters substituted (``${name}``), paths made
absolute, defaults applied, and every value checked against the operator's spec."""

from __future__ import annotations

import copy
import difflib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.errors import node_phrase
from engine.files import is_url
from engine.flow_model import Problem
from engine.spec import MISSING, Operator, param_message, with_node

log = logging.getLogger(__name__)


_PARAM_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def coerce_override(name: str, text: str, default: Any) -> Any:
    """A ``--param name=value`` string, read as the type of the declared default."""
    if isinstance(default, bool):
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(f"--param {name} must be true or false. Got {text!r}.")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"--param {name} must be an integer. Got {text!r}.") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"--param {name} must be a number. Got {text!r}.") from None
    if isinstance(default, (list, dict)):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"--param {name} must be JSON. Got {text!r}.") from None
    return text


class Substituter:
    def __init__(self, values: Mapping[str, Any], from_cli: set[str]):
        self.values = values
        self.from_cli = from_cli
        self.missing: set[str] = set()

    def __call__(self, value: Any) -> tuple[Any, bool]:
        """Returns the substituted value and whether it came whole from a CLI override."""
        if isinstance(value, str):
            whole = _PARAM_REF.fullmatch(value)
            if whole:
                name = whole.group(1)
                if name not in self.values:
                    self.missing.add(name)
                    return value, False
                return copy.deepcopy(self.values[name]), name in self.from_cli

            def repl(m: re.Match[str]) -> str:
                if m.group(1) not in self.values:
                    self.missing.add(m.group(1))
                    return m.group(0)
                return str(self.values[m.group(1)])

            return _PARAM_REF.sub(repl, value), False
        if isinstance(value, list):
            return [self(v)[0] for v in value], False
        if isinstance(value, dict):
            return {k: self(v)[0] for k, v in value.items()}, False
        return value, False


def resolve_path(value: Any, base: Path) -> Any:
    if isinstance(value, str) and value and not is_url(value) and "\x00" not in value:
        p = Path(os.path.expanduser(value))
        return str(p if p.is_absolute() else (base / p).resolve())
    if isinstance(value, list):
        return [resolve_path(v, base) for v in value]
    return value


def did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


def resolve_params(
    op: Operator,
    node_id: str | None,
    raw: Mapping[str, Any],
    subst: Substituter,
    base: Path,
    override_base: Path | None,
) -> tuple[dict[str, Any], list[Problem]]:
    problems: list[Problem] = []
    known = {p.name for p in op.params}
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known:
            problems.append(
                Problem(
                    f"{op.id} has no parameter '{name}'."
                    + did_you_mean(name, known)
                    + f" Its parameters: {', '.join(sorted(known)) or 'none'}.",
                    node_id,
                    "unknown-param",
                )
            )
            continue
        before = len(subst.missing)
        value, from_cli = subst(value)
        if len(subst.missing) > before:
            continue  # reported once per missing flow param
        spec = op.param(name)
        if spec.widget == "path" and value is not None:
            value = resolve_path(value, (override_base or Path.cwd()) if from_cli else base)
        params[name] = value
    full = op.with_defaults(params)
    try:
        full = op.resolve_params(full, base)
    except Exception:  # a param that cannot be resolved is reported by the checks below
        log.debug("resolve_params failed for %s", node_id, exc_info=True)
    bad: set[str] = set()
    for spec in op.params:
        value = full.get(spec.name, MISSING)
        if value is MISSING:
            if spec.required:
                problems.append(
                    Problem(
                        f"The '{spec.name}' parameter of {node_phrase(op.id, node_id)} is required: "
                        f"{spec.description or spec.describe()}",
                        node_id,
                        "missing-param",
                    )
                )
                bad.add(spec.name)
            continue
        if spec.name in raw and spec.name not in params:
            bad.add(spec.name)  # substitution failed; reported already
            continue
        if not spec.accepts(value):
            problems.append(
                Problem(param_message(op.id, node_id, spec, value), node_id, "invalid-param")
            )
            bad.add(spec.name)
    if not problems:
        try:
            checked = op.check_params(full)
        except Exception as exc:  # an operator's own check met params of an unexpected shape
            log.debug("check_params failed for %s", node_id, exc_info=True)
            checked = [
                (
                    "",
                    f"The params of {node_phrase(op.id, node_id)} have an unexpected shape and could "
                    f"not be checked ({type(exc).__name__}); compare them with "
                    f"`seer operators` or docs/operators.md.",
                )
            ]
        for pname, sentence in checked:
            if pname not in bad:
                problems.append(
                    Problem(with_node(sentence, op.id, node_id), node_id, "invalid-param")
                )
    return full, problems


def validate_params(
    op: Operator, params: Mapping[str, Any], node_id: str | None = None
) -> list[str]:
    """Check one node's params as the flow loader does; returns the messages (empty if valid).

    Used by the studio's inline validation and by the per-operator spec tests.
    """
    subst = Substituter({}, set())
    _, problems = resolve_params(op, node_id, params, subst, Path.cwd(), None)
    return [p.message for p in problems]
