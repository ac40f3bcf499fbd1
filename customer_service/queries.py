"""Read side: list / count / retrieve with filters, paging, order, select and relations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_service import models as m
from customer_service.errors import InvalidDataError, NotFoundError
from customer_service.filters import (
    ADDRESS,
    CUSTOMER,
    GROUP,
    EntitySpec,
    compile_filter,
)
from customer_service.schemas import (
    DTO,
    AddressDTO,
    CustomerDTO,
    FindConfig,
    GroupDTO,
    GroupRefDTO,
    MembershipDTO,
)

DTO_TYPES: dict[str, type[DTO]] = {
    "Customer": CustomerDTO,
    "CustomerAddress": AddressDTO,
    "CustomerGroup": GroupDTO,
    "CustomerGroupCustomer": MembershipDTO,
}

# relation name → (spec of the related entity, how it attaches)
RELATIONS: dict[str, dict[str, EntitySpec]] = {
    "Customer": {"addresses": ADDRESS, "groups": GROUP},
    "CustomerAddress": {"customer": CUSTOMER},
    "CustomerGroup": {"customers": CUSTOMER},
    "CustomerGroupCustomer": {"customer": CUSTOMER, "customer_group": GROUP},
}


def table(spec: EntitySpec) -> Table:
    return spec.model.__table__  # type: ignore[return-value]


def live(spec: EntitySpec) -> ColumnElement[bool]:
    return table(spec).c.deleted_at.is_(None)


def lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


def row_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def parse_config(config: FindConfig | Mapping[str, Any] | None) -> FindConfig:
    from customer_service.validation import validate

    if config is None:
        return FindConfig()
    if isinstance(config, FindConfig):
        return config
    return validate(FindConfig, config, "config")


def _split_select(
    spec: EntitySpec, config: FindConfig
) -> tuple[list[str] | None, dict[str, list[str] | None]]:
    """Top-level columns to return (None = all) and relations to load (with their columns)."""
    relations: dict[str, list[str] | None] = {}
    known = RELATIONS[spec.name]
    for rel in config.relations or []:
        if rel not in known:
            raise InvalidDataError(
                f"Unknown relation '{rel}' for {spec.name}", field="config.relations"
            )
        relations.setdefault(rel, None)
    if config.select is None:
        return None, relations
    columns: list[str] = []
    for path in config.select:
        head, _, rest = path.partition(".")
        if rest:
            if head not in known:
                raise InvalidDataError(
                    f"Unknown relation '{head}' in select", field="config.select"
                )
            target = known[head]
            if rest != "*" and rest not in target.columns:
                raise InvalidDataError(f"Unknown field '{path}' in select", field="config.select")
            current = relations.get(head, [])
            if current is not None:
                relations[head] = None if rest == "*" else [*current, rest]
        elif head in known:
            relations[head] = None
        elif head in spec.columns:
            columns.append(head)
        else:
            raise InvalidDataError(f"Unknown field '{path}' in select", field="config.select")
    if "id" not in columns:
        columns.insert(0, "id")
    return columns, relations


def build_query(
    spec: EntitySpec, filters: Mapping[str, Any] | None, config: FindConfig
) -> Select[Any]:
    tbl = table(spec)
    where = compile_filter(spec, filters)
    query = select(tbl).where(where)
    if not config.with_deleted:
        query = query.where(live(spec))
    return query


def _order(spec: EntitySpec, config: FindConfig) -> list[Any]:
    tbl = table(spec)
    clauses: list[Any] = []
    for field, direction in (config.order or {}).items():
        if field not in spec.columns:
            raise InvalidDataError(f"Order field {field} is not valid", field="config.order")
        column = tbl.c[field]
        clauses.append(column.desc() if direction.upper() == "DESC" else column.asc())
    if not any(getattr(c, "element", None) is tbl.c.id for c in clauses):
        clauses.append(tbl.c.id.asc())
    return clauses


async def list_rows(
    session: AsyncSession,
    spec: EntitySpec,
    filters: Mapping[str, Any] | None,
    config: FindConfig,
) -> list[DTO]:
    columns, relations = _split_select(spec, config)
    order = _order(spec, config)
    query = build_query(spec, filters, config).order_by(*order)
    if config.skip:
        query = query.offset(config.skip)
    if config.take is not None:
        query = query.limit(config.take)
    rows = [row_dict(r) for r in (await session.execute(query)).all()]
    await attach_relations(session, spec, rows, relations, config.with_deleted)
    return [to_dto(spec, r, columns, relations) for r in rows]


async def count_rows(
    session: AsyncSession, spec: EntitySpec, filters: Mapping[str, Any] | None, config: FindConfig
) -> int:
    query = build_query(spec, filters, config)
    result = await session.execute(select(func.count()).select_from(query.subquery()))
    return int(result.scalar_one())


async def retrieve_row(
    session: AsyncSession, spec: EntitySpec, entity_id: Any, config: FindConfig
) -> DTO:
    if not entity_id:
        raise NotFoundError(f"{lower_first(spec.name)} - id must be defined", field="id")
    if not isinstance(entity_id, str):
        raise InvalidDataError("Invalid id: expected a string", field="id")
    rows = await list_rows(session, spec, {"id": entity_id}, config)
    if not rows:
        raise NotFoundError(f"{spec.name} with id: {entity_id} was not found", field="id")
    return rows[0]


def to_dto(
    spec: EntitySpec,
    row: Mapping[str, Any],
    columns: Sequence[str] | None,
    relations: Mapping[str, list[str] | None],
) -> DTO:
    keep = columns if columns is not None else [c for c in spec.columns if c != "search_text"]
    data = {k: row[k] for k in keep if k in row}
    for rel in relations:
        data[rel] = row.get(rel)
    return DTO_TYPES[spec.name].model_validate(data)


def _sub_dto(spec: EntitySpec, row: Mapping[str, Any], columns: list[str] | None) -> dict[str, Any]:
    keep = columns if columns is not None else list(spec.columns)
    if "id" not in keep:
        keep = ["id", *keep]
    return {k: row[k] for k in keep if k in row}


async def attach_relations(
    session: AsyncSession,
    spec: EntitySpec,
    rows: list[dict[str, Any]],
    relations: Mapping[str, list[str] | None],
    with_deleted: bool,
) -> None:
    """Load each requested relation with one query and attach it to `rows` (in place)."""
    if not rows or not relations:
        return
    ids = [r["id"] for r in rows]
    pivot = m.CustomerGroupCustomer.__table__
    for rel, columns in relations.items():
        target = RELATIONS[spec.name][rel]
        ttbl = table(target)
        by_owner: dict[str, list[dict[str, Any]]] = defaultdict(list)
        live_target = [] if with_deleted else [ttbl.c.deleted_at.is_(None)]
        if spec is CUSTOMER and rel == "addresses":
            query = (
                select(ttbl).where(ttbl.c.customer_id.in_(ids), *live_target).order_by(ttbl.c.id)
            )
            for r in (await session.execute(query)).all():
                by_owner[r.customer_id].append(_sub_dto(target, row_dict(r), columns))
        elif (spec is CUSTOMER and rel == "groups") or (spec is GROUP and rel == "customers"):
            owner_col, target_col = (
                (pivot.c.customer_id, pivot.c.customer_group_id)
                if spec is CUSTOMER
                else (pivot.c.customer_group_id, pivot.c.customer_id)
            )
            query = (
                select(owner_col.label("owner_id"), ttbl)
                .select_from(pivot.join(ttbl, ttbl.c.id == target_col))
                .where(owner_col.in_(ids), pivot.c.deleted_at.is_(None), *live_target)
                .order_by(ttbl.c.id)
            )
            for r in (await session.execute(query)).all():
                data = row_dict(r)
                owner = data.pop("owner_id")
                if spec is CUSTOMER and columns is None:
                    data = {"id": data["id"], "name": data["name"]}
                    by_owner[owner].append(GroupRefDTO(**data).model_dump())
                else:
                    by_owner[owner].append(_sub_dto(target, data, columns))
        else:
            fk = "customer_id" if rel == "customer" else "customer_group_id"
            owner_ids = {r[fk] for r in rows}
            query = select(ttbl).where(ttbl.c.id.in_(owner_ids), *live_target)
            found = {
                r.id: _sub_dto(target, row_dict(r), columns)
                for r in (await session.execute(query)).all()
            }
            for owner in rows:
                owner[rel] = found.get(owner[fk])
            continue
        for owner in rows:
            owner[rel] = by_owner.get(owner["id"], [])
