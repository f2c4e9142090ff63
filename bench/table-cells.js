// How numbers look in the result tables: empty for a missing value, never "NaN".
export const integer = (value) => (value === undefined || !Number.isFinite(value) ? '' : Math.round(value).toLocaleString('en-US'));
export const decimal = (value, digits = 1) => (value === undefined || !Number.isFinite(value) ? '' : value.toFixed(digits));
export const ratio = (value) => (value === undefined || !Number.isFinite(value) ? '' : `${value.toFixed(value < 10 ? 2 : 0)}×`);
export const percent = (value) => (value === undefined || !Number.isFinite(value) ? '' : `${(value * 100).toFixed(0)} %`);

/** A markdown table; the first `textColumns` columns are left-aligned, the rest right-aligned. */
export function markdownTable(header, rows, textColumns = 1) {
  const align = header.map((_, i) => (i < textColumns ? ' --- ' : ' ---: ')).join('|');
  const escape = (cell) =>
    String(cell ?? '')
      .replace(/\|/g, '\\|')
      .replace(/\n/g, ' ');
  return [`| ${header.join(' | ')} |`, `|${align}|`, ...rows.map((row) => `| ${row.map(escape).join(' | ')} |`)].join('\n');
}
