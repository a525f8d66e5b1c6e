"""The catalog and stock over HTTP: products and variants, their availability, locations and
the stock ledger. Product ids are UUIDs (`routing.Route`), so `/products/search` and
`/products/inventory/{id}` are never taken for a product id."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from bazaar.auth.dependencies import StaffOnly
from bazaar.commerce import inventory, service
from bazaar.commerce.dependencies import CatalogReader, ProductDep, ShopDep, VariantDep
from bazaar.commerce.errors import (
    InvalidPrice,
    LocationNameTaken,
    LocationNotFound,
    SkuTaken,
    StockBelowReserved,
    VariantNotFound,
)
from bazaar.commerce.schemas import (
    InventoryRead,
    LocationCreate,
    LocationRead,
    MovementRead,
    Price,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    StockAdjust,
    StockReceive,
    VariantCreate,
    VariantRead,
    VariantUpdate,
)
from bazaar.commerce.service import Filters
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.idempotency import IdempotencyDep
from bazaar.pagination import Page, Paging
from bazaar.routing import Route
from bazaar.text import Line

router = APIRouter(route_class=Route, tags=["commerce"])

SearchText = Annotated[Line, Query(min_length=1, max_length=200, description="Words to look for")]
Label = Annotated[Line | None, Query(min_length=1, max_length=100)]
PriceBound = Annotated[Price | None, Query(description="Base price bound, inclusive")]


@router.get("/products")
async def list_products(
    session: SessionDep,
    principal: CatalogReader,
    shop: ShopDep,
    page: Paging,
    category: Label = None,
    brand: Label = None,
    min_price: PriceBound = None,
    max_price: PriceBound = None,
    in_stock: bool | None = None,
    search: Annotated[Line | None, Query(min_length=1, max_length=200)] = None,
) -> Page[ProductRead]:
    """Active products for buyers, every product for staff; newest first, or by relevance
    when `search` is given (typo-tolerant, see `/products/search`). Each carries its
    availability and stock status."""
    filters = Filters(category, brand, min_price, max_price, in_stock, search)
    items, total = await service.list_products(
        session=session,
        principal=principal,
        shop=shop,
        filters=filters,
        limit=page.limit,
        offset=page.offset,
    )
    return page.of(items, total)


@router.get("/products/search")
async def search_products(
    session: SessionDep, principal: CatalogReader, shop: ShopDep, page: Paging, q: SearchText
) -> Page[ProductRead]:
    """Full-text search, best match first: every word must match, as a prefix of a catalog
    word or, failing that, as a typo of one ("lapotp" finds "laptop")."""
    items, total = await service.list_products(
        session=session,
        principal=principal,
        shop=shop,
        filters=Filters(search=q),
        limit=page.limit,
        offset=page.offset,
    )
    return page.of(items, total)


@router.post("/products", status_code=201, responses=error_responses(SkuTaken, InvalidPrice))
async def create_product(
    body: ProductCreate, session: SessionDep, principal: StaffOnly, shop: ShopDep
) -> ProductRead:
    """A product with its variants (each SKU unique across the shop)."""
    return await service.create_product(session=session, shop=shop, data=body)


@router.get("/products/inventory/{product_id}")
async def product_inventory(product: ProductDep, session: SessionDep) -> InventoryRead:
    """Stock of the product per location (with its address) and variant: on hand, reserved
    by carts, available; and the totals."""
    return await service.inventory_of(session=session, product=product)


@router.get("/products/{product_id}")
async def get_product(product: ProductDep, session: SessionDep, shop: ShopDep) -> ProductRead:
    """The product with its variants and availability."""
    return (await service.read_products(session=session, shop=shop, products=[product]))[0]


@router.put("/products/{product_id}", responses=error_responses(InvalidPrice))
async def update_product(
    principal: StaffOnly,
    body: ProductUpdate,
    product: ProductDep,
    session: SessionDep,
    shop: ShopDep,
) -> ProductRead:
    """Changes the fields sent; the search index follows in the same transaction."""
    return await service.update_product(session=session, shop=shop, product=product, data=body)


@router.post(
    "/products/{product_id}/variants",
    status_code=201,
    responses=error_responses(SkuTaken, InvalidPrice),
)
async def add_variant(
    principal: StaffOnly,
    body: VariantCreate,
    product: ProductDep,
    session: SessionDep,
    shop: ShopDep,
) -> VariantRead:
    """A new variant of the product, with nothing in stock yet."""
    variant = await service.add_variant(session=session, shop=shop, product=product, data=body)
    return await service.read_variant(session=session, shop=shop, product=product, variant=variant)


@router.put(
    "/products/{product_id}/variants/{variant_id}",
    responses=error_responses(SkuTaken, InvalidPrice),
)
async def update_variant(
    principal: StaffOnly,
    body: VariantUpdate,
    product: ProductDep,
    variant: VariantDep,
    session: SessionDep,
    shop: ShopDep,
) -> VariantRead:
    """Changes the fields sent; `price: null` drops the override."""
    await service.update_variant(session=session, shop=shop, variant=variant, data=body)
    return await service.read_variant(session=session, shop=shop, product=product, variant=variant)


@router.post("/inventory/locations", status_code=201, responses=error_responses(LocationNameTaken))
async def create_location(
    body: LocationCreate, session: SessionDep, principal: StaffOnly
) -> LocationRead:
    """A warehouse or store that holds stock; a lower `priority` is used first."""
    location = await inventory.create_location(session=session, data=body)
    return LocationRead.model_validate(location)


@router.get("/inventory/locations")
async def list_locations(
    session: SessionDep, principal: StaffOnly, page: Paging
) -> Page[LocationRead]:
    """The locations, in priority order, a page at a time."""
    rows, total = await inventory.list_locations(
        session=session, limit=page.limit, offset=page.offset
    )
    return page.of([LocationRead.model_validate(row) for row in rows], total)


@router.post(
    "/inventory/receive",
    status_code=201,
    response_model=MovementRead,
    responses=error_responses(VariantNotFound, LocationNotFound),
)
async def receive_stock(
    body: StockReceive, session: SessionDep, principal: StaffOnly, claim: IdempotencyDep
) -> Response:
    """Units arrived at a location. Send an `Idempotency-Key`: a retry is not counted twice."""
    if claim.replay is not None:
        return claim.replay
    movement = await inventory.receive(session=session, principal=principal, data=body)
    return await claim.respond(session, status_code=201, body=MovementRead.model_validate(movement))


@router.post(
    "/inventory/adjust",
    status_code=201,
    response_model=MovementRead,
    responses=error_responses(VariantNotFound, LocationNotFound, StockBelowReserved),
)
async def adjust_stock(
    body: StockAdjust, session: SessionDep, principal: StaffOnly, claim: IdempotencyDep
) -> Response:
    """A count correction by `delta` units, with its reason; never below what carts hold."""
    if claim.replay is not None:
        return claim.replay
    movement = await inventory.adjust(session=session, principal=principal, data=body)
    return await claim.respond(session, status_code=201, body=MovementRead.model_validate(movement))


@router.get("/inventory/movements")
async def list_movements(
    session: SessionDep,
    principal: StaffOnly,
    page: Paging,
    variant_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
) -> Page[MovementRead]:
    """The stock ledger, oldest first: every receipt, adjustment, reservation and release."""
    rows, total = await inventory.list_movements(
        session=session,
        variant_id=variant_id,
        location_id=location_id,
        limit=page.limit,
        offset=page.offset,
    )
    return page.of([MovementRead.model_validate(row) for row in rows], total)
