"""/auth: sign up, sign in, refresh, sign out, change or reset a password, the outbox. Also
mounts /users and /api-keys.

Sign-in verifies the password before its write transaction begins: argon2 takes tens of
milliseconds, and SQLite's single writer must not wait on it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, status

from bazaar.auth import (
    api_keys_router,
    notifier,
    password_reset,
    service,
    sessions,
    users_router,
)
from bazaar.auth.context import AuthContext
from bazaar.auth.dependencies import AdminOnly, AuthContextDep, CurrentUser, PasswordUser
from bazaar.auth.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidResetToken,
    InvalidToken,
    WrongPassword,
)
from bazaar.auth.models import User
from bazaar.auth.roles import Role
from bazaar.auth.schemas import (
    ChangePasswordRequest,
    LoginRequest,
    OutboxMessageRead,
    OutboxPage,
    PasswordResetAccepted,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    SignupRequest,
    TokenForm,
    TokenResponse,
    UserRead,
)
from bazaar.auth.sessions import TokenPair
from bazaar.db import ReadDep, SessionDep, unit_of_work
from bazaar.errors import RateLimitedError, error_responses
from bazaar.routing import Route

router = APIRouter()
auth = APIRouter(prefix="/auth", tags=["auth"], route_class=Route)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _token_response(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@auth.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(EmailTaken, RateLimitedError),
)
async def signup(
    body: SignupRequest, request: Request, session: SessionDep, context: AuthContextDep
) -> UserRead:
    """Self-registration, always as a customer."""
    await context.limits.hit(context.rules.signup_address, "signup", client_address(request))
    user = await service.create_user(
        session=session,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        phone=body.phone,
        role=Role.CUSTOMER,
        hasher=context.hasher,
    )
    return UserRead.model_validate(user)


async def _verified_user(
    request: Request, context: AuthContext, *, email: str, password: str
) -> User:
    """The active user with this email and password; one failure answer for every other case.

    Every attempt takes a slot of the address's and the account's limits before the password is
    checked, successful ones too: taken atomically, concurrent guesses never check more
    passwords than the limit allows. The address goes first, so requests from an address
    already refused do not use up the account's allowance.
    """
    await context.limits.hit(context.rules.login_address, "login-address", client_address(request))
    await context.limits.hit(
        context.rules.login_account, "login-account", service.normalize_email(email)
    )
    state = request.app.state
    async with unit_of_work(state.runtime.db, state.runtime.events, read_only=True) as read:
        user = await service.find_user_by_email(session=read, email=email)
    # An unknown email is verified against a dummy hash: it costs what a wrong password does.
    matches = await context.hasher.verify(user.password_hash if user else None, password)
    if user is None or not matches or not user.is_active:
        raise InvalidCredentials
    return user


async def _sign_in(
    request: Request, session: SessionDep, context: AuthContext, *, email: str, password: str
) -> TokenResponse:
    user = await _verified_user(request, context, email=email, password=password)
    if context.hasher.needs_rehash(user.password_hash):
        new_hash = await context.hasher.hash(password)
        user = await service.get_user(session=session, user_id=user.id)
        user.password_hash = new_hash
    pair = await sessions.start_session(session=session, context=context, user=user)
    return _token_response(pair)


@auth.post("/login", responses=error_responses(InvalidCredentials, RateLimitedError))
async def login(
    body: LoginRequest, request: Request, session: SessionDep, context: AuthContextDep
) -> TokenResponse:
    """Sign in with email and password: an access token (JWT, 15 minutes) and a single-use
    refresh token. A wrong password and an unknown email get the same 401; attempts are
    rate-limited per account and per address (429 with Retry-After)."""
    return await _sign_in(request, session, context, email=body.email, password=body.password)


@auth.post("/signin", responses=error_responses(InvalidCredentials, RateLimitedError))
async def signin(
    body: LoginRequest, request: Request, session: SessionDep, context: AuthContextDep
) -> TokenResponse:
    """The original shop's name for `POST /auth/login`, which it is in every way."""
    return await login(body, request, session, context)


@auth.post("/token", responses=error_responses(InvalidCredentials, RateLimitedError))
async def token(
    form: Annotated[TokenForm, Form()],
    request: Request,
    session: SessionDep,
    context: AuthContextDep,
) -> TokenResponse:
    """The OAuth2 password flow (form fields `username` = email, `password`), for /docs."""
    return await _sign_in(request, session, context, email=form.username, password=form.password)


@auth.post("/refresh", responses=error_responses(InvalidToken, RateLimitedError))
async def refresh(body: RefreshRequest, request: Request, context: AuthContextDep) -> TokenResponse:
    """A new pair for a refresh token, which is retired. Reusing a retired one ends its session."""
    await context.limits.hit(context.rules.refresh_address, "refresh", client_address(request))
    state = request.app.state
    # Its own transaction: a detected reuse revokes the family, and that must be committed
    # even though the answer is 401.
    async with unit_of_work(state.runtime.db, state.runtime.events) as session:
        pair = await sessions.rotate(
            session=session, context=context, refresh_token=body.refresh_token
        )
    if pair is None:
        raise InvalidToken
    return _token_response(pair)


@auth.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(),
)
async def logout(claims: PasswordUser, session: SessionDep, context: AuthContextDep) -> None:
    """Ends this session: its refresh tokens and access tokens stop working at once."""
    await sessions.end_session(session=session, context=context, claims=claims)


@auth.get("/me", responses=error_responses())
async def me(principal: CurrentUser, reads: ReadDep) -> UserRead:
    """The signed-in user (or the API key's owner): id, email, name, role. An officer finds
    their own id here."""
    return UserRead.model_validate(
        await service.read_profile(session=reads, user_id=principal.user_id)
    )


@auth.post(
    "/change-password",
    responses=error_responses(WrongPassword, RateLimitedError),
)
async def change_password(
    body: ChangePasswordRequest,
    claims: PasswordUser,
    request: Request,
    session: SessionDep,
    context: AuthContextDep,
) -> TokenResponse:
    """Every existing session ends; the answer is a fresh pair for this client."""
    state = request.app.state
    async with unit_of_work(state.runtime.db, state.runtime.events, read_only=True) as read:
        current = await service.get_user(session=read, user_id=claims.user_id)
    # Checking the current password here takes a slot of the account's sign-in limit, before
    # the check, as a sign-in does.
    await context.limits.hit(context.rules.login_account, "login-account", current.email)
    if not await context.hasher.verify(current.password_hash, body.current_password):
        raise WrongPassword
    new_hash = await context.hasher.hash(body.new_password)
    user = await service.get_user(session=session, user_id=claims.user_id)
    await service.set_password_hash(session=session, user=user, password_hash=new_hash)
    return _token_response(
        await sessions.start_session(session=session, context=context, user=user)
    )


@auth.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(RateLimitedError),
)
async def request_password_reset(
    body: PasswordResetRequest, request: Request, session: SessionDep, context: AuthContextDep
) -> PasswordResetAccepted:
    """Issues a single-use reset token to the account's owner through the notifier (by default
    the outbox an admin reads). The answer is the same whether or not the account exists."""
    address = client_address(request)
    await context.limits.hit(context.rules.reset_address, "password-reset", address)
    minutes = context.settings.auth_password_reset_minutes
    await password_reset.request_reset(
        session=session,
        notifier=context.notifier,
        email=body.email,
        lifetime=timedelta(minutes=minutes),
    )
    return PasswordResetAccepted(
        message=f"If an account uses this email, a reset token is on its way; it works once, "
        f"for {minutes} minutes."
    )


@auth.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(InvalidResetToken),
)
async def confirm_password_reset(
    body: PasswordResetConfirm, request: Request, session: SessionDep, context: AuthContextDep
) -> None:
    """Sets the new password (the sign-up rules apply), spends the token and ends every session
    of the account; sign in again with the new password."""
    state = request.app.state
    async with unit_of_work(state.runtime.db, state.runtime.events, read_only=True) as read:
        live = await password_reset.token_is_live(session=read, token=body.token)
    if not live:
        raise InvalidResetToken
    new_hash = await context.hasher.hash(body.new_password)
    if not await password_reset.reset_password(
        session=session, token=body.token, password_hash=new_hash
    ):
        raise InvalidResetToken


@auth.get("/outbox")
async def read_outbox(
    _: AdminOnly,
    __: PasswordUser,
    session: SessionDep,
    recipient: Annotated[str | None, Query(max_length=320, description="To this email")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> OutboxPage:
    """Messages the outbox notifier holds for users (password-reset tokens), newest first,
    until they expire: for an admin to pass on while no email or SMS delivery is configured.
    Signed in with a password only: the messages carry secrets."""
    page = await notifier.list_outbox(
        session=session,
        recipient=None if recipient is None else service.normalize_email(recipient),
        limit=limit,
        offset=offset,
    )
    return OutboxPage(
        items=[OutboxMessageRead.model_validate(item) for item in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


router.include_router(auth)
router.include_router(users_router.router)
router.include_router(api_keys_router.router)
