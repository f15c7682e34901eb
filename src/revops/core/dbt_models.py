"""What the dbt project declares about its models, read from the models' YAML: each column's description,
data type (the enforced contract) and accepted values.

The YAML beside each model is the one source of column docs and closed sets: the API's row models,
enums and OpenAPI descriptions are built from it (`api/schemas.py`), so SQL, API and docs cannot drift.
It is read directly, not from dbt's manifest, so nothing needs `dbt parse` first; descriptions that
point at a docs block (`{{ doc('workspace_id') }}`) are resolved from the project's `{% docs %}` blocks.
A test compares what this module reads with dbt's own manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from revops.core.paths import DBT_PROJECT_DIR

_DOC_REFERENCE = re.compile(r"""\{\{\s*doc\(\s*['"](\w+)['"]\s*\)\s*\}\}""")
_DOCS_BLOCK = re.compile(r"\{%-?\s*docs\s+(\w+)\s*-?%\}(.*?)\{%-?\s*enddocs\s*-?%\}", re.DOTALL)


class DbtProjectError(ValueError):
    """The models' YAML says something this module cannot read (or a model is not declared)."""


@dataclass(frozen=True)
class ModelColumn:
    name: str
    description: str
    data_type: str | None
    """The ClickHouse type the model's contract declares (None without one)."""
    accepted_values: tuple[str, ...] | None
    """The values an `accepted_values` test allows, if the column has one: a closed set."""


@dataclass(frozen=True)
class DbtModel:
    name: str
    description: str
    columns: Mapping[str, ModelColumn]
    """In the YAML's order."""
    contract_enforced: bool

    def column(self, name: str) -> ModelColumn:
        if name not in self.columns:
            raise DbtProjectError(f"model {self.name}: column {name!r} is not declared in its YAML")
        return self.columns[name]


def _docs_blocks(project_dir: Path) -> dict[str, str]:
    blocks: dict[str, str] = {}
    for path in sorted((project_dir / "models").rglob("*.md")):
        for name, text in _DOCS_BLOCK.findall(path.read_text()):
            blocks[name] = text.strip()
    return blocks


def _render(text: Any, blocks: Mapping[str, str], where: str) -> str:
    rendered = _DOC_REFERENCE.sub(lambda m: blocks.get(m.group(1), m.group(0)), str(text or "")).strip()
    if "{{" in rendered or "{%" in rendered:
        raise DbtProjectError(f"{where}: cannot render the description {text!r}")
    return rendered


def _accepted_values(tests: list[Any] | None, where: str) -> tuple[str, ...] | None:
    for test in tests or []:
        if isinstance(test, dict) and "accepted_values" in test:
            spec = test["accepted_values"] or {}
            values = (spec.get("arguments") or spec).get("values")
            if not isinstance(values, list) or not values:
                raise DbtProjectError(f"{where}: accepted_values without values")
            return tuple(str(value) for value in values)
    return None


def _models_in(path: Path) -> Iterator[dict[str, Any]]:
    document = yaml.safe_load(path.read_text()) or {}
    yield from document.get("models") or []


@lru_cache
def dbt_models(project_dir: Path = DBT_PROJECT_DIR) -> Mapping[str, DbtModel]:
    """Every model declared in the project's YAML, by name."""
    blocks = _docs_blocks(project_dir)
    models: dict[str, DbtModel] = {}
    for path in sorted((project_dir / "models").rglob("*.yml")):
        for entry in _models_in(path):
            name = entry["name"]
            columns = {}
            for column in entry.get("columns") or []:
                where = f"{path.name}: {name}.{column['name']}"
                columns[column["name"]] = ModelColumn(
                    name=column["name"],
                    description=_render(column.get("description"), blocks, where),
                    data_type=column.get("data_type"),
                    accepted_values=_accepted_values(column.get("data_tests") or column.get("tests"), where),
                )
            contract = (entry.get("config") or {}).get("contract") or {}
            models[name] = DbtModel(
                name=name,
                description=_render(entry.get("description"), blocks, f"{path.name}: {name}"),
                columns=columns,
                contract_enforced=bool(contract.get("enforced")),
            )
    return models


def dbt_model(name: str) -> DbtModel:
    """A model's declaration; `name` may be its relation (`marts.fct_ledger_entries`)."""
    model_name = name.rpartition(".")[2]
    models = dbt_models()
    if model_name not in models:
        raise DbtProjectError(f"no dbt model {model_name!r} is declared in {DBT_PROJECT_DIR / 'models'}")
    return models[model_name]
