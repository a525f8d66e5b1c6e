from bazaar.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)


class InvalidCredentials(UnauthorizedError):
    """Unknown email, wrong password or inactive account: one answer, so none can be told apart."""

    code = "invalid_credentials"
    default_message = "Email or password is incorrect"


class InvalidToken(UnauthorizedError):
    code = "invalid_token"
    default_message = "The token is invalid, expired or revoked"


class InsufficientRole(ForbiddenError):
    code = "insufficient_role"
    default_message = "Your role does not allow this"


class InsufficientScope(ForbiddenError):
    code = "insufficient_scope"
    default_message = "This API key's scope does not allow this"


class InteractiveLoginRequired(ForbiddenError):
    code = "interactive_login_required"
    default_message = "API keys cannot do this; sign in with a password"


class EmailTaken(ConflictError):
    """Sign-up tells a registered email apart on purpose: without a verified channel to the
    address, any sign-up that makes a usable account tells it at the next sign-in anyway
    (docs/security.md, "Account enumeration")."""

    code = "email_taken"
    default_message = "An account with this email already exists"


class UserNotFound(NotFoundError):
    code = "user_not_found"
    default_message = "User not found"


class ApiKeyNotFound(NotFoundError):
    code = "api_key_not_found"
    default_message = "API key not found"


class WrongPassword(InvalidInputError):
    code = "wrong_password"
    default_message = "The current password is incorrect"


class FieldNotAllowed(InvalidInputError):
    """A field the caller may not set (mass assignment): refused, not ignored."""

    code = "field_not_allowed"
    default_message = "You may not change these fields"


class OwnAccountChange(InvalidInputError):
    code = "own_account_change"
    default_message = "You cannot change your own role or deactivate yourself"


class InvalidResetToken(InvalidInputError):
    """Unknown, expired or used: one answer, so none can be told apart."""

    code = "invalid_reset_token"
    default_message = "The reset token is invalid, expired or already used"
