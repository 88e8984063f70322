import { Item } from "./item";

export type Currency = "EUR" | "USD";

export enum Status {
  Open,
  Paid,
}

export interface Invoice {
  items: Item[];
  currency: Currency;
}

export const DEFAULT_CURRENCY = "EUR" as Currency;

export class InvoiceStore implements Repository {
  private invoices: Map<string, Invoice> = new Map();

  find(id: string): Invoice | undefined {
    return this.invoices.get(id);
  }
}

export function totalOf(invoice: Invoice): number {
  return invoice.items.reduce((sum, item) => sum + price(item), 0);
}

export const loadInvoices = async (url: string) => fetchJson<Invoice[]>(url);
