"""A small KQL subset, evaluated over pandas DataFrames with the request's parameters.

Enough for the queries connectors send, and strict about everything else
(a syntax or semantic error, as Kusto would answer)::

    declare query_parameters(dev:string, t0:datetime, devs:dynamic);
    Power
    | where device_id == dev and timestamp >= t0 and control_id in (devs)
    | project timestamp, power_w
    | order by timestamp asc
    | take 100

Operators: ``where`` (comparisons ``== != < <= > >= =~ in !in`` joined by
``and``; operands are columns, declared parameters or literals), ``project``,
``order by``/``sort by`` (default ``desc``, as in Kusto), ``take``/``limit``
and ``count``. Values come only from parameters and literals: nothing in a
parameter value is ever parsed as KQL.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np
import pandas as pd


class KqlError(Exception):
    """A query Kusto would reject; ``kind`` is ``"Syntax"`` or ``"Semantic"``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind} error: {message}")
        self.kind = kind


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
      | (?P<qname>\[\s*(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")\s*\])
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<op>==|!=|<=|>=|=~|!in\b|[<>|(),;:=])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


@attrs.frozen
class Token:
    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise KqlError("Syntax", f"unexpected character {stripped[position]!r} at {position}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "qname":  # ['name'] / ["name"]: an identifier that is always a column
            text = _unquote(text[1:-1].strip())
        tokens.append(Token(kind, text))
        position = match.end()
    return tokens


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def parse_timespan(text: str) -> pd.Timedelta:
    negative = text.startswith("-")
    body = re.sub(r"^(\d+)\.(\d{1,2}:)", r"\1 days \2", text.lstrip("-"))
    value = pd.Timedelta(body)
    return -value if negative else value


def parse_parameter(kql_type: str, text: str) -> Any:
    """A parameter's string value read with its declared type's parsing rules."""
    kql_type = kql_type.lower()
    try:
        if kql_type == "string":
            return text
        if kql_type in ("long", "int"):
            return int(text)
        if kql_type in ("real", "double", "decimal"):
            return float(text)
        if kql_type == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kql_type == "datetime":
            inner = re.fullmatch(r"datetime\((.*)\)", text.strip())
            stamp = pd.Timestamp(inner.group(1) if inner else text)
            return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        if kql_type == "timespan":
            return parse_timespan(text)
        if kql_type == "dynamic":
            return json.loads(text)
        if kql_type == "guid":
            return text
    except (ValueError, TypeError) as exc:
        raise KqlError("Semantic", f"query parameter value is not a valid {kql_type}") from exc
    raise KqlError("Semantic", f"unsupported query parameter type {kql_type!r}")


@attrs.define
class Table:
    """A served table: the frame and each column's Kusto type."""

    frame: pd.DataFrame
    types: dict[str, str]


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise KqlError("Syntax", "unexpected end of query")
        self.position += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text.lower() != text:
            raise KqlError("Syntax", f"expected {text!r}, found {token.text!r}")
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.text.lower() == text:
            self.position += 1
            return True
        return False

    def name(self) -> str:
        token = self.next()
        if token.kind not in ("name", "qname"):
            raise KqlError("Syntax", f"expected a name, found {token.text!r}")
        return token.text

    def done(self) -> bool:
        return self.position >= len(self.tokens)


def split_statements(tokens: list[Token]) -> list[list[Token]]:
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind == "op" and token.text == ";":
            statements.append([])
        else:
            statements[-1].append(token)
    return [s for s in statements if s]


def parse_declaration(tokens: list[Token]) -> dict[str, tuple[str, str | None]] | None:
    """``{name: (type, default literal)}`` of a ``declare query_parameters`` statement."""
    if len(tokens) < 2 or [t.text.lower() for t in tokens[:2]] != ["declare", "query_parameters"]:
        return None
    parser = _Parser(tokens[2:])
    parser.expect("(")
    declared: dict[str, tuple[str, str | None]] = {}
    while not parser.accept(")"):
        name = parser.name()
        parser.expect(":")
        kql_type = parser.name().lower()
        default = None
        if parser.accept("="):
            default_token = parser.next()
            default = (
                _unquote(default_token.text) if default_token.kind == "string" else default_token.text
            )
        declared[name] = (kql_type, default)
        if not parser.accept(","):
            parser.expect(")")
            break
    if not parser.done():
        raise KqlError("Syntax", "unexpected text after the query_parameters declaration")
    return declared


def declared_parameters(query: str) -> dict[str, str]:
    """The ``{name: type}`` a query declares (empty when it declares none or does not parse)."""
    try:
        for statement in split_statements(tokenize(query)):
            declared = parse_declaration(statement)
            if declared is not None:
                return {name: kql_type for name, (kql_type, _) in declared.items()}
    except KqlError:
        return {}
    return {}


class _Evaluator:
    def __init__(self, table: Table, name: str, values: Mapping[str, Any]) -> None:
        self.frame = table.frame
        self.types = dict(table.types)
        self.table_name = name
        self.values = values

    def column(self, name: str) -> pd.Series:
        if name not in self.frame.columns:
            raise KqlError(
                "Semantic", f"Failed to resolve scalar expression named '{name}'"
            )
        return self.frame[name]

    def operand(self, parser: _Parser) -> tuple[str, Any]:
        """``("column", Series)`` or ``("value", python value)``."""
        token = parser.next()
        if token.kind == "string":
            return "value", _unquote(token.text)
        if token.kind == "number":
            return "value", float(token.text) if "." in token.text or "e" in token.text.lower() \
                else int(token.text)
        if token.kind == "qname":
            return "column", self.column(token.text)
        if token.kind == "name":
            lowered = token.text.lower()
            if lowered in ("true", "false"):
                return "value", lowered == "true"
            if lowered in ("datetime", "timespan") and parser.accept("("):
                parts: list[str] = []
                while not parser.accept(")"):
                    parts.append(parser.next().text)
                text = "".join(parts).strip("'\"")
                return "value", parse_parameter(lowered, text)
            if token.text in self.values:
                return "value", self.values[token.text]
            return "column", self.column(token.text)
        raise KqlError("Syntax", f"unexpected {token.text!r} in a where clause")

    def condition(self, parser: _Parser) -> np.ndarray:
        column_name = parser.name()
        series = self.column(column_name)
        op = parser.next().text.lower()
        if op in ("in", "!in"):
            parser.expect("(")
            members: list[Any] = []
            while True:
                kind, value = self.operand(parser)
                if kind == "column":
                    raise KqlError("Semantic", "in (...) takes values, not columns")
                members.extend(value if isinstance(value, list) else [value])
                if parser.accept(")"):
                    break
                parser.expect(",")
            if self.types.get(column_name) == "datetime":
                members = list(pd.to_datetime(pd.Series(members, dtype=object), utc=True))
            mask = np.array(series.isin(members), dtype=bool)
            return ~mask if op == "!in" else mask
        kind, value = self.operand(parser)
        if op == "=~":
            if not isinstance(value, str):
                raise KqlError("Semantic", "=~ compares strings")
            result = series.astype(str).str.lower() == value.lower()
        elif op in _COMPARE:
            if isinstance(value, (list, dict)):
                raise KqlError("Semantic", f"cannot compare column '{column_name}' with a dynamic")
            try:
                result = _COMPARE[op](series, value)
            except TypeError as exc:
                raise KqlError(
                    "Semantic", f"cannot compare column '{column_name}' ({self.types.get(column_name)})"
                    f" with {type(value).__name__}"
                ) from exc
        else:
            raise KqlError("Syntax", f"unknown operator {op!r}")
        return np.array(pd.Series(result).fillna(False), dtype=bool)

    def where(self, parser: _Parser) -> None:
        mask = self.condition(parser)
        while parser.accept("and"):
            mask &= self.condition(parser)
        self.frame = self.frame.loc[mask]

    def project(self, parser: _Parser) -> None:
        names = [parser.name()]
        while parser.accept(","):
            names.append(parser.name())
        for name in names:
            self.column(name)
        self.frame = self.frame[names]
        self.types = {name: self.types[name] for name in names}

    def order(self, parser: _Parser) -> None:
        parser.expect("by")
        names: list[str] = []
        ascending: list[bool] = []
        while True:
            name = parser.name()
            self.column(name)
            direction = "desc"
            if parser.peek() is not None and (parser.peek() or Token("", "")).text.lower() in (
                "asc", "desc"
            ):
                direction = parser.next().text.lower()
            names.append(name)
            ascending.append(direction == "asc")
            if not parser.accept(","):
                break
        self.frame = self.frame.sort_values(names, ascending=ascending, kind="stable")

    def take(self, parser: _Parser) -> None:
        kind, value = self.operand(parser)
        if kind != "value" or isinstance(value, bool) or not isinstance(value, int):
            raise KqlError("Semantic", "take needs a whole number")
        self.frame = self.frame.head(value)

    def count(self, parser: _Parser) -> None:
        self.frame = pd.DataFrame({"Count": [len(self.frame)]})
        self.types = {"Count": "long"}

    def run(self, parser: _Parser) -> Table:
        operators: dict[str, Callable[[_Parser], None]] = {
            "where": self.where, "project": self.project, "order": self.order,
            "sort": self.order, "take": self.take, "limit": self.take, "count": self.count,
        }
        while not parser.done():
            parser.expect("|")
            name = parser.name().lower()
            handler = operators.get(name)
            if handler is None:
                raise KqlError("Syntax", f"operator '{name}' is not supported by this test endpoint")
            handler(parser)
        return Table(self.frame.reset_index(drop=True), self.types)


def _bind(statement: list[Token], values: dict[str, Any]) -> None:
    """``let name = <parameter, let name or literal>;`` (the subset data sources use)."""
    parser = _Parser(statement[1:])
    name = parser.name()
    parser.expect("=")
    token = parser.next()
    if not parser.done():
        raise KqlError("Syntax", f"let {name}: only a name or a literal is supported here")
    if token.kind == "string":
        values[name] = _unquote(token.text)
    elif token.kind == "number":
        values[name] = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
    elif token.kind == "name" and token.text in values:
        values[name] = values[token.text]
    else:
        raise KqlError("Semantic", f"Failed to resolve scalar expression named '{token.text}'")


def evaluate(query: str, tables: Mapping[str, Table], parameters: Mapping[str, str]) -> Table:
    """Run ``query`` over ``tables`` with the request's ``Parameters`` (strings)."""
    statements = split_statements(tokenize(query))
    if not statements:
        raise KqlError("Syntax", "empty query")
    values: dict[str, Any] = {}
    for statement in statements[:-1]:
        if statement[0].kind == "name" and statement[0].text == "let":
            _bind(statement, values)
            continue
        declared = parse_declaration(statement)
        if declared is None:
            raise KqlError(
                "Syntax", "only query_parameters declarations and let statements may precede the query"
            )
        for name, (kql_type, default) in declared.items():
            if name in parameters:
                values[name] = parse_parameter(kql_type, str(parameters[name]))
            elif default is not None:
                values[name] = parse_parameter(kql_type, default)
            else:
                raise KqlError("Semantic", f"query parameter '{name}' was declared but not given")
    parser = _Parser(statements[-1])
    table_name = parser.name()
    table = tables.get(table_name)
    if table is None:
        raise KqlError("Semantic", f"Failed to resolve table or column expression named '{table_name}'")
    return _Evaluator(table, table_name, values).run(parser)
