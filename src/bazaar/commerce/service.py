"""The catalog: products and their variants, listed and searched with their availability.
Services flush; the request commits. Other domains use commerce through this module only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, Float, Select, cast, exists, func, null, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.commerce import inventory, rules, search
from bazaar.commerce.errors import InvalidPrice, ProductNotFound, SkuTaken, VariantNotFound
from bazaar.commerce.models import Product, StockLevel, Variant
from bazaar.commerce.rules import Shop
from bazaar.commerce.schemas import (
    InventoryRead,
    LocationRead,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    StockLevelRead,
    VariantCreate,
    VariantRead,
    VariantUpdate,
)
from bazaar.commerce.scope import products_visible
from bazaar.money import fits, in_currency, places


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    brand: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    search: str | None = None


def check_price(shop: Shop, field: str, price: Decimal | None) -> None:
    if price is not None and not fits(price, shop.currency):
        raise InvalidPrice(
            details={"field": field, "currency": shop.currency, "places": places(shop.currency)}
        )


async def get_product(
    *, session: AsyncSession, principal: Principal, product_id: uuid.UUID
) -> Product:
    found = await session.execute(
        select(Product).where(Product.id == product_id, products_visible(principal))
    )
    product = found.scalar_one_or_none()
    if product is None:
        raise ProductNotFound(details={"product_id": str(product_id)})
    return product


async def get_variant(*, session: AsyncSession, product: Product, variant_id: uuid.UUID) -> Variant:
    variant = await session.get(Variant, variant_id)
    if variant is None or variant.product_id != product.id:
        raise VariantNotFound(details={"variant_id": str(variant_id)})
    return variant


async def _flush_variants(session: AsyncSession, skus: Sequence[str]) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise SkuTaken(details={"skus": list(skus)}) from exc


def _check_variant_prices(shop: Shop, variants: Sequence[VariantCreate | VariantUpdate]) -> None:
    for variant in variants:
        check_price(shop, "price", variant.price)


async def create_product(*, session: AsyncSession, shop: Shop, data: ProductCreate) -> ProductRead:
    check_price(shop, "base_price", data.base_price)
    _check_variant_prices(shop, data.variants)
    product = Product(**data.model_dump(exclude={"variants"}))
    session.add(product)
    await session.flush()
    session.add_all(Variant(product_id=product.id, **v.model_dump()) for v in data.variants)
    await _flush_variants(session, [v.sku for v in data.variants])
    return (await read_products(session=session, shop=shop, products=[product]))[0]


async def update_product(
    *, session: AsyncSession, shop: Shop, product: Product, data: ProductUpdate
) -> ProductRead:
    check_price(shop, "base_price", data.base_price)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            continue  # every field of a product has a value: null leaves it as it is
        setattr(product, name, value)
    await session.flush()
    return (await read_products(session=session, shop=shop, products=[product]))[0]


async def add_variant(
    *, session: AsyncSession, shop: Shop, product: Product, data: VariantCreate
) -> Variant:
    _check_variant_prices(shop, [data])
    variant = Variant(product_id=product.id, **data.model_dump())
    session.add(variant)
    await _flush_variants(session, [data.sku])
    return variant


async def update_variant(
    *, session: AsyncSession, shop: Shop, variant: Variant, data: VariantUpdate
) -> Variant:
    _check_variant_prices(shop, [data])
    for name, value in data.model_dump(exclude_unset=True).items():
        if name == "sku" and value is None:
            continue
        setattr(variant, name, value)
    await _flush_variants(session, [variant.sku])
    return variant


def _filtered(principal: Principal, filters: Filters) -> list[ColumnElement[bool]]:
    where = [products_visible(principal)]
    if filters.category is not None:
        where.append(Product.category == filters.category)
    if filters.brand is not None:
        where.append(Product.brand == filters.brand)
    if filters.min_price is not None:
        where.append(Product.base_price >= filters.min_price)
    if filters.max_price is not None:
        where.append(Product.base_price <= filters.max_price)
    if filters.in_stock is not None:
        stocked = exists().where(
            Variant.product_id == Product.id,
            StockLevel.variant_id == Variant.id,
            StockLevel.on_hand - StockLevel.reserved > 0,
        )
        where.append(stocked if filters.in_stock else ~stocked)
    return where


async def list_products(
    *,
    session: AsyncSession,
    principal: Principal,
    shop: Shop,
    filters: Filters,
    limit: int,
    offset: int,
) -> tuple[list[ProductRead], int]:
    """Newest first, or by relevance when searching (then each carries its `relevance`)."""
    where = _filtered(principal, filters)
    statement: Select[Product, float | None]
    if filters.search is None:
        statement = select(Product, cast(null(), Float)).where(*where)
        ordered = statement.order_by(Product.id.desc())
    else:
        found = await search.plan(session, filters.search)
        if not found:
            return [], 0
        matches = search.ranked(session, found)
        statement = (
            select(Product, matches.c.score)
            .join(matches, matches.c.product_id == Product.id)
            .where(*where)
        )
        ordered = statement.order_by(matches.c.score.desc(), Product.id.desc())
    counted = statement.with_only_columns(func.count(), maintain_column_froms=True)
    total = (await session.execute(counted)).scalar_one()
    rows = (await session.execute(ordered.limit(limit).offset(offset))).all()
    products = [product for product, _ in rows]
    read = await read_products(session=session, shop=shop, products=products)
    for item, (_, score) in zip(read, rows, strict=True):
        item.relevance = None if score is None else float(score)
    return read, total


def unit_price(shop: Shop, product: Product, variant: Variant) -> Decimal:
    """The variant's price override, or the product's base price."""
    price = variant.price if variant.price is not None else product.base_price
    return in_currency(price, shop.currency)


def _variant_read(shop: Shop, variant: Variant, product: Product, available: int) -> VariantRead:
    return VariantRead(
        id=variant.id,
        sku=variant.sku,
        color=variant.color,
        size=variant.size,
        price=unit_price(shop, product, variant),
        available=available,
    )


async def read_variant(
    *, session: AsyncSession, shop: Shop, product: Product, variant: Variant
) -> VariantRead:
    available = await inventory.available_by_variant(session=session, variant_ids=[variant.id])
    return _variant_read(shop, variant, product, available.get(variant.id, 0))


async def read_products(
    *, session: AsyncSession, shop: Shop, products: Sequence[Product]
) -> list[ProductRead]:
    """The products as the API shows them: with their variants and availability."""
    ids = [p.id for p in products]
    variants: dict[uuid.UUID, list[Variant]] = {pid: [] for pid in ids}
    if ids:
        found = await session.execute(
            select(Variant).where(Variant.product_id.in_(ids)).order_by(Variant.sku)
        )
        for variant in found.scalars():
            variants[variant.product_id].append(variant)
    available = await inventory.available_by_variant(
        session=session, variant_ids=[v.id for vs in variants.values() for v in vs]
    )
    read = []
    for product in products:
        own = [
            _variant_read(shop, v, product, available.get(v.id, 0)) for v in variants[product.id]
        ]
        total = sum(v.available for v in own)
        read.append(
            ProductRead(
                id=product.id,
                name=product.name,
                description=product.description,
                category=product.category,
                brand=product.brand,
                base_price=in_currency(product.base_price, shop.currency),
                currency=shop.currency,
                images=product.images,
                attributes=product.attributes,
                rating=product.rating,
                review_count=product.review_count,
                status=product.status,
                available=total,
                stock_status=rules.stock_status(total, shop.low_stock_threshold),
                variants=own,
                created_at=product.created_at,
                updated_at=product.updated_at,
            )
        )
    return read


async def inventory_of(*, session: AsyncSession, product: Product) -> InventoryRead:
    levels = [
        StockLevelRead(
            location=LocationRead.model_validate(location),
            variant_id=level.variant_id,
            on_hand=level.on_hand,
            reserved=level.reserved,
            available=level.on_hand - level.reserved,
        )
        for location, level in await inventory.levels_of(session=session, product_id=product.id)
    ]
    return InventoryRead(
        product_id=product.id,
        levels=levels,
        on_hand=sum(level.on_hand for level in levels),
        reserved=sum(level.reserved for level in levels),
        available=sum(level.available for level in levels),
    )
