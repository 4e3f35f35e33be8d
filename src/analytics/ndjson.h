/*
 * ndjson.h - the writer of FHIR Bulk Data output files: newline-delimited
 * JSON (application/fhir+ndjson), one resource per line.
 *
 * Built for the export's hot path (tens of thousands of lines a second):
 * lines are gathered in a 1 MiB buffer and written with write(2); the file
 * is created new (never over an existing one), fsync'd on close, and
 * removed on abort, so a reader never sees a file that was not finished.
 */
#ifndef WEFT_ANALYTICS_NDJSON_H
#define WEFT_ANALYTICS_NDJSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct ndjson_writer {
    int fd;         /* -1 when not open */
    char *path;     /* malloc'd */
    struct buf buf; /* lines not yet written */
    int64_t lines;  /* resources added */
    int64_t bytes;  /* bytes of the file so far (written and buffered) */
};

/* Create path (which must not exist; mode 0600) for writing.  0, or
 * WEFT_EEXIST / WEFT_EIO (w is then closed). */
int ndjson_writer_open(struct ndjson_writer *w, const char *path);
/*
 * Add one resource: json (len bytes) must be a JSON object (its first
 * non-blank character '{'), else WEFT_EINVAL and nothing is added.  A line
 * break in it can only be white space between tokens (JSON strings cannot
 * hold a raw one), so each becomes a space: the resource stays one line.
 * Returns 0 or WEFT_EIO.
 */
int ndjson_writer_add(struct ndjson_writer *w, const char *json, size_t len);
/* Write what is buffered, fsync and close.  0 or WEFT_EIO (the file is then
 * removed). */
int ndjson_writer_close(struct ndjson_writer *w);
/* Close and remove the file (a cancelled or failed export). */
void ndjson_writer_abort(struct ndjson_writer *w);

#endif
