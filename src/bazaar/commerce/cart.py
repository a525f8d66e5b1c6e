"""A buyer's cart: its lines hold the stock they ask for, it carries a coupon and points to
redeem, and checkout freezes prices and totals.

Each write to a cart line tops its holds up to (or gives them back down to) the line's
quantity, so a line whose hold expired is reserved again by the next activity, and every write
to the cart moves the expiry of all its holds to `hold_minutes` from now. A buyer only ever
reaches their own cart: another buyer's line is 404.

The coupon and points stay on the cart as the buyer asked for them; the totals are priced
afresh each time, so a coupon the cart no longer qualifies for shows `applies: false` and
why, and points beyond the balance or the amount left are not used. Checkout refuses a coupon
that does not apply rather than drop it silently.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.commerce import inventory, loyalty, rules, service
from bazaar.commerce.errors import (
    CartEmpty,
    CartItemNotFound,
    CouponNotApplicable,
    PointsExceedBalance,
    PointsExceedTotal,
    ProductNotAvailable,
)
from bazaar.commerce.models import Cart, CartItem, CheckoutSession, Product, StockHold, Variant
from bazaar.commerce.rules import ProductStatus, Shop
from bazaar.commerce.schemas import (
    MAX_LINE_UNITS,
    CartItemAdd,
    CartItemRead,
    CartRead,
    CheckoutLine,
    CheckoutRead,
    CouponState,
    TotalsRead,
)
from bazaar.errors import InvalidInputError
from bazaar.money import in_currency
from bazaar.stamps import new_id, utcnow


async def _cart_of(session: AsyncSession, principal: Principal) -> Cart | None:
    found = await session.execute(select(Cart).where(Cart.user_id == principal.user_id))
    return found.scalar_one_or_none()


async def _open_cart(session: AsyncSession, principal: Principal) -> Cart:
    """The buyer's cart, made on first use (two first uses at once make one)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    await session.execute(
        insert(Cart)
        .values(id=new_id(), user_id=principal.user_id, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=[Cart.user_id])
    )
    cart = await _cart_of(session, principal)
    assert cart is not None
    return cart


async def get_item(*, session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> CartItem:
    found = await session.execute(
        select(CartItem)
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(CartItem.id == item_id, Cart.user_id == principal.user_id)
        .with_for_update(of=CartItem)
    )
    item = found.scalar_one_or_none()
    if item is None:
        raise CartItemNotFound(details={"item_id": str(item_id)})
    return item


async def _holds(session: AsyncSession, item: CartItem) -> list[StockHold]:
    found = await session.execute(
        select(StockHold).where(StockHold.cart_item_id == item.id).order_by(StockHold.id.desc())
    )
    return list(found.scalars())


async def _extend(session: AsyncSession, cart: Cart, until: datetime) -> None:
    lines = select(CartItem.id).where(CartItem.cart_id == cart.id)
    await session.execute(
        update(StockHold)
        .where(StockHold.cart_item_id.in_(lines.scalar_subquery()))
        .values(expires_at=until)
        .execution_options(synchronize_session=False)
    )


async def _hold_to_quantity(
    session: AsyncSession, principal: Principal, shop: Shop, item: CartItem, until: datetime
) -> None:
    holds = await _holds(session, item)
    held = sum(hold.quantity for hold in holds)
    if item.quantity > held:
        await inventory.reserve(
            session=session,
            principal=principal,
            variant_id=item.variant_id,
            cart_item_id=item.id,
            units=item.quantity - held,
            held=held,
            expires_at=until,
            allocation=shop.allocation,
        )
        return
    excess = held - item.quantity
    for hold in holds:  # newest first
        if excess == 0:
            break
        if hold.quantity <= excess:
            excess -= await inventory.release(
                session=session, holds=[hold.id], by=principal.user_id
            )
        else:
            await inventory.shrink(session=session, hold=hold, units=excess, by=principal.user_id)
            excess = 0


def _until(shop: Shop) -> datetime:
    return utcnow() + timedelta(minutes=shop.hold_minutes)


async def add_item(
    *, session: AsyncSession, principal: Principal, shop: Shop, data: CartItemAdd
) -> CartRead:
    product = await service.get_product(
        session=session, principal=principal, product_id=data.product_id
    )
    variant = await service.get_variant(
        session=session, product=product, variant_id=data.variant_id
    )
    cart = await _open_cart(session, principal)
    found = await session.execute(
        select(CartItem)
        .where(CartItem.cart_id == cart.id, CartItem.variant_id == variant.id)
        .with_for_update()
    )
    item = found.scalar_one_or_none()
    if item is None:
        item = CartItem(cart_id=cart.id, product_id=product.id, variant_id=variant.id, quantity=0)
        session.add(item)
    if item.quantity + data.quantity > MAX_LINE_UNITS:
        raise InvalidInputError(
            f"A cart line holds at most {MAX_LINE_UNITS} units",
            details={"quantity": item.quantity, "max": MAX_LINE_UNITS},
        )
    item.quantity += data.quantity
    await session.flush()
    return await _touched(session, principal, shop, cart, item)


async def set_quantity(
    *, session: AsyncSession, principal: Principal, shop: Shop, item: CartItem, quantity: int
) -> CartRead:
    """A line may always shrink; it grows only while its product is for sale."""
    if quantity > item.quantity:
        product = await session.get_one(Product, item.product_id)
        if product.status is not ProductStatus.ACTIVE:
            raise ProductNotAvailable(details={"product_id": str(product.id)})
    item.quantity = quantity
    await session.flush()
    cart = await session.get_one(Cart, item.cart_id)
    return await _touched(session, principal, shop, cart, item)


async def _touched(
    session: AsyncSession, principal: Principal, shop: Shop, cart: Cart, item: CartItem
) -> CartRead:
    until = _until(shop)
    await _extend(session, cart, until)
    await _hold_to_quantity(session, principal, shop, item, until)
    cart.updated_at = utcnow()
    await session.flush()
    return await view(session=session, principal=principal, shop=shop)


async def remove_item(
    *, session: AsyncSession, principal: Principal, shop: Shop, item: CartItem
) -> CartRead:
    holds = [hold.id for hold in await _holds(session, item)]
    await inventory.release(session=session, holds=holds, by=principal.user_id)
    cart = await session.get_one(Cart, item.cart_id)
    await session.delete(item)
    await _extend(session, cart, _until(shop))
    await session.flush()
    return await view(session=session, principal=principal, shop=shop)


async def _lines(
    session: AsyncSession, cart: Cart
) -> list[tuple[CartItem, Product, Variant, int, datetime | None]]:
    held = (
        select(
            StockHold.cart_item_id,
            func.sum(StockHold.quantity).label("units"),
            func.min(StockHold.expires_at).label("expires_at"),
        )
        .group_by(StockHold.cart_item_id)
        .subquery()
    )
    rows = await session.execute(
        select(CartItem, Product, Variant, held.c.units, held.c.expires_at)
        .join(Product, Product.id == CartItem.product_id)
        .join(Variant, Variant.id == CartItem.variant_id)
        .outerjoin(held, held.c.cart_item_id == CartItem.id)
        .where(CartItem.cart_id == cart.id)
        .order_by(CartItem.id)
    )
    return [
        (item, product, variant, int(units or 0), expires)
        for item, product, variant, units, expires in rows
    ]


def _line(shop: Shop, item: CartItem, product: Product, variant: Variant) -> CheckoutLine:
    price = service.unit_price(shop, product, variant)
    return CheckoutLine(
        product_id=product.id,
        variant_id=variant.id,
        name=product.name,
        sku=variant.sku,
        quantity=item.quantity,
        unit_price=price,
        line_total=in_currency(price * item.quantity, shop.currency),
    )


@dataclass(frozen=True)
class _Priced:
    coupon: CouponState | None
    terms: rules.CouponTerms | None
    standing: loyalty.Standing
    totals: rules.Totals


async def _price(
    session: AsyncSession,
    principal: Principal,
    shop: Shop,
    cart: Cart | None,
    lines: list[tuple[Decimal, int]],
) -> _Priced:
    """The totals of `lines` with the cart's coupon (when it applies), the buyer's tier and
    as many of the points asked for as the balance and the amount left allow."""
    now = utcnow()
    standing = await loyalty.standing(
        session=session, shop=shop, user_id=principal.user_id, now=now
    )
    state, terms = None, None
    if cart is not None and cart.coupon_code is not None:
        coupon = await loyalty.find_coupon(session=session, code=cart.coupon_code)
        reason = "unknown"
        if coupon is not None:
            subtotal = rules.line_sum(shop, lines)
            found = await loyalty.terms_for(
                session=session, coupon=coupon, user_id=principal.user_id
            )
            reason = rules.coupon_refusal(found, subtotal=subtotal, tier=standing.tier, now=now)
            terms = None if reason else found
        state = CouponState(code=cart.coupon_code, applies=not reason, reason=reason or None)
    points = min(cart.redeem_points if cart else 0, max(standing.balance, 0))
    totals = rules.totals(shop, lines, coupon=terms, tier=standing.tier, points=points)
    return _Priced(state, terms, standing, totals)


def _totals_read(totals: rules.Totals) -> TotalsRead:
    return TotalsRead(**asdict(totals))


async def view(*, session: AsyncSession, principal: Principal, shop: Shop) -> CartRead:
    cart = await _cart_of(session, principal)
    items = []
    for item, product, variant, units, expires in (
        [] if cart is None else await _lines(session, cart)
    ):
        line = _line(shop, item, product, variant)
        items.append(
            CartItemRead(**dict(line), id=item.id, reserved=units, hold_expires_at=expires)
        )
    priced = await _price(
        session, principal, shop, cart, [(i.unit_price, i.quantity) for i in items]
    )
    return CartRead(
        id=None if cart is None else cart.id,
        items=items,
        coupon=priced.coupon,
        redeem_points=0 if cart is None else cart.redeem_points,
        totals=_totals_read(priced.totals),
    )


async def _filled_cart(
    session: AsyncSession, principal: Principal, shop: Shop
) -> tuple[Cart, list[tuple[Decimal, int]]]:
    cart = await _cart_of(session, principal)
    lines = [] if cart is None else await _lines(session, cart)
    if cart is None or not lines:
        raise CartEmpty
    return cart, [(service.unit_price(shop, p, v), i.quantity) for i, p, v, _, _ in lines]


async def apply_coupon(
    *, session: AsyncSession, principal: Principal, shop: Shop, code: str
) -> CartRead:
    """422 `coupon_not_applicable` with the reason when the coupon cannot take effect now."""
    cart, lines = await _filled_cart(session, principal, shop)
    coupon = await loyalty.find_coupon(session=session, code=code)
    if coupon is None:
        raise CouponNotApplicable.because("unknown", code=code)
    now = utcnow()
    tier = (
        await loyalty.standing(session=session, shop=shop, user_id=principal.user_id, now=now)
    ).tier
    found = await loyalty.terms_for(session=session, coupon=coupon, user_id=principal.user_id)
    reason = rules.coupon_refusal(found, subtotal=rules.line_sum(shop, lines), tier=tier, now=now)
    if reason:
        raise CouponNotApplicable.because(
            reason,
            code=coupon.code,
            required_tier=coupon.min_tier,
            min_purchase=str(in_currency(coupon.min_purchase, shop.currency)),
        )
    cart.coupon_code = coupon.code
    cart.updated_at = now
    await session.flush()
    return await view(session=session, principal=principal, shop=shop)


async def remove_coupon(*, session: AsyncSession, principal: Principal, shop: Shop) -> CartRead:
    cart = await _cart_of(session, principal)
    if cart is not None and cart.coupon_code is not None:
        cart.coupon_code = None
        cart.updated_at = utcnow()
        await session.flush()
    return await view(session=session, principal=principal, shop=shop)


async def redeem_points(
    *, session: AsyncSession, principal: Principal, shop: Shop, points: int
) -> CartRead:
    """Asks for `points` to come off the cart (0 for none): at most the balance, and at most
    what the cart costs after its coupon and tier discounts."""
    cart, lines = await _filled_cart(session, principal, shop)
    priced = await _price(session, principal, shop, cart, lines)
    if points > priced.standing.balance:
        raise PointsExceedBalance(details={"balance": priced.standing.balance, "points": points})
    without_points = rules.totals(shop, lines, coupon=priced.terms, tier=priced.standing.tier)
    left = without_points.subtotal - without_points.coupon_discount - without_points.tier_discount
    most = int(left * shop.points_per_currency_unit)
    if points > most:
        raise PointsExceedTotal(details={"max_points": most, "points": points})
    cart.redeem_points = points
    cart.updated_at = utcnow()
    await session.flush()
    return await view(session=session, principal=principal, shop=shop)


async def checkout(*, session: AsyncSession, principal: Principal, shop: Shop) -> CheckoutRead:
    """Reserves every line in full (409 for the first that cannot be), holds all of it until
    the session expires, and records the prices and totals the order will be placed at."""
    cart = await _cart_of(session, principal)
    lines = [] if cart is None else await _lines(session, cart)
    if cart is None or not lines:
        raise CartEmpty
    until = _until(shop)
    await _extend(session, cart, until)
    items = []
    for item, product, variant, _, _ in sorted(lines, key=lambda line: line[0].variant_id):
        if product.status is not ProductStatus.ACTIVE:
            raise ProductNotAvailable(details={"product_id": str(product.id)})
        await _hold_to_quantity(session, principal, shop, item, until)
        items.append(_line(shop, item, product, variant))
    priced = await _price(
        session, principal, shop, cart, [(i.unit_price, i.quantity) for i in items]
    )
    if priced.coupon is not None and not priced.coupon.applies:
        assert priced.coupon.reason is not None
        raise CouponNotApplicable.because(priced.coupon.reason, code=priced.coupon.code)
    totals = priced.totals
    stored = CheckoutSession(
        user_id=principal.user_id,
        cart_id=cart.id,
        items=[i.model_dump(mode="json") for i in items],
        coupon_code=cart.coupon_code,
        expires_at=until,
        **asdict(totals),
    )
    session.add(stored)
    await session.flush()
    return CheckoutRead(id=stored.id, items=items, totals=_totals_read(totals), expires_at=until)
