"""Stock: locations, receiving and adjusting, and the holds carts reserve.

Every change of a stock row is one UPDATE (or upsert) whose WHERE clause or the table's check
constraints refuse what would make it wrong, followed by its ledger row and its
`inventory_update` event (published after commit). A reservation takes units at a location
only if `on_hand - reserved` still covers them at that moment, so two buyers never hold the
same unit whichever backend, process or worker they reach.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.commerce.errors import (
    InsufficientStock,
    LocationNameTaken,
    LocationNotFound,
    StockBelowReserved,
    VariantNotFound,
)
from bazaar.commerce.events import InventoryUpdated
from bazaar.commerce.models import Location, Product, StockHold, StockLevel, StockMovement, Variant
from bazaar.commerce.rules import Allocation, MovementKind, ProductStatus
from bazaar.commerce.schemas import LocationCreate, StockAdjust, StockReceive
from bazaar.events import record_event
from bazaar.pagination import fetch_page
from bazaar.stamps import new_id

RESERVE_ROUNDS = 3
"""Plans a reservation makes from fresh reads when a location's units went to another buyer
between its read and its update."""
SWEEP_BATCH = 500


@dataclass(frozen=True)
class StockKey:
    location_id: uuid.UUID
    variant_id: uuid.UUID


@dataclass(frozen=True)
class Change:
    """One change of a stock row, as the ledger records it."""

    kind: MovementKind
    on_hand: int = 0
    reserved: int = 0
    hold_id: uuid.UUID | None = None
    by: uuid.UUID | None = None
    note: str | None = None


async def create_location(*, session: AsyncSession, data: LocationCreate) -> Location:
    location = Location(**data.model_dump())
    session.add(location)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise LocationNameTaken(details={"name": data.name}) from exc
    return location


async def list_locations(
    *, session: AsyncSession, limit: int, offset: int
) -> tuple[list[Location], int]:
    query = select(Location).order_by(Location.priority, Location.name)
    return await fetch_page(session, query, limit=limit, offset=offset)


@dataclass(frozen=True)
class Owner:
    """The product a variant belongs to, as its events need it."""

    product_id: uuid.UUID
    public: bool


async def _product_of(session: AsyncSession, variant_id: uuid.UUID) -> Owner:
    found = await session.execute(
        select(Product.id, Product.status)
        .join(Variant, Variant.product_id == Product.id)
        .where(Variant.id == variant_id)
    )
    row = found.one_or_none()
    if row is None:
        raise VariantNotFound(details={"variant_id": str(variant_id)})
    return Owner(row[0], row[1] is ProductStatus.ACTIVE)


async def _check_location(session: AsyncSession, location_id: uuid.UUID) -> None:
    if await session.get(Location, location_id) is None:
        raise LocationNotFound(details={"location_id": str(location_id)})


async def _apply(
    session: AsyncSession,
    key: StockKey,
    change: Change,
    *,
    guard: ColumnElement[bool] | None = None,
) -> tuple[int, int] | None:
    """Applies `change` to the stock row, if the row exists and `guard` holds: (available,
    sequence) after it, or None."""
    table = StockLevel
    statement = (
        update(table)
        .where(table.location_id == key.location_id, table.variant_id == key.variant_id)
        .values(
            on_hand=table.on_hand + change.on_hand,
            reserved=table.reserved + change.reserved,
            sequence=table.sequence + 1,
        )
        .returning(table.on_hand - table.reserved, table.sequence)
    )
    if guard is not None:
        statement = statement.where(guard)
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (int(row[0]), int(row[1]))


async def _upsert_on_hand(session: AsyncSession, key: StockKey, units: int) -> tuple[int, int]:
    table = StockLevel
    values = {
        "location_id": key.location_id,
        "variant_id": key.variant_id,
        "on_hand": units,
        "reserved": 0,
        "sequence": 1,
    }
    added = {"on_hand": table.on_hand + units, "sequence": table.sequence + 1}
    conflict = [table.location_id, table.variant_id]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_update(index_elements=conflict, set_=added)
        .returning(table.on_hand - table.reserved, table.sequence)
    )
    row = (await session.execute(statement)).one()
    return int(row[0]), int(row[1])


def _record(
    session: AsyncSession,
    key: StockKey,
    change: Change,
    after: tuple[int, int],
    product: Owner,
) -> None:
    session.add(
        StockMovement(
            location_id=key.location_id,
            variant_id=key.variant_id,
            kind=change.kind,
            on_hand_delta=change.on_hand,
            reserved_delta=change.reserved,
            hold_id=change.hold_id,
            by_user_id=change.by,
            note=change.note,
        )
    )
    available, sequence = after
    record_event(
        session,
        InventoryUpdated(
            product_id=str(product.product_id),
            variant_id=str(key.variant_id),
            location_id=str(key.location_id),
            available=available,
            sequence=sequence,
            public=product.public,
        ),
    )


async def receive(
    *, session: AsyncSession, principal: Principal, data: StockReceive
) -> StockMovement:
    return await _add_on_hand(
        session,
        StockKey(data.location_id, data.variant_id),
        Change(MovementKind.RECEIVED, on_hand=data.quantity, by=principal.user_id, note=data.note),
    )


async def restock(
    *,
    session: AsyncSession,
    principal: Principal,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    quantity: int,
    note: str,
) -> StockMovement:
    """Returned units back on hand at a location."""
    change = Change(MovementKind.RETURNED, on_hand=quantity, by=principal.user_id, note=note)
    return await _add_on_hand(session, StockKey(location_id, variant_id), change)


async def _add_on_hand(session: AsyncSession, key: StockKey, change: Change) -> StockMovement:
    product = await _product_of(session, key.variant_id)
    await _check_location(session, key.location_id)
    _record(session, key, change, await _upsert_on_hand(session, key, change.on_hand), product)
    await session.flush()
    return await _last_movement(session, key)


async def adjust(
    *, session: AsyncSession, principal: Principal, data: StockAdjust
) -> StockMovement:
    """A count correction: on hand moves by `delta`, never below what carts hold."""
    product = await _product_of(session, data.variant_id)
    await _check_location(session, data.location_id)
    key = StockKey(data.location_id, data.variant_id)
    change = Change(MovementKind.ADJUSTED, on_hand=data.delta, by=principal.user_id, note=data.note)
    if data.delta >= 0:
        after: tuple[int, int] | None = await _upsert_on_hand(session, key, data.delta)
    else:
        fits = StockLevel.on_hand + data.delta - StockLevel.reserved >= 0
        after = await _apply(session, key, change, guard=fits)
    if after is None:
        level = await session.get(StockLevel, (key.location_id, key.variant_id))
        on_hand, reserved = (level.on_hand, level.reserved) if level else (0, 0)
        raise StockBelowReserved(details={"on_hand": on_hand, "reserved": reserved})
    _record(session, key, change, after, product)
    await session.flush()
    return await _last_movement(session, key)


async def _last_movement(session: AsyncSession, key: StockKey) -> StockMovement:
    found = await session.execute(
        select(StockMovement)
        .where(
            StockMovement.location_id == key.location_id, StockMovement.variant_id == key.variant_id
        )
        .order_by(StockMovement.id.desc())
        .limit(1)
    )
    return found.scalar_one()


async def list_movements(
    *,
    session: AsyncSession,
    variant_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[StockMovement], int]:
    where = []
    if variant_id is not None:
        where.append(StockMovement.variant_id == variant_id)
    if location_id is not None:
        where.append(StockMovement.location_id == location_id)
    query = select(StockMovement).where(*where).order_by(StockMovement.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def available_by_variant(
    *, session: AsyncSession, variant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not variant_ids:
        return {}
    rows = await session.execute(
        select(StockLevel.variant_id, func.sum(StockLevel.on_hand - StockLevel.reserved))
        .where(StockLevel.variant_id.in_(variant_ids))
        .group_by(StockLevel.variant_id)
    )
    return {variant_id: int(available) for variant_id, available in rows}


async def levels_of(
    *, session: AsyncSession, product_id: uuid.UUID
) -> list[tuple[Location, StockLevel]]:
    rows = await session.execute(
        select(Location, StockLevel)
        .join(StockLevel, StockLevel.location_id == Location.id)
        .join(Variant, Variant.id == StockLevel.variant_id)
        .where(Variant.product_id == product_id)
        .order_by(Location.priority, Location.name, Variant.sku)
    )
    return [(location, level) for location, level in rows]


def _in_allocation_order(
    statement: Select[uuid.UUID, int], allocation: Allocation
) -> Select[uuid.UUID, int]:
    available = StockLevel.on_hand - StockLevel.reserved
    if allocation is Allocation.HIGHEST_STOCK:
        return statement.order_by(available.desc(), Location.priority, Location.id)
    return statement.order_by(Location.priority, available.desc(), Location.id)


async def reserve(
    *,
    session: AsyncSession,
    principal: Principal,
    variant_id: uuid.UUID,
    cart_item_id: uuid.UUID,
    units: int,
    held: int,
    expires_at: datetime,
    allocation: Allocation,
) -> None:
    """Holds `units` more of the variant for a cart line that holds `held`, from one location
    or, when none covers them, split across several in `allocation` order. Raises
    InsufficientStock (the request's transaction then undoes any part taken)."""
    product = await _product_of(session, variant_id)
    available = StockLevel.on_hand - StockLevel.reserved
    needed = units
    for _ in range(RESERVE_ROUNDS):
        candidates = (
            select(StockLevel.location_id, available)
            .join(Location, Location.id == StockLevel.location_id)
            .where(StockLevel.variant_id == variant_id, available > 0)
        )
        rows = await session.execute(_in_allocation_order(candidates, allocation))
        free = [(location_id, int(units_free)) for location_id, units_free in rows]
        if sum(units_free for _, units_free in free) < needed:
            break
        for location_id, units_free in free:
            take = min(needed, units_free)
            key = StockKey(location_id, variant_id)
            change = Change(
                MovementKind.RESERVED, reserved=take, hold_id=new_id(), by=principal.user_id
            )
            after = await _apply(session, key, change, guard=available >= take)
            if after is None:
                continue  # taken meanwhile: plan again from what is left
            session.add(
                StockHold(
                    id=change.hold_id,
                    cart_item_id=cart_item_id,
                    location_id=location_id,
                    variant_id=variant_id,
                    quantity=take,
                    expires_at=expires_at,
                )
            )
            _record(session, key, change, after, product)
            needed -= take
            if needed == 0:
                await session.flush()
                return
    free_now = await available_by_variant(session=session, variant_ids=[variant_id])
    raise InsufficientStock(
        details={
            "variant_id": str(variant_id),
            "requested": held + units,
            "available": held + units - needed + free_now.get(variant_id, 0),
        }
    )


async def release(
    *,
    session: AsyncSession,
    holds: Sequence[uuid.UUID],
    by: uuid.UUID | None,
    note: str | None = None,
) -> int:
    """Releases the holds that still exist among `holds`; returns the units released. A hold
    is released once: whoever deletes it (the buyer or the sweeper) gives its units back."""
    if not holds:
        return 0
    return await _end_holds(
        session, StockHold.id.in_(holds), MovementKind.RELEASED, by=by, note=note
    )


async def sell(
    *, session: AsyncSession, cart_items: Sequence[uuid.UUID], by: uuid.UUID, note: str
) -> int:
    """The held units of the cart lines leave stock as sold: each hold's units come off both
    on hand and reserved, and the hold is gone. Returns the units sold."""
    where = StockHold.cart_item_id.in_(cart_items)
    return await _end_holds(session, where, MovementKind.SOLD, by=by, note=note)


async def _end_holds(
    session: AsyncSession,
    where: ColumnElement[bool],
    kind: MovementKind,
    *,
    by: uuid.UUID | None,
    note: str | None,
) -> int:
    """Deletes the holds `where` selects and settles each (`_settle`) once: a hold another
    transaction deleted first is not among them."""
    deleted = await session.execute(
        delete(StockHold)
        .where(where)
        .returning(StockHold.id, StockHold.location_id, StockHold.variant_id, StockHold.quantity)
    )
    return await _settle(session, list(deleted), kind, by=by, note=note)


async def _settle(
    session: AsyncSession,
    holds: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID, int]],
    kind: MovementKind,
    *,
    by: uuid.UUID | None,
    note: str | None,
) -> int:
    """Ends deleted holds: released units go back to available, sold ones leave on hand."""
    units = 0
    for hold_id, location_id, variant_id, quantity in sorted(holds, key=lambda r: (r[2], r[1])):
        product = await _product_of(session, variant_id)
        key = StockKey(location_id, variant_id)
        on_hand = -quantity if kind is MovementKind.SOLD else 0
        change = Change(
            kind, on_hand=on_hand, reserved=-quantity, hold_id=hold_id, by=by, note=note
        )
        after = await _apply(session, key, change)
        assert after is not None, "a hold's stock row exists while the hold does"
        _record(session, key, change, after, product)
        units += quantity
    await session.flush()
    return units


async def shrink(*, session: AsyncSession, hold: StockHold, units: int, by: uuid.UUID) -> None:
    """Gives back `units` of a hold that keeps the rest."""
    product = await _product_of(session, hold.variant_id)
    hold.quantity -= units
    key = StockKey(hold.location_id, hold.variant_id)
    change = Change(MovementKind.RELEASED, reserved=-units, hold_id=hold.id, by=by)
    after = await _apply(session, key, change)
    assert after is not None, "a hold's stock row exists while the hold does"
    _record(session, key, change, after, product)
    await session.flush()


async def release_expired(*, session: AsyncSession, now: datetime) -> int:
    """The sweeper: releases holds past their expiry, a batch at a time; returns the units."""
    due = select(StockHold.id).where(StockHold.expires_at < now).limit(SWEEP_BATCH)
    # The expiry is tested again on the row itself: a cart that extended a hold after the
    # batch was chosen keeps it (on PostgreSQL the row is re-read once its lock is free).
    where = and_(StockHold.id.in_(due.scalar_subquery()), StockHold.expires_at < now)
    return await _end_holds(session, where, MovementKind.RELEASED, by=None, note="hold expired")
