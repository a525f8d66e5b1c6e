"""Lending errors, each with its own code (the one error body is built in bazaar.errors)."""

from __future__ import annotations

from bazaar.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError


class CustomerNotFound(NotFoundError):
    code = "customer_not_found"
    default_message = "Customer not found"


class LoanNotFound(NotFoundError):
    code = "loan_not_found"
    default_message = "Loan not found"


class PaymentNotFound(NotFoundError):
    code = "payment_not_found"
    default_message = "Payment not found"


class IllegalTransition(ConflictError):
    code = "illegal_transition"
    default_message = "The loan cannot do that in its current status"


class LoanNotEditable(ConflictError):
    code = "loan_not_editable"
    default_message = "The loan can no longer be changed"


class StaleVersion(ConflictError):
    code = "version_conflict"
    default_message = "The record was changed by someone else; reload it and retry"


class CustomerHasLoans(ConflictError):
    code = "customer_has_loans"
    default_message = "A customer with loans cannot be deleted"


class LoanNotActive(ConflictError):
    code = "loan_not_active"
    default_message = "Payments are taken only on disbursed loans"


class PaymentAlreadyReversed(ConflictError):
    code = "payment_already_reversed"
    default_message = "The payment is already reversed"


class MakerChecker(ForbiddenError):
    code = "maker_checker"
    default_message = "Whoever created or submitted a loan cannot approve it"


class InvalidLoanTerms(InvalidInputError):
    code = "invalid_loan_terms"
    default_message = "No schedule can be built from these terms"


class InvalidPayment(InvalidInputError):
    code = "invalid_payment"
    default_message = "The payment is not valid for this loan"


class PaymentExceedsPayoff(InvalidInputError):
    code = "payment_exceeds_payoff"
    default_message = "The payment is more than the amount that closes the loan"


class PaymentOverpaysLater(InvalidInputError):
    """A backdated payment that the loan could take on its own date, but that would leave the
    payments dated after it paying more than the loan owes: `acceptable_amount` can still be
    recorded on that date."""

    code = "payment_overpays_later_payments"
    default_message = (
        "With the payments dated after it, this payment would pay more than the loan owes"
    )


class CustomerAccountTaken(ConflictError):
    code = "customer_account_taken"
    default_message = "That user account is already linked to another customer"
