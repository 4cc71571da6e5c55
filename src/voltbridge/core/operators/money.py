"""Money as Decimal with its currency; never floats (ARCHITECTURE.md)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from voltbridge.core.errors import InvalidInput

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency (ISO 4217 code)."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if not self.amount.is_finite():
            raise InvalidInput(f"amount {self.amount} is not a number")


def check_currency(code: str) -> str:
    """The code if it looks like ISO 4217 (three capital letters); InvalidInput otherwise."""
    if len(code) != 3 or not code.isascii() or not code.isalpha() or not code.isupper():
        raise InvalidInput(f"currency {code!r} is not an ISO 4217 code such as EUR")
    return code


def decimal(text: str | Decimal, what: str) -> Decimal:
    """A finite Decimal from a string such as "0.35"; InvalidInput naming `what` otherwise."""
    try:
        value = text if isinstance(text, Decimal) else Decimal(text)
    except InvalidOperation as exc:
        raise InvalidInput(f"{what} must be a decimal number such as 0.35, not {text!r}") from exc
    if not value.is_finite():
        raise InvalidInput(f"{what} must be a finite decimal number")
    return value


def cents(value: Decimal) -> Decimal:
    """Rounded to the cent, halves away from zero (how invoices round)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
