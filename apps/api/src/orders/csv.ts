import type { Order } from '@orders/contracts';

/*
 * CSV for the export: RFC 4180 (comma-separated, CRLF line ends, a field quoted when it holds a quote, a comma or a
 * line break, a quote inside doubled), with spreadsheet formulas neutralised: a cell starting with = + - @ (or a tab
 * or carriage return, which some spreadsheets skip before reading a formula) gets a leading apostrophe, so a name
 * like `=HYPERLINK(...)` shows as text instead of running. See docs/ARCHITECTURE.md, "Search and sort".
 */

/** The export's columns, in order: every field of an order. */
export const CSV_COLUMNS = [
  'id',
  'customer_name',
  'product_name',
  'status',
  'created_at',
  'updated_at',
  'version',
  'updated_by',
] as const satisfies readonly (keyof Order)[];

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One cell, neutralised and quoted as needed. */
export function csvCell(value: string): string {
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One row of cells, with its CRLF. */
export function csvRow(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** The header row. */
export const CSV_HEADER = csvRow(CSV_COLUMNS);

/** An order as a row, its columns in `CSV_COLUMNS` order (an absent `updated_by` is an empty cell). */
export function orderCsvRow(order: Order): string {
  return csvRow(CSV_COLUMNS.map((column) => String(order[column] ?? '')));
}
