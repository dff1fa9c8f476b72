"""DuckDB-dialect SQL -> Spark SQL: SQLGlot's transpiler plus the DuckDB semantics it cannot know.

SQLGlot rewrites syntax and the functions both engines share. What it passes through untouched
are DuckDB's JSON functions, whose *meaning* the Silver models depend on: ``json_transform`` to a
struct of JSON values (or of typed fields), ``json_type`` naming a value's JSON type (or the types
at a list of paths), ``TRY_CAST`` of a JSON value.
Spark 4's VARIANT type carries the same information (a parsed JSON value that knows whether it
was a string, an integer, a decimal, an array ...), so each of those maps onto a VARIANT
expression here, and ``json_type`` onto ``schema_of_variant`` spelt the DuckDB way.

Anything left that Spark does not have fails translation with the model's name: a model never
runs on Spark with a function Spark would misread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from salesflow.errors import ModelError

JSON_TYPE_FUNCTIONS = (
    # The type's name from schema_of_variant's text. A function of its own so that text is made once
    # a value: inlined in each WHEN, Spark walked the value (an order's whole lines) up to eight
    # times. The conditions exclude one another; the common types come first.
    """CREATE OR REPLACE TEMPORARY FUNCTION salesflow_json_type_name(s STRING) RETURNS STRING RETURN
CASE
    WHEN s = 'STRING' THEN 'VARCHAR'
    WHEN s IN ('BIGINT', 'INT', 'SMALLINT', 'TINYINT') THEN 'BIGINT'
    WHEN s LIKE 'ARRAY%' THEN 'ARRAY'
    WHEN s LIKE 'OBJECT%' THEN 'OBJECT'
    WHEN s RLIKE '^DECIMAL\\\\((19|[2-3][0-9]),0\\\\)$' THEN 'UBIGINT'
    WHEN s RLIKE '^(DECIMAL|DOUBLE|FLOAT)' THEN 'DOUBLE'
    WHEN s = 'BOOLEAN' THEN 'BOOLEAN'
    WHEN s = 'VOID' THEN 'NULL'
    ELSE upper(s)
END""",
    """CREATE OR REPLACE TEMPORARY FUNCTION salesflow_json_type(v VARIANT) RETURNS STRING RETURN
salesflow_json_type_name(schema_of_variant(v))""",
)
"""DuckDB's name for the JSON type of a value, from Spark's schema_of_variant (NULL for NULL).
Integers are BIGINT (DuckDB says UBIGINT when >= 0; every model tests both), decimals and floats
DOUBLE, except integers too big for BIGINT, which VARIANT holds as DECIMAL(p, 0) and DuckDB as UBIGINT."""
SPARK_FUNCTIONS_ADDED = frozenset({"salesflow_json_type", "salesflow_json_type_name"})

Describe = Callable[[str], list[tuple[str, str]]]
"""relation name -> [(column, DuckDB type name)] of a relation registered in the engine."""


class SparkTranslator:
    """Translate one statement at a time; knows which registered columns are VARIANT."""

    def __init__(self, spark_functions: Iterable[str], describe: Describe) -> None:
        self.functions = {f.lower() for f in spark_functions} | SPARK_FUNCTIONS_ADDED
        self.describe = describe
        self.variant_columns: set[str] = set()
        """Columns of registered relations that hold VARIANT values (``lines`` of parsed events)."""

    def translate(self, sql: str, source: str) -> str:
        try:
            tree = sqlglot.parse_one(sql, read="duckdb")
        except SqlglotError as exc:
            raise ModelError(f"{source}: SQLGlot cannot parse it as DuckDB SQL: {exc}") from exc
        variants = self.variant_columns | _variant_aliases(tree, self.variant_columns)
        relations = {t.alias_or_name for t in tree.find_all(exp.Table)} | {c.alias for c in tree.find_all(exp.CTE)}
        for node in reversed(list(tree.walk(bfs=False))):  # children before parents
            new = self._rewrite(node, variants - relations)
            if new is not node:
                if node is tree:
                    tree = new
                else:
                    node.replace(new)
        self._refuse_unknown(tree, source)
        try:
            return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as exc:
            raise ModelError(f"{source} cannot be transpiled to Spark SQL: {exc}") from exc

    def _rewrite(self, node: exp.Expr, variants: set[str]) -> exp.Expr:
        name = _function_name(node)
        if isinstance(node, exp.Column) and node.table and node.table in variants:
            return _json_field(exp.column(node.table), node.name)  # a field of json_transform's struct
        if isinstance(node, exp.Column) and node.table and f"{node.table}.{node.name}" in variants:
            return _typed_json_field(node)  # a JSON field of a typed struct
        if name == "json_transform":
            target = node.expressions[0]
            shape = _typed_shape(node)
            if shape is not None:
                return _typed_struct(_as_variant(target, variants), shape)
            return target if _is_variant(target, variants) else exp.func("TRY_PARSE_JSON", target)
        if isinstance(node, exp.JSONType) and isinstance(node.expression, exp.Array):
            document = _as_variant(node.this, variants)  # DuckDB: the types at several paths, in a list
            return exp.Array(expressions=[
                exp.func("salesflow_json_type", _variant_get(document.copy(), path.this, "VARIANT"))
                for path in node.expression.expressions])
        if name == "json_type" or isinstance(node, exp.JSONType):
            value = node.expressions[0] if isinstance(node, exp.Anonymous) else node.this
            return exp.func("salesflow_json_type", _as_variant(value, variants))
        if name == "json_valid":
            return _json_valid(node.expressions[0])
        if name == "strlen":  # DuckDB strlen counts bytes
            return exp.func("OCTET_LENGTH", node.expressions[0])
        if name == "to_seconds":
            return exp.func("MAKE_DT_INTERVAL", exp.Literal.number(0), exp.Literal.number(0),
                            exp.Literal.number(0), node.expressions[0])
        if isinstance(node, exp.JSONExtractScalar) and _is_variant(node.this, variants):
            return _variant_get(node.this, _json_path(node), "STRING")
        if isinstance(node, exp.JSONExtract) and _is_variant(node.this, variants):
            path = _json_path(node)
            return _variant_get(node.this, "$", "ARRAY<VARIANT>") if path == "$[*]" else \
                _variant_get(node.this, path, "VARIANT")
        if name == "json_array_length" and _is_variant(node.expressions[0], variants):
            return exp.func("ARRAY_SIZE", _variant_get(node.expressions[0], "$", "ARRAY<VARIANT>"))
        if isinstance(node, exp.TryCast) and _is_variant(node.this, variants):
            return _variant_get(node.this, "$", node.to.sql(dialect="spark"))
        if isinstance(node, exp.RegexpFullMatch):  # DuckDB anchors the whole string; RLIKE searches
            pattern = node.expression
            if not isinstance(pattern, exp.Literal):
                return exp.RegexpLike(this=node.this, expression=exp.func(
                    "CONCAT", exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$")))
            return exp.RegexpLike(this=node.this, expression=exp.Literal.string(f"^(?:{pattern.this})$"))
        if isinstance(node, exp.TimeToStr) and isinstance(node.args.get("format"), exp.Literal):
            return exp.Anonymous(this="DATE_FORMAT", expressions=[
                node.this, exp.Literal.string(java_datetime_pattern(node.args["format"].this))])
        if isinstance(node, exp.Select):
            _zip_unnest_subscripts(node)
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Describe):
            return self._describe_values(node)
        if isinstance(node, exp.In) and isinstance(node.this, exp.Tuple) and node.args.get("query") is not None:
            _untuple_subquery(node.args["query"])
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)  # no such keyword in Spark SQL (models.ctes computes them once)
        return node

    def _describe_values(self, node: exp.Subquery) -> exp.Expr:
        """``(DESCRIBE SELECT * FROM r)`` -> the relation's columns and DuckDB type names as VALUES."""
        inner = node.this.this
        table = inner.find(exp.Table) if isinstance(inner, exp.Select) else inner
        if not isinstance(table, exp.Table):
            raise ModelError(f"DESCRIBE of {node.this.sql()} is not a plain relation")
        rows = self.describe(table.name)
        values = ", ".join(f"({_quote(c)}, {_quote(t)})" for c, t in rows)
        alias = node.alias or "described"
        return sqlglot.parse_one(
            f"(SELECT * FROM VALUES {values} AS {alias}(column_name, column_type)) AS {alias}", read="spark")  # noqa: S608 - values quoted by _quote()

    def _refuse_unknown(self, tree: exp.Expr, source: str) -> None:
        for node in tree.find_all(exp.Anonymous):
            name = str(node.this).lower()
            if name not in self.functions:
                raise ModelError(f"{source} cannot be transpiled to Spark SQL: function {name}() has no "
                                 f"Spark equivalent (rewrite it with functions both engines have)")


def _function_name(node: exp.Expr) -> str | None:
    return str(node.this).lower() if isinstance(node, exp.Anonymous) else None


def _variant_aliases(tree: exp.Expr, known: set[str]) -> set[str]:
    """Names bound to JSON values inside this statement: ``json_transform(...) AS f``, ``f.lines AS
    lines``, ``json_extract(lines, '$[*]') AS items``, ``unnest(items) AS item``."""
    found = set(known)
    for alias in tree.find_all(exp.Alias):  # the JSON fields of a typed struct: "alias.field"
        for transform in alias.this.find_all(exp.Anonymous):
            shape = _typed_shape(transform)
            found |= {f"{alias.alias}.{name}" for name, kind in (shape or {}).items() if kind == "JSON"}
    changed = True
    while changed:
        changed = False
        for alias in tree.find_all(exp.Alias):
            if alias.alias not in found and _is_variant(alias.this, found):
                found.add(alias.alias)
                changed = True
    return found - known


def _is_variant(node: exp.Expr, variants: set[str]) -> bool:
    if isinstance(node, exp.Anonymous):
        if _typed_shape(node) is not None:
            return False  # a struct of typed fields; its JSON fields are the variants
        return str(node.this).lower() in {"json_transform", "try_parse_json", "try_variant_get"}
    if isinstance(node, exp.Column):
        return (node.table or node.name) in variants or f"{node.table}.{node.name}" in variants
    if isinstance(node, (exp.JSONExtract, exp.Explode)):
        return _is_variant(node.this, variants)
    if isinstance(node, exp.Case):
        results = [branch.args["true"] for branch in node.args.get("ifs", [])] + [node.args.get("default")]
        return any(r is not None and _is_variant(r, variants) for r in results)
    return False


def _typed_shape(node: exp.Expr) -> dict[str, str] | None:
    """The shape of ``json_transform(x, '{"field": "TYPE", ...}')`` when some field is not JSON."""
    if _function_name(node) != "json_transform" or len(node.expressions) < 2:
        return None
    literal = node.expressions[1]
    if not isinstance(literal, exp.Literal) or not literal.is_string:
        return None
    try:
        shape = json.loads(literal.this)
    except json.JSONDecodeError as exc:
        raise ModelError(f"json_transform shape {literal.this!r} is not JSON: {exc}") from exc
    return shape if any(kind != "JSON" for kind in shape.values()) else None


def _typed_struct(document: exp.Expr, shape: dict[str, str]) -> exp.Expr:
    """DuckDB's struct of typed fields as one cast of the parsed document to a struct: a VARCHAR
    field the text (a non-string value as its JSON text, as Spark's variant-to-string cast gives
    it), a JSON field a VARIANT (its JSON null made SQL NULL where it is read: ``_typed_json_field``).
    One cast, not a ``try_variant_get`` per field: Spark does not share a subexpression inside a
    CASE branch, so each field parsed the payload again (bench/RESULTS.md has the measure)."""
    fields: list[str] = []
    for name, kind in shape.items():
        if kind not in ("JSON", "VARCHAR"):  # DuckDB's lenient casts to numbers are not checked against Spark's
            raise ModelError(f"json_transform field {name} of type {kind} has no Spark translation "
                             f"(read it as JSON and TRY_CAST it)")
        fields.append(f"`{name.replace('`', '``')}`: {'VARIANT' if kind == 'JSON' else 'STRING'}")
    return _variant_get(document, "$", f"STRUCT<{', '.join(fields)}>")


def _typed_json_field(field: exp.Column) -> exp.Expr:
    """A JSON field of a typed struct as a VARIANT; a JSON null there is SQL NULL, as in DuckDB."""
    return exp.Case(ifs=[exp.If(this=exp.func("IS_VARIANT_NULL", field.copy()), true=exp.Null())],
                    default=field.copy())


JSON_SHAPE = r'^[ \t\r\n]*([{\["]|(true|false|null|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)[ \t\r\n]*$)'
"""What may be JSON: a text starting with an object, array or string, or a whole literal or number
(a text starting with a digit is JSON only if it is all one number)."""


JSON_FIRST = ("{", "[", '"', "t", "f", "n", "-", *"0123456789", " ", "\t", "\r", "\n")
"""The characters JSON text may start with: a set lookup turns most words away (ids, names and
codes mostly start with a letter) before the regular expression."""


def _json_valid(text: exp.Expr) -> exp.Expr:
    """DuckDB's json_valid. Spark's parser reports an invalid text by throwing (and catching) an
    exception, which costs microseconds; Silver asks it of eleven id fields per record, nearly all
    of them words or timestamps that cannot be JSON (over a third of silver.parsed_events' time on
    Spark). A text that cannot be JSON by its shape is refused without parsing; NULL is false.

    Spark's parsers stop after the first value and ignore what follows (``[]0`` parses), so the
    text is also read inside an array twice: ``[x]`` must hold one value and ``[x,0]`` two. Text after
    a first value either breaks the array or closes it early, at the same place in both, where
    the two counts cannot be one and two."""
    def count(suffix: str) -> exp.Expr:
        return exp.func("JSON_ARRAY_LENGTH", exp.func("CONCAT", exp.Literal.string("["), text.copy(),
                                                      exp.Literal.string(suffix)))
    whole = exp.And(this=exp.EQ(this=count("]"), expression=exp.Literal.number(1)),
                    expression=exp.EQ(this=count(",0]"), expression=exp.Literal.number(2)))
    # The VARIANT parser, as before, for what the array counter lets through (a raw control
    # character inside a string).
    parsed = exp.And(this=exp.Not(this=exp.Is(this=exp.func("TRY_PARSE_JSON", text.copy()), expression=exp.Null())),
                     expression=whole)
    first = exp.In(this=exp.func("SUBSTR", text.copy(), exp.Literal.number(1), exp.Literal.number(1)),
                   expressions=[exp.Literal.string(c) for c in JSON_FIRST])
    can_start = exp.And(this=first, expression=exp.RegexpLike(this=text.copy(),
                                                              expression=exp.Literal.string(JSON_SHAPE)))
    return exp.Case(ifs=[exp.If(this=can_start, true=parsed)], default=exp.false())


def _as_variant(node: exp.Expr, variants: set[str]) -> exp.Expr:
    return node if _is_variant(node, variants) or _function_name(node) == "try_variant_get" \
        else exp.func("TRY_PARSE_JSON", node)


def _json_field(document: exp.Expr, name: str) -> exp.Expr:
    """Field ``name`` of a VARIANT object as a VARIANT; a JSON null there is SQL NULL, as in
    DuckDB's json_transform."""
    field = _variant_get(document, f"$.{name}", "VARIANT")
    return exp.Case(ifs=[exp.If(this=exp.func("IS_VARIANT_NULL", field.copy()), true=exp.Null())], default=field)


def _variant_get(target: exp.Expr, path: str, to: str) -> exp.Expr:
    return exp.Anonymous(this="TRY_VARIANT_GET", expressions=[target, exp.Literal.string(path),
                                                              exp.Literal.string(to)])


def _json_path(node: exp.Expr) -> str:
    path = node.expression
    return path.sql(dialect="duckdb").strip("'") if path is not None else "$"


def _zip_unnest_subscripts(select: exp.Select) -> None:
    """``unnest(xs) AS x, generate_subscripts(xs, 1) AS n`` (DuckDB zips the two) -> one Spark
    ``inline(transform(xs, (v, i) -> named_struct('x', v, 'n', i + 1)))``."""
    projections = select.expressions
    unnests = [p for p in projections if isinstance(p, exp.Alias) and isinstance(p.this, exp.Explode)]
    subscripts = [p for p in projections if isinstance(p, exp.Alias)
                  and _function_name(p.this) == "generate_subscripts"]
    if not unnests or not subscripts:
        return
    (value,), (position,) = unnests, subscripts
    array = value.this.this.sql(dialect="spark")
    inline = sqlglot.parse_one(
        f"INLINE(TRANSFORM({array}, (v, i) -> NAMED_STRUCT('{value.alias}', v, '{position.alias}', i + 1)))",
        read="spark")
    kept = [p for p in projections if p is not value and p is not position]
    select.set("expressions", [*kept, inline])


def _untuple_subquery(query: exp.Expr) -> None:
    """DuckDB ``(a, b) IN (SELECT (a, b) ...)`` compares row values; Spark wants ``SELECT a, b``."""
    select = query.this if isinstance(query, exp.Subquery) else query
    if isinstance(select, exp.Select) and len(select.expressions) == 1 and isinstance(select.expressions[0], exp.Tuple):
        select.set("expressions", list(select.expressions[0].expressions))


_STRFTIME = {"Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "f": "SSSSSS",
             "y": "yy", "b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "j": "DDD", "z": "XX", "%": "%"}


def java_datetime_pattern(strftime: str) -> str:
    """``%Y-%m-%dT%H:%M:%SZ`` -> ``yyyy-MM-dd'T'HH:mm:ss'Z'``: SQLGlot leaves literal letters
    unquoted, which Spark reads as pattern letters and refuses."""
    out, literal, i = [], "", 0
    while i < len(strftime):
        if strftime[i] == "%" and i + 1 < len(strftime) and strftime[i + 1] in _STRFTIME:
            if literal:
                out.append(f"'{literal}'" if any(c.isalpha() for c in literal) else literal)
                literal = ""
            out.append(_STRFTIME[strftime[i + 1]])
            i += 2
            continue
        literal += strftime[i].replace("'", "''")
        i += 1
    if literal:
        out.append(f"'{literal}'" if any(c.isalpha() for c in literal) else literal)
    return "".join(out)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
