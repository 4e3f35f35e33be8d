/*
 * copy.h - copying a whole region from one store to another, across
 * backends (`weft copy --from sqlite:PATH --to postgres://...`, and back).
 *
 * Table by table, every row with every column the two schemas share, as
 * the values themselves (the derived ids, content digests, sequence
 * numbers, version histories, person links, feeds and their inbox,
 * clients, launchers, sessions, policy versions and the hash-chained audit
 * log arrive unchanged, so `weft audit verify` passes on the copy).  The
 * source is read in one read-only snapshot (online: its writers go on, and
 * the copy holds what was committed when it began); the target is written
 * in one transaction (all or nothing) and must be freshly initialised.
 * Afterwards every table is read back from the target and its row count
 * and content digest compared with the source's.
 */
#ifndef WEFT_STORE_COPY_H
#define WEFT_STORE_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define STORE_COPY_DIGEST 16

/* One table as copied. */
struct store_copy_table {
    char *name;
    int64_t rows_from, rows_to; /* rows read from the source, found in the target */
    unsigned char digest_from[STORE_COPY_DIGEST], digest_to[STORE_COPY_DIGEST];
    bool same; /* counts and digests equal */
};

struct store_copy_report {
    struct store_copy_table *tables;
    int ntables;
    char **skipped; /* source tables the target has no table for (all empty) */
    int nskipped;
};
void store_copy_report_clear(struct store_copy_report *r);

/* Copy everything of src into dst (a store just made by `weft init`: no
 * resources, persons, feeds ...; what init wrote - the first policy
 * version and the audit chain's first entry - is replaced by the
 * source's).  Refused, writing nothing: a non-empty target, a source table
 * holding rows that the target's schema has no table for, a target whose
 * schema is behind.  0 when copied and every table compared equal;
 * WEFT_ECONFLICT when written but a comparison differed (report says
 * which); else an error, dst's message saying why (or src's: *err_src). */
int store_copy(struct store *src, struct store *dst, struct store_copy_report *rep, bool *err_src);

#endif
