"""SQL models: one file per transformation, DuckDB dialect, logical relation names only.

A model may use ``{{ name }}`` placeholders; they are filled from the contract's vocabulary and
the run's parameters as SQL literals, so accepted values live in one place (the contract).
``{{> layer._name }}`` includes a partial's text where it stands (CTEs several
models share, so a rule has one definition).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources

from salesflow.errors import ModelError

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_PARTIAL = re.compile(r"\{\{>\s*([\w.]+)\s*\}\}")


@dataclass(frozen=True)
class Model:
    name: str
    sql: str

    @property
    def placeholders(self) -> set[str]:
        return set(_PLACEHOLDER.findall(self.sql))

    def render(self, **params: object) -> str:
        missing = self.placeholders - params.keys()
        if missing:
            raise ModelError(f"model {self.name} needs parameters {sorted(missing)}")
        return _PLACEHOLDER.sub(lambda m: sql_literal(params[m.group(1)]), self.sql)


@cache
def load_model(name: str) -> Model:
    """Load ``layer.model`` from ``salesflow/models/<layer>/<model>.sql``."""
    layer, _, model = name.partition(".")
    try:
        text = sql_resource(__package__, layer, model)
    except FileNotFoundError:
        raise ModelError(f"no SQL model named {name}") from None
    return Model(name=name, sql=_PARTIAL.sub(lambda m: load_model(m.group(1)).sql.rstrip("\n"), text))


def sql_resource(package: str, folder: str, name: str) -> str:
    """The text of ``<folder>/<name>.sql`` shipped inside ``package``: the one way SQL files are
    read (models, warehouse loads, analytics queries)."""
    return resources.files(package).joinpath(folder, f"{name}.sql").read_text()


def sql_resources(package: str, folder: str) -> list[tuple[str, str]]:
    """Every ``(name, text)`` of the ``.sql`` files in ``package``'s ``folder``, by name."""
    found = resources.files(package).joinpath(folder).iterdir()
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in sorted(found, key=lambda f: f.name)
            if f.name.endswith(".sql")]


def sql_literal(value: object) -> str:
    """Render a trusted template value (contract vocabulary, config numbers) as a SQL literal."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMPTZ '{value.isoformat()}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if value is None:
        return "NULL"
    if isinstance(value, tuple):  # a tuple renders as an IN-list: ('a', 'b')
        return "(" + ", ".join(sql_literal(v) for v in value) + ")" if value else "(NULL)"
    if isinstance(value, list):  # a list renders as a list value: ['a', 'b']
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise ModelError(f"cannot render {type(value).__name__} as a SQL literal")
