"""Partner records -> contract events, as one SQL statement built from the source's mapping.

The input relation ``partner_records`` holds the partner's columns plus ``__file`` (which file of
a batch of small files the record came from; 0 for one file or an API page), ``__line`` (where the
record starts in its file, or its index in an API page) and ``__error`` (set when the record could
not even be split into columns). Orders of line-grain sources are grouped within their file.
The output is one JSON payload per event, in the contract's shape, for Bronze.

A value that does not fit its contract type is passed through as a JSON string rather than
dropped, so Silver quarantines the record with the exact reason (``invalid_type:lines.quantity``)
and its line. An empty value is left out, so Silver reports ``missing_field``.
"""

from __future__ import annotations

from salesflow.config.sources import FieldSpec, MappingSpec
from salesflow.models import Model, load_model

STRING_FIELDS = {"event_id", "event_type", "order_id", "customer_id", "store_id", "channel", "currency",
                 "payment_method", "session_id", "product_id", "lines.product_id"}
INTEGER_FIELDS = {"quantity", "lines.quantity"}
AMOUNT_FIELDS = {"total_amount", "lines.unit_price", "lines.discount"}
_OFFSET = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"


def mapping_model(spec: MappingSpec, source: str, reporting_currency: str) -> Model:
    return Model(f"sources.mapping.{source}", _MappingSql(spec, source, reporting_currency).sql())


def _from_amount(amount: FieldSpec, quantity: FieldSpec | None, spec: MappingSpec) -> dict[str, FieldSpec]:
    """A line known only by its amount: the unit price is the amount over the quantity rounded up to
    the cent, and the rounding comes back as the line's discount, so the line's revenue is the amount
    to the cent (12 CDs for 100.00: 8.34 each, 0.08 off). Amount parsing (separators, scale) is the
    amount's own; currency conversion then applies to the price and the discount as to any amount."""
    text = NULLIF_TRIM.format(_source(amount))
    if spec.thousands:
        text = f"replace({text}, {sql_string(spec.thousands)}, '')"
    if spec.decimal == ",":
        text = f"replace({text}, ',', '.')"
    cents = f"round(TRY_CAST({text} AS DOUBLE) * {amount.scale if amount.scale is not None else 1!r} * 100)"
    count = "NULL" if quantity is None else f"TRY_CAST({NULLIF_TRIM.format(_source(quantity))} AS BIGINT)"
    # Quantity 0 (a value line: weighed goods, a deposit) or none: the price is the whole amount
    # (and with none, Silver names the missing quantity). A return (quantity and amount negative)
    # gets a positive price and a negative rounding discount, as a return line has.
    per_unit = f"COALESCE(ceil({cents} / NULLIF({count}, 0)), {cents})"
    units = f"COALESCE(NULLIF({count}, 0), 1)"
    return {"lines.unit_price": FieldSpec(expr=f"{per_unit} / 100"),
            "lines.discount": FieldSpec(expr=f"({per_unit} * {units} - {cents}) / 100")}


NULLIF_TRIM = "NULLIF(trim(CAST({} AS VARCHAR)), '')"


def number_text(raw: str, spec: MappingSpec) -> str:
    """A number given as text in the source's notation (``1.234,50``) as SQL's (``1234.50``)."""
    text = raw
    if spec.thousands:
        text = f"replace({text}, {sql_string(spec.thousands)}, '')"
    if spec.decimal == ",":
        text = f"replace({text}, ',', '.')"
    return text


def field_text(f: FieldSpec) -> str:
    """The field's value as trimmed text, NULL when empty."""
    return NULLIF_TRIM.format(_source(f))


def _source(f: FieldSpec) -> str:
    if f.column is not None:
        return quote_ident(f.column)
    if f.expr is not None:
        # TRY: an expression that fails on one row (an overflow, a cast) is that row's
        # invalid_value (_MappingSql._value_errors), not an error of the whole file.
        return f"TRY({f.expr})"
    return sql_string(f.const) if isinstance(f.const, str) else repr(f.const)


def local_instant(naive: str, zone: str) -> str:
    """A wall-clock time of ``zone`` as an instant, read with the offset in force before a change
    (Python's zoneinfo, fold=0): a time the spring-forward gap skips moves on by the gap (02:30 in
    Berlin is 03:30 CEST), a time the autumn overlap repeats is its first occurrence (02:30 CEST).
    DuckDB alone reads the overlap as the second: the offset of the day before decides instead
    when it gives that very wall-clock time back."""
    before = f"({naive} - INTERVAL 1 DAY)"
    offset = f"({before} - CAST(timezone({zone}, {before}) AS TIMESTAMP))"
    first = f"timezone('UTC', {naive} - {offset})"
    return f"CASE WHEN timezone({zone}, {first}) = {naive} THEN {first} ELSE timezone({zone}, {naive}) END"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def referenced_columns(spec: MappingSpec) -> set[str]:
    return {f.column for f in spec.fields.values() if f.column is not None}


class _MappingSql:
    def __init__(self, spec: MappingSpec, source: str, reporting_currency: str) -> None:
        self.spec, self.source, self.reporting = spec, source, reporting_currency
        fields = dict(spec.fields)
        fields.setdefault("event_type", FieldSpec(const="order_created"))
        if "lines.amount" in fields:
            fields.update(_from_amount(fields.pop("lines.amount"), fields.get("lines.quantity"), spec))
        if "event_id" not in fields and "order_id" in fields:
            # A stable id: the same order delivered twice is caught as a duplicate in Silver.
            fields["event_id"] = FieldSpec(expr=f"{sql_string(source + ':')} || {self._raw(fields['order_id'])}")
        self.fields = fields
        self.checked = dict(spec.fields)
        """The fields as the operator mapped them (lines.amount, not the price derived from it):
        the names a value error is reported under."""

    def sql(self) -> str:
        has_lines = any(name.startswith("lines.") for name in self.fields)
        head = {name: self._json(name, f) for name, f in self.fields.items() if not name.startswith("lines.")}
        line = self._line_json() if has_lines else "NULL"
        line_revenue = self._line_revenue() if has_lines else "NULL"
        head_cols = ",\n    ".join(f"{expr} AS {quote_ident('j_' + name)}" for name, expr in head.items())
        mapped = f"""SELECT __file, __line, COALESCE(__error, {self._value_errors()}) AS __error, __raw,
    {head_cols},
    {line} AS j_line, {line_revenue} AS line_revenue
FROM partner_records"""  # noqa: S608 - the mapping is the operator's SQL from config
        line_rules = ""
        if self.spec.grain == "line":
            line_rules, grouped = self._line_grain(head)
        else:
            grouped = """SELECT * EXCLUDE (j_line, line_revenue), '[' || j_line || ']' AS j_lines,
    line_revenue AS revenue, line_revenue IS NOT NULL AS revenue_known, 0 AS quarantined_lines
FROM mapped"""
        members = [f"'\"{name}\":' || {quote_ident('j_' + name)}" for name in head if name != "total_amount"]
        lines_total = "CAST(TRY_CAST(revenue AS DECIMAL(18, 2)) AS VARCHAR)"
        if has_lines:
            members.append("'\"lines\":' || j_lines")
            members.append("CASE WHEN quarantined_lines > 0 THEN '\"quarantined_lines\":' || quarantined_lines END")
        if "total_amount" in head:
            # A basket that lost lines to quarantine totals what it kept: the partner's total
            # (of every line) would no longer match, and its lines' money is in quarantine.
            members.append(f"'\"total_amount\":' || CASE WHEN quarantined_lines > 0 AND revenue_known "
                           f"THEN {lines_total} ELSE j_total_amount END")
        elif has_lines:
            # Unknown line amounts give 0, so Silver names the bad line field, not the total.
            members.append(f"'\"total_amount\":' || CASE WHEN revenue_known THEN {lines_total} ELSE '0' END")
        payload = "'{' || concat_ws(',', " + ", ".join(members) + ") || '}'"
        return f"""WITH mapped AS (
{mapped}
),{line_rules}
grouped AS (
{grouped}
)
SELECT CASE WHEN __error IS NULL OR __raw IS NULL THEN {payload} ELSE __raw END AS payload,
    CAST(__line AS BIGINT) AS line, __error AS ingest_error, CAST(__file AS INTEGER) AS file
FROM grouped
ORDER BY __file, __line"""  # noqa: S608 - the mapping is the operator's SQL from config

    def _line_grain(self, head: dict[str, str]) -> tuple[str, str]:
        """One order per (file, order id) of the rows whose line keeps the contract; a row whose line
        breaks it (``silver._line_rules``, the rules Silver applies) is a record of its own: a
        one-line order carrying that verdict as its ingest error, so Silver quarantines it with the
        line's reason, file line and money. The order counts such rows (``quarantined_lines``) and
        totals the lines it kept."""
        order_id = quote_ident("j_order_id")
        first = ", ".join(f"arg_min({quote_ident('j_' + n)}, __line) AS {quote_ident('j_' + n)}"
                          for n in head if n != "order_id")
        rules = f"""
line_items AS (
    SELECT 0 AS batch_id, CAST(__file AS BIGINT) * 4294967296 + __line AS record_seq, 1 AS line_number,
        CAST(j_line AS JSON) AS item
    FROM mapped WHERE __error IS NULL AND {order_id} IS NOT NULL
),
{load_model("silver._line_rules").sql.rstrip()},
judged AS (
    SELECT m.*, v.problem AS line_problem,
        count(COALESCE(v.problem, m.__error)) OVER (PARTITION BY m.__file, m.{order_id})
            AS quarantined_lines
    FROM mapped m
    LEFT JOIN line_verdicts v ON v.record_seq = CAST(m.__file AS BIGINT) * 4294967296 + m.__line
),"""  # noqa: S608 - the mapping is the operator's SQL from config
        grouped = f"""SELECT __file, min(__line) AS __line, NULL AS __error, NULL AS __raw,
    {order_id}, {first},
    '[' || string_agg(j_line, ',' ORDER BY __line) || ']' AS j_lines,
    sum(line_revenue) AS revenue, bool_and(line_revenue IS NOT NULL) AS revenue_known,
    max(quarantined_lines) AS quarantined_lines
FROM judged WHERE __error IS NULL AND {order_id} IS NOT NULL AND line_problem IS NULL
GROUP BY __file, {order_id}
UNION ALL BY NAME
SELECT __file, __line, COALESCE(__error, line_problem) AS __error, __raw,
    * EXCLUDE (__file, __line, __error, __raw, j_line, line_revenue, line_problem, quarantined_lines),
    '[' || j_line || ']' AS j_lines, line_revenue AS revenue, line_revenue IS NOT NULL AS revenue_known,
    0 AS quarantined_lines
FROM judged WHERE __error IS NOT NULL OR {order_id} IS NULL OR line_problem IS NOT NULL"""  # noqa: S608 - the mapping is the operator's SQL from config
        return rules, grouped

    def _value_errors(self) -> str:
        """The first mapped field whose value does not compute: an expression that fails, or a number
        that is not finite (a division by zero, NaN, infinity) or beyond a BIGINT. The row is then
        quarantined alone as ``invalid_value:<field>`` with its mapped values, never a crash."""
        cases = []
        for name, f in self.checked.items():
            if f.expr is not None:
                cases.append(f"WHEN TRY(({f.expr}) IS NULL) IS NULL THEN {sql_string('invalid_value:' + name)}")
            if name in AMOUNT_FIELDS | INTEGER_FIELDS | {"lines.amount"}:
                number = f"TRY_CAST({self._number(self._raw(f))} AS DOUBLE)"
                limit = " OR abs({0}) > 9.2e18".format(number) if name in INTEGER_FIELDS else ""
                cases.append(f"WHEN NOT isfinite({number}){limit} THEN {sql_string('invalid_value:' + name)}")
        return f"CASE {' '.join(cases)} END" if cases else "NULL"

    # -- one field ------------------------------------------------------------------------
    def _raw(self, f: FieldSpec) -> str:
        return NULLIF_TRIM.format(_source(f))

    def _json(self, name: str, f: FieldSpec) -> str:
        raw = self._raw(f)
        as_text = f"CAST(to_json({raw}) AS VARCHAR)"
        if name == "currency" and self.spec.fx_rates:
            converted = ", ".join(sql_string(c) for c in self.spec.fx_rates)
            return f"CASE WHEN {raw} IN ({converted}) THEN {sql_string(chr(34) + self.reporting + chr(34))} " \
                   f"ELSE {as_text} END"
        if name in INTEGER_FIELDS:
            return f"COALESCE(CAST(TRY_CAST({self._number(raw)} AS BIGINT) AS VARCHAR), {as_text})"
        if name in AMOUNT_FIELDS:
            return f"COALESCE({self._amount_text(name, f)}, {as_text})"
        if name == "event_time":
            utc = f"strftime(timezone('UTC', {self._instant(raw, f)}), '%Y-%m-%dT%H:%M:%S.%fZ')"
            return f"COALESCE(CAST(to_json({utc}) AS VARCHAR), {as_text})"
        return as_text

    def _number(self, raw: str) -> str:
        return number_text(raw, self.spec)

    def _amount(self, name: str, f: FieldSpec) -> str:
        value = f"TRY_CAST({self._number(self._raw(f))} AS DOUBLE)"
        if f.scale is not None:
            value = f"({value} * {f.scale!r})"
        if self.spec.fx_rates and "currency" in self.fields:
            currency = self._raw(self.fields["currency"])
            cases = " ".join(f"WHEN {sql_string(c)} THEN {rate!r}" for c, rate in self.spec.fx_rates.items())
            value = f"round({value} * CASE {currency} {cases} ELSE 1 END, 2)"
        return f"round({value}, 6)"

    def _amount_text(self, name: str, f: FieldSpec) -> str:
        value = self._amount(name, f)
        return f"CASE WHEN isfinite({value}) THEN CAST({value} AS VARCHAR) END"

    def _instant(self, raw: str, f: FieldSpec) -> str:
        zone = sql_string(f.timezone or self.spec.timezone)
        if f.format is not None:
            parsed = f"TRY_STRPTIME({raw}, {sql_string(f.format)})"
            return parsed if "%z" in f.format or "%Z" in f.format else local_instant(parsed, zone)
        return (f"CASE WHEN regexp_matches({raw}, {sql_string(_OFFSET)}) THEN TRY_CAST({raw} AS TIMESTAMPTZ) "
                f"ELSE {local_instant(f'TRY_CAST({raw} AS TIMESTAMP)', zone)} END")

    def _line_json(self) -> str:
        parts = [f"'\"{n[6:]}\":' || {self._json(n, self.fields[n])}" for n in
                 ("lines.product_id", "lines.quantity", "lines.unit_price", "lines.discount") if n in self.fields]
        return "'{' || concat_ws(',', " + ", ".join(parts) + ") || '}'"

    def _line_revenue(self) -> str:
        quantity = self.fields.get("lines.quantity")
        price = self.fields.get("lines.unit_price")
        if quantity is None or price is None:
            return "NULL"
        q = f"TRY_CAST({self._number(self._raw(quantity))} AS BIGINT)"
        p = f"TRY_CAST({self._amount('lines.unit_price', price)} AS DECIMAL(18, 2))"
        discount = self.fields.get("lines.discount")
        d = "0" if discount is None else \
            f"COALESCE(TRY_CAST({self._amount('lines.discount', discount)} AS DECIMAL(18, 2)), 0)"
        # As Silver counts it (a value line, quantity 0, counts its price once); beyond DECIMAL(18, 2):
        # unknown, and the line is quarantined.
        return f"TRY(CASE WHEN {q} = 0 THEN {p} ELSE {q} * {p} END - {d})"

