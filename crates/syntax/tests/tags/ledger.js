import { formatMoney } from './money.js';

export const TAX_RATE = 0.2;

/** Sums an invoice's lines. */
export function computeInvoiceTotals(invoice) {
  let total = 0;
  for (const item of invoice.items) {
    total += item.price * item.qty;
  }
  return { total, tax: total * TAX_RATE, label: formatMoney(total) };
}

export class Ledger {
  constructor() {
    this.entries = [];
  }

  add(entry) {
    this.entries.push(entry);
  }
}

const byDate = (a, b) => a.date - b.date;

export function App() {
  return <Layout><Summary ledger={new Ledger()} /></Layout>;
}
