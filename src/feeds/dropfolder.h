/*
 * dropfolder.h - CSV drop folders: each csv feed has a folder where the
 * local authority's extracts arrive (registry.h); `weft serve` watches them
 * (a poll every few seconds) and `weft feed run` makes one pass.
 *
 * A file is picked up when it is complete:
 *   - a regular file whose name matches an extract kind of the schema
 *     (docs/feeds/csv-social-care.md: people*.csv, contacts*.csv, ...),
 *     case-insensitive, not starting with '.', ending in ".csv" - so a
 *     sender writing "people.csv.part" or ".people.csv" and renaming it when
 *     done is never read half-written;
 *   - and not modified for min_age seconds (for senders that write in place).
 * Each file is claimed (ingest_csv_claim: an exclusive flock on the file,
 * so `weft serve`'s watcher and any number of `weft feed run` on the same
 * folder never process one file twice), kept in the inbox, processed
 * (ingest_csv_file) and moved to done/ (ok or partial) or failed/ with
 * NAME.report.json beside it, then released.  Files with other names are
 * left alone (and counted as ignored).
 */
#ifndef WEFT_FEEDS_DROPFOLDER_H
#define WEFT_FEEDS_DROPFOLDER_H

#include <stdbool.h>
#include <stddef.h>

struct store;
struct serve_ctx;

#define DROPFOLDER_MIN_AGE 2 /* seconds a file must be unchanged */

struct dropfolder_stats {
    size_t feeds, files, applied, partial, rejected, ignored, errors;
    size_t claimed_elsewhere; /* taken by another processor (ingest_csv_claim) */
};

/* Whether a file name is one the drop folder takes (see above). */
bool dropfolder_name_ok(const char *name);

/*
 * One pass over the folders of every csv feed (or only the one named
 * only_feed: WEFT_ENOTFOUND when there is no such csv feed).  Adds to *st.
 * Returns 0, or a store error; a file that cannot be read or moved counts in
 * st->errors and is left in place for the next pass.
 */
int dropfolder_run_once(struct store *s, const char *only_feed, int min_age,
                        struct dropfolder_stats *st);

/* The `weft serve` part: watches every csv feed's folder every
 * --drop-interval SECONDS (default 2; 0 disables the watcher). */
int drop_serve_start(const struct serve_ctx *ctx, void **state);
void drop_serve_stop(const struct serve_ctx *ctx, void *state);

#endif
