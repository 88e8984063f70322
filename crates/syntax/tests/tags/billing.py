from decimal import Decimal
from .money import format_money, round_cents as rc

VAT = Decimal("0.2")


class Invoice(Base):
    """An invoice with lines."""

    def total(self):
        return sum(line.amount() for line in self.lines)


@cached
def compute_invoice_totals(invoice):
    return format_money(rc(invoice.total() * (1 + VAT)))
