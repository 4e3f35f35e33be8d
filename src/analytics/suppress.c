/*
 * suppress.c - small-number suppression (suppress.h).
 *
 * The table is handled as its (rows + 1) x (cols + 1) extension with the
 * totals in the last row and column, so every "line" (a row of cells with its
 * row total, a column with its column total, the row of column totals with
 * the grand total, the column of row totals with the grand total) is a set
 * of entries that sum to one of them.  Secondary suppression walks the lines
 * until none holds exactly one suppressed entry; each pass suppresses at
 * least one more entry or stops, so it ends after at most (rows+1)(cols+1)
 * passes.
 */
#include "analytics/suppress.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/buf.h"

int64_t suppress_count(int64_t n)
{
    if (n <= 0)
        return 0;
    if (n <= SUPPRESS_MAX)
        return SUPPRESSED;
    return (n + SUPPRESS_ROUND / 2) / SUPPRESS_ROUND * SUPPRESS_ROUND;
}

const char *suppress_text(int64_t shown, char out[24])
{
    if (shown == SUPPRESSED)
        snprintf(out, 24, "*");
    else
        snprintf(out, 24, "%lld", (long long)shown);
    return out;
}

/* Line k: k < R rows, then columns.  Entry i of a line of length len. */
struct ext {
    int R, C; /* extended dimensions */
    int64_t *raw;
    bool *sup;
};

static int line_len(const struct ext *e, int k)
{
    return k < e->R ? e->C : e->R;
}

static int line_at(const struct ext *e, int k, int i)
{
    return k < e->R ? k * e->C + i : i * e->C + (k - e->R);
}

int suppress_table(const int64_t *cells, int rows, int cols, int64_t *out)
{
    struct ext e = {rows + 1, cols + 1, NULL, NULL};
    size_t n = (size_t)e.R * (size_t)e.C;
    e.raw = xcalloc(n, sizeof *e.raw);
    e.sup = xcalloc(n, sizeof *e.sup);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            int64_t v = cells[r * cols + c] > 0 ? cells[r * cols + c] : 0;
            e.raw[r * e.C + c] = v;
            e.raw[r * e.C + cols] += v;
            e.raw[rows * e.C + c] += v;
            e.raw[rows * e.C + cols] += v;
        }
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (suppress_count(e.raw[i]) == SUPPRESSED) {
            e.sup[i] = true;
            count++;
        }
    for (bool changed = true; changed;) {
        changed = false;
        for (int k = 0; k < e.R + e.C; k++) {
            int len = line_len(&e, k), nsup = 0;
            for (int i = 0; i < len; i++)
                nsup += e.sup[line_at(&e, k, i)];
            if (nsup != 1)
                continue;
            /* the smallest non-zero unsuppressed cell (not the line's total,
             * the last entry), else the total */
            int pick = -1;
            for (int i = 0; i + 1 < len; i++) {
                int at = line_at(&e, k, i);
                if (!e.sup[at] && e.raw[at] > 0 && (pick < 0 || e.raw[at] < e.raw[pick]))
                    pick = at;
            }
            if (pick < 0) {
                pick = line_at(&e, k, len - 1);
                if (e.sup[pick]) /* the only suppressed entry is the total, with no
                                    non-zero cell: it is 0, nothing to hide */
                    continue;
            }
            e.sup[pick] = true;
            count++;
            changed = true;
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = e.sup[i] ? SUPPRESSED : suppress_count(e.raw[i]);
    free(e.raw);
    free(e.sup);
    return count;
}
