/*
 * load_int.h - what the files of the loading pipeline share; not an API
 * (callers use load.h).  The pipeline is one module in several files, one
 * per concern:
 *
 *   load.c         a bundle: the passes over its entries, its transaction,
 *                  the store writes (entry_store), the response bundle, and
 *                  load.h's bundle functions
 *   load_file.c    files, NDJSON batches, directories, groups of files in
 *                  one transaction (fhir_load_file, fhir_load_paths)
 *   load_report.c  the report: counts per type, rejections
 *   load_arena.c   bulk mode's arena for jansson
 *
 * Functions here keep the names they had when the pipeline was one file
 * (load.c), so that the passes read as before.
 */
#ifndef WEFT_FHIR_LOAD_INT_H
#define WEFT_FHIR_LOAD_INT_H

#include <stdbool.h>

#include <jansson.h>

#include "fhir/load.h"

/* ---- load_arena.c ---- */

/* Drop everything allocated since the last reset (in bulk mode; otherwise
 * nothing): no tree of the arena may be alive. */
void load_arena_reset(void);

/* Release a tree: in bulk mode the arena reset that follows frees it all at
 * once, so walking it to free each node is skipped. */
void load_tree_drop(json_t *j);

/* ---- load_report.c ---- */

/* The row of type (NULL or "": "(unknown)"), added when new. */
struct load_type_count *type_row(struct load_report *r, const char *type);

/* Count a rejection of an entry of type (may be NULL) and keep its reason
 * (copied) while fewer than LOAD_MAX_REJECTIONS are kept; entry is an
 * entry index, or an NDJSON line when line is true, or -1 (the file). */
void add_rejection_at(struct load_report *r, const char *file, long entry, bool line,
                      const char *type, const char *reason);
void add_rejection(struct load_report *r, const char *file, long entry, const char *type,
                   const char *reason);

#endif
