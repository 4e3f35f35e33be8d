/*
 * suppress.h - small-number suppression for secondary uses (aggregates for
 * planners and analysts): a pure function over a table of counts.
 *
 * Rules (issue 18, following the NHS England practice for published
 * statistics):
 *   - primary: a count of 1 to 7 is shown as "*"; 0 is shown as 0;
 *   - every other count is rounded to the nearest 5 (8 -> 10, 12 -> 10,
 *     13 -> 15), and so are the totals;
 *   - secondary: a row or column (its cells and its total) in which exactly
 *     one entry is suppressed would let a reader work the cell out from the
 *     total, so a second entry of that line is suppressed too: its smallest
 *     non-zero unsuppressed cell, or, when it has none, its total.  Repeated
 *     until no line has exactly one suppressed entry (a suppression may open
 *     another line).
 */
#ifndef WEFT_ANALYTICS_SUPPRESS_H
#define WEFT_ANALYTICS_SUPPRESS_H

#include <stdint.h>

/* The value shown in place of a suppressed count. */
#define SUPPRESSED (-1)
/* Counts from 1 to SUPPRESS_MAX are suppressed. */
#define SUPPRESS_MAX 7
#define SUPPRESS_ROUND 5

/* A single count as shown on its own (primary suppression and rounding
 * only): SUPPRESSED, 0, or the count rounded to the nearest 5. */
int64_t suppress_count(int64_t n);

/*
 * Suppress a rows x cols table of counts (cells row-major, each >= 0) with
 * its row, column and grand totals.  out ((rows + 1) * (cols + 1) entries,
 * row-major) gets the values to show: out[r * (cols + 1) + c] for cell
 * (r, c), column cols of each row its row total, row rows the column totals,
 * the last entry the grand total; each SUPPRESSED or a rounded count.
 * rows and cols are at least 1.  Pure: no allocation beyond a scratch
 * array, no I/O.  Returns the number of entries suppressed.
 */
int suppress_table(const int64_t *cells, int rows, int cols, int64_t *out);

/* The text of a shown value: "*" or the number (out at least 24 bytes). */
const char *suppress_text(int64_t shown, char out[24]);

#endif
