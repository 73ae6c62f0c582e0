'use strict'
// Medians, per-pair ratios and Markdown tables for the bench report.

function median (xs) {
  if (xs.length === 0) return NaN
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** A number for a table cell: thousands separated from 1,000 up, else `digits` decimals. */
function fmt (x, digits = 0) {
  if (!Number.isFinite(x)) return '—'
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US')
  return x.toFixed(digits)
}

/**
 * Compare paired samples (same repetition = same pair): medians of each side,
 * the ratio of the medians (b ÷ a) and the range of the per-pair ratios.
 */
function compare (a, b) {
  const ratios = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) ratios.push(b[i] / a[i])
  return {
    a: median(a),
    b: median(b),
    ratio: median(b) / median(a),
    min: Math.min(...ratios),
    max: Math.max(...ratios)
  }
}

function ratioCell (c, digits = 2) {
  return Number.isFinite(c.ratio) ? `${c.ratio.toFixed(digits)}×` : '—'
}

function rangeCell (c, digits = 2) {
  if (!Number.isFinite(c.min) || !Number.isFinite(c.max)) return '—'
  return `${c.min.toFixed(digits)}–${c.max.toFixed(digits)}×`
}

/** Markdown table lines; `align` per column: 'l' or 'r'. */
function table (header, rows, align) {
  const al = align || header.map((_, i) => (i === 0 ? 'l' : 'r'))
  const out = [`| ${header.join(' | ')} |`, `|${al.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`]
  for (const r of rows) out.push(`| ${r.join(' | ')} |`)
  return out
}

/** The order of a pair in repetition `r`: alternate who goes first. */
function pairOrder (r, pair) {
  return r % 2 === 0 ? pair.slice() : pair.slice().reverse()
}

module.exports = { median, fmt, compare, ratioCell, rangeCell, table, pairOrder }
