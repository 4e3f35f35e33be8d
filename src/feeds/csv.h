/*
 * csv.h - a streaming RFC 4180 reader for the CSV extracts feeds send.
 *
 * Owns struct csv_reader (opaque).  It reads one record at a time from a FILE
 * or from memory, in memory bounded by the configured limits (never by the
 * file size), and hands back the record's fields as NUL-terminated strings
 * owned by the reader.  The rules (docs/feeds/csv-social-care.md §2):
 *
 *   - comma separator; fields may be double-quoted; inside quotes commas,
 *     CR, LF and "" (a literal quote) are data;
 *   - records end with CRLF, LF or a bare CR; the last may have no ending;
 *   - a UTF-8 byte order mark at the very start is skipped;
 *   - completely empty lines are skipped and counted;
 *   - every record carries the physical line (1-based) where it starts, so a
 *     record whose quoted field spans lines is reported at its first line.
 *
 * Problems with one record (a stray quote, text after a closing quote, an
 * unterminated quote at end of input, invalid UTF-8 or a NUL byte, a field or
 * record over the limits) do not stop the reader: the record is returned with
 * err set and a message, and reading resumes at the next record.  The reader
 * resynchronises by running the same state machine leniently (a stray quote
 * counts as data), so one bad record costs one record.
 *
 * Typical use:
 *     struct csv_reader *r;
 *     struct csv_row row;
 *     int rc;
 *     if ((rc = csv_reader_open(&r, fp, NULL)) < 0) return rc;
 *     while ((rc = csv_reader_next(r, &row)) == 1) {
 *         if (row.err) { report(row.line, row.errmsg); continue; }
 *         ... row.fields[0 .. row.nfields-1] ...
 *     }
 *     csv_reader_close(r);        // rc is 0 at end of input, < 0 on I/O error
 */
#ifndef WEFT_FEEDS_CSV_H
#define WEFT_FEEDS_CSV_H

#include <stddef.h>
#include <stdio.h>

#define CSV_DEFAULT_MAX_FIELD 65536u
#define CSV_DEFAULT_MAX_ROW 1048576u
#define CSV_DEFAULT_MAX_FIELDS 512u

struct csv_opts {
    size_t max_field;  /* bytes in one field (0: CSV_DEFAULT_MAX_FIELD) */
    size_t max_row;    /* bytes of field data in one record (0: default) */
    size_t max_fields; /* fields in one record (0: default) */
};

/* One record.  Everything it points at is owned by the reader and valid
 * until the next csv_reader_next() or csv_reader_close(). */
struct csv_row {
    size_t line;        /* physical line where the record starts, 1-based */
    size_t end_line;    /* physical line where it ends (> line when quoted
                           fields span lines) */
    size_t nfields;     /* fields in the record (as far as read when err) */
    char **fields;      /* nfields NUL-terminated strings (not valid if err) */
    size_t *lens;       /* their lengths in bytes (fields may hold no NUL:
                           a NUL byte makes the record an error) */
    int err;            /* 0, WEFT_EPARSE (syntax, UTF-8) or WEFT_ETOOBIG */
    size_t err_field;   /* 1-based field where the first problem was seen */
    const char *errmsg; /* lower-case reason when err, else NULL */
};

struct csv_reader;

/* Start reading fp (not closed by the reader; read with fread from its
 * current position).  opts may be NULL for the defaults.  *out is freed with
 * csv_reader_close().  Returns 0 or WEFT_EINVAL. */
int csv_reader_open(struct csv_reader **out, FILE *fp, const struct csv_opts *opts);
/* Read from len bytes at data, which must stay valid and unchanged until
 * csv_reader_close(). */
int csv_reader_open_mem(struct csv_reader **out, const void *data, size_t len,
                        const struct csv_opts *opts);
void csv_reader_close(struct csv_reader *r);

/* Read the next record into *row.  Returns 1 when a record was read (check
 * row->err), 0 at end of input, WEFT_EIO when reading the file failed. */
int csv_reader_next(struct csv_reader *r, struct csv_row *row);

/* Empty lines skipped so far. */
size_t csv_reader_blank_lines(const struct csv_reader *r);
/* Bytes of heap the reader holds now (input window, record buffers): bounded
 * by the limits, whatever the input size.  For tests and diagnostics. */
size_t csv_reader_memory(const struct csv_reader *r);
/* Bytes consumed so far (BOM included). */
unsigned long long csv_reader_offset(const struct csv_reader *r);
/* 1 when a UTF-8 byte order mark was skipped at the start; 2 when the input
 * starts with a UTF-16 one (FF FE or FE FF: not skipped, the input is not
 * UTF-8 and its records fail), so callers can say what is wrong; else 0.
 * Known once the first record has been read. */
int csv_reader_had_bom(const struct csv_reader *r);

/* Whether len bytes at s are valid UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF) without NUL bytes.  Exposed for the mapper. */
int csv_utf8_valid(const char *s, size_t len);

#endif
