"""Medusa's HTTP query conventions (SPEC §3.4): query strings into nested values, `fields` into
the module's select/relations, `order`, `limit`/`offset` and `with_deleted` into a `FindConfig`.

Query strings are read as `qs` writes them (what `@medusajs/js-sdk` sends): `a[b]=v` and `a.b=v`
nest, `a[0]=x` / `a[]=x` / a repeated `a` make lists, and a single value with commas is split into
a list (except for free text, `fields` and `order`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from customer_service.errors import InvalidDataError
from customer_service.schemas import FindConfig
from customer_service.validation import validate

MAX_DEPTH = 5
MAX_INDEX = 100
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_NO_SPLIT = {"q", "fields", "order"}
_PATTERN_OPERATORS = {"$like", "$ilike", "$re", "$contains"}
_PAGING = ("fields", "offset", "limit", "order", "with_deleted")


def _path(key: str) -> list[str]:
    match = _KEY.match(key)
    if not match:
        raise InvalidDataError(f"Invalid request: Malformed query key '{key}'", field=key)
    head, brackets = match.groups()
    parts = head.split(".")
    if len(parts) > 2:
        raise InvalidDataError(f"Key accessor more than 1 level deep: {key}", field=key)
    parts += re.findall(r"\[([^\[\]]*)\]", brackets)
    if len(parts) > MAX_DEPTH:
        raise InvalidDataError(
            f"Invalid request: Query key '{key}' is nested too deeply", field=key
        )
    return parts


def _insert(target: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise InvalidDataError(f"Invalid request: Conflicting query key '{key}'", field=key)
    last = parts[-1]
    if last == "":  # a[]=x
        last = str(sum(1 for k in node if k.isdigit()))
    if last in node:
        existing = node[last]
        node[last] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        node[last] = value


def _lists(value: Any, key: str) -> Any:
    """Dicts whose keys are all indices become lists (qs's `a[0]=x&a[1]=y`)."""
    if not isinstance(value, dict):
        return value
    converted = {k: _lists(v, f"{key}.{k}") for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        if any(int(k) > MAX_INDEX for k in converted):
            raise InvalidDataError(f"Invalid request: Too many items for '{key}'", field=key)
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _split(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {
            k: v if k in _PATTERN_OPERATORS else _split(v, f"{key}.{k}") for k, v in value.items()
        }
    if isinstance(value, list):
        return [_split(v, key) for v in value]
    if isinstance(value, str) and "," in value:
        return value.split(",")
    return value


def parse_query(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The nested query of a request's `(key, value)` pairs."""
    tree: dict[str, Any] = {}
    for key, value in items:
        _insert(tree, _path(key), value, key)
    tree = {k: _lists(v, k) for k, v in tree.items()}
    return {k: v if k in _NO_SPLIT else _split(v, k) for k, v in tree.items()}


@dataclass(frozen=True)
class Shape:
    """What a route returns of an entity: its default fields, the relations it may add (with the
    columns a `*relation` selects) and, on store routes, the allow-list (anything else dropped)."""

    defaults: tuple[str, ...]
    relations: Mapping[str, tuple[str, ...]]
    allowed: frozenset[str]
    strict: bool = False  # admin: a field outside the list is an error; store: it is dropped

    def allows(self, path: str) -> bool:
        if path in self.allowed:
            return True
        if self.strict:
            raise InvalidDataError(
                f"Invalid request: Unknown field '{path}' in fields", field="fields"
            )
        return False


def select_fields(fields: str | None, shape: Shape) -> list[str]:
    """`fields` applied to the shape's defaults: entries without a prefix replace the defaults,
    `+f` (a `+` arrives as a space) adds, `-f` removes (and what is nested under it), `*rel` and
    `rel.*` add every column of a relation. `id` is always selected."""
    entries = [e for e in (fields or "").split(",") if e.strip()]
    plain = [e.strip() for e in entries if e[0] not in "+- *"]
    chosen: list[str] = plain or list(shape.defaults)
    for entry in entries:
        name = entry.strip().lstrip("+").strip()
        if entry.startswith("-"):
            name = entry[1:].strip()
            chosen = [c for c in chosen if c != name and not c.startswith(f"{name}.")]
        elif entry[0] in "+ ":
            chosen.append(name)
        elif entry.startswith("*"):
            chosen.append(f"{name[1:]}.*")
    expanded: list[str] = []
    for path in ["id", *chosen]:
        head, _, rest = path.partition(".")
        if head in shape.relations and rest in ("", "*"):
            expanded += [f"{head}.{column}" for column in shape.relations[head]]
        else:
            expanded.append(path)
    return [p for p in dict.fromkeys(expanded) if shape.allows(p)]


def find_config(
    query: Mapping[str, Any],
    shape: Shape,
    *,
    order_allowed: Sequence[str] | None = None,
    paged: bool = True,
) -> FindConfig:
    """The module's FindConfig for a validated query (`fields`, `order`, paging, with_deleted)."""
    config: dict[str, Any] = {"select": select_fields(query.get("fields"), shape)}
    order = query.get("order")
    if order:
        name = order.removeprefix("-")
        if order_allowed is not None and name not in order_allowed:
            raise InvalidDataError(f"Order field {name} is not valid", field="order")
        config["order"] = {name: "DESC" if order.startswith("-") else "ASC"}
    if paged:
        config["skip"] = query.get("offset", 0)
        config["take"] = query.get("limit", 50)
    if query.get("with_deleted"):
        config["with_deleted"] = True
    return validate(FindConfig, config, "query")


def filters_of(query: Mapping[str, Any], fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every validated key that is not paging or shape is a module filter (SPEC §3.4)."""
    filters = {k: v for k, v in query.items() if k not in _PAGING}
    return {**filters, **(fixed or {})}
