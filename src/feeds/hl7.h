/*
 * hl7.h - HL7 v2 (ER7, "pipe and hat") message parser: the whole API.
 *
 * Owns struct hl7_msg, an opaque parsed message.  Parsing is zero-copy: the
 * message records where every segment and field lies in the caller's buffer
 * and finds repetitions, components and subcomponents on demand by scanning
 * the (short) field.  Values come back as raw spans still holding escape
 * sequences; hl7_unescape() decodes one into a caller buffer.  Tuned for the
 * feed workload: one parse per inbound message, a few dozen lookups after it,
 * the handle reused for the next message (hl7_msg_parse() keeps its arrays).
 *
 * Numbering is 1-based as HL7 people speak: hl7_get(m, "PID", 1, 3, 2, 1, 0)
 * is PID-3, second repetition, first component (sub 0 = the whole component).
 * For MSH, field 1 is the field separator and field 2 the encoding characters
 * (never split), so MSH-9 is the message type as everywhere in the standard.
 *
 * Lifetime: the caller keeps the input buffer alive and unchanged while the
 * message (and any span taken from it) is in use.
 *
 * Accepted input (docs/feeds/hl7v2.md has the full rules):
 *   - an optional UTF-8 BOM, then "MSH", the field separator, 4 encoding
 *     characters (component, repetition, escape, subcomponent) or 5 (plus the
 *     v2.7 truncation character); all distinct, not alphanumeric, not CR/LF;
 *   - segments ending in CR, LF or CRLF; empty or blank (spaces/tabs) lines
 *     between segments are skipped;
 *   - segment names of 3 characters [A-Z][A-Z0-9]{2} (Z-segments are kept as
 *     any other segment and not interpreted);
 *   - MSH-9 (message type) and MSH-10 (control id) must not be empty;
 *   - exactly one message: another MSH, or a batch segment (FHS/BHS/BTS/FTS),
 *     is an error here; use struct hl7_split for files and batches;
 *   - every escape sequence must be closed before the next field, segment or
 *     message end (unless HL7_PARSE_LAX_ESCAPES);
 *   - at most HL7_MAX_MSG_BYTES bytes.
 */
#ifndef WEFT_FEEDS_HL7_H
#define WEFT_FEEDS_HL7_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Largest message accepted (and the MLLP frame limit): 16 MiB. */
#define HL7_MAX_MSG_BYTES (16u * 1024u * 1024u)

struct hl7_msg;

/* A piece of the input: p points into the caller's buffer (not NUL-ended). */
struct hl7_span {
    const char *p;
    size_t len;
};

struct hl7_delims {
    char field; /* MSH-1, usually '|' */
    char comp;  /* '^' */
    char rep;   /* '~' */
    char esc;   /* '\\' */
    char sub;   /* '&' */
    char trunc; /* '#' in v2.7+, 0 when MSH-2 has only 4 characters */
};

/* Where and why a parse failed.  text is a complete sentence in lower case
 * naming the place, e.g. "segment 3 (ZU1) field 7 at byte 412: unterminated
 * escape sequence"; it never quotes field contents (it may reach logs). */
struct hl7_error {
    int code;        /* WEFT_EPARSE, WEFT_ETOOBIG, WEFT_EINVAL */
    char segment[4]; /* segment name, "" when not inside one */
    int seg_index;   /* 1-based segment position in the message, 0 if none */
    int field;       /* 1-based field number, 0 if not a field error */
    size_t offset;   /* byte offset into the input */
    char text[200];
};

enum hl7_parse_flags {
    HL7_PARSE_STRICT = 0,
    /* Tolerate an escape character that is never closed (keep it as text). */
    HL7_PARSE_LAX_ESCAPES = 1,
};

/* A new, empty message handle; free with hl7_msg_free().  Never NULL. */
struct hl7_msg *hl7_msg_new(void);
void hl7_msg_free(struct hl7_msg *m);

/* Parse data[0..len) into m (replacing what m held; its memory is reused).
 * Returns 0, or WEFT_EPARSE / WEFT_ETOOBIG with *err filled (err may be
 * NULL).  After a failure m holds no message. */
int hl7_msg_parse(struct hl7_msg *m, const char *data, size_t len, unsigned flags,
                  struct hl7_error *err);

const struct hl7_delims *hl7_msg_delims(const struct hl7_msg *m);
/* The whole message as parsed (after a BOM, up to its last segment end). */
struct hl7_span hl7_msg_raw(const struct hl7_msg *m);

/* Segments, 0-based index in message order. */
size_t hl7_seg_count(const struct hl7_msg *m);
/* The 3-character name as a NUL-terminated string owned by m. */
const char *hl7_seg_name(const struct hl7_msg *m, size_t seg);
/* Highest field number present in the segment (0 for a bare "PID"). */
size_t hl7_seg_field_count(const struct hl7_msg *m, size_t seg);
/* Index of the rep-th (1-based) segment called name, or -1 (WEFT_ENOTFOUND). */
long hl7_seg_find(const struct hl7_msg *m, const char *name, size_t rep);
/* Index of the next segment called name after index from, or -1. */
long hl7_seg_next(const struct hl7_msg *m, size_t from, const char *name);
/* The whole segment text without its terminator. */
struct hl7_span hl7_seg_raw(const struct hl7_msg *m, size_t seg);

/* Value at field/rep/comp/sub of segment index seg.  field >= 1; rep, comp and
 * sub are 1-based and 0 means "all of it" (rep 0 = the whole field with every
 * repetition; comp 0 = the whole repetition; sub 0 = the whole component).
 * Returns 0 with *out set (possibly empty), or WEFT_ENOTFOUND when that part
 * is not in the message (out is then set to an empty span). */
int hl7_seg_get(const struct hl7_msg *m, size_t seg, size_t field, size_t rep, size_t comp,
                size_t sub, struct hl7_span *out);
/* The same, naming the segment: seg_rep-th (1-based) segment called name. */
int hl7_get(const struct hl7_msg *m, const char *name, size_t seg_rep, size_t field, size_t rep,
            size_t comp, size_t sub, struct hl7_span *out);
/* Number of repetitions in a field (0 when the field is absent or empty). */
size_t hl7_seg_rep_count(const struct hl7_msg *m, size_t seg, size_t field);
/* Count of parts of a span separated by sep (1 for an empty span). */
size_t hl7_span_count(struct hl7_span s, char sep);
/* The n-th (1-based) sep-separated part of s; empty span when absent. */
struct hl7_span hl7_span_part(struct hl7_span s, char sep, size_t n);

/* Iterating the parts of a value in one pass (hl7_span_part() in a loop
 * rescans from the start each time):
 *     struct hl7_iter it;  struct hl7_span rep;
 *     hl7_iter_init(&it, field);
 *     while (hl7_iter_next(&it, d->rep, &rep)) ...
 * An empty span yields one empty part (as hl7_span_count() counts it). */
struct hl7_iter {
    const char *p, *end;
    bool done;
};
void hl7_iter_init(struct hl7_iter *it, struct hl7_span s);
bool hl7_iter_next(struct hl7_iter *it, char sep, struct hl7_span *part);

/* True for the HL7 explicit null "" (two double quotes). */
bool hl7_span_is_null(struct hl7_span s);
/* True if s equals the NUL-terminated string lit. */
bool hl7_span_eq(struct hl7_span s, const char *lit);

/* Decode escape sequences in s (see docs/feeds/hl7v2.md for the table):
 * \F\ \S\ \T\ \R\ \E\ \P\ become the delimiters, \Xhh..\ the bytes, \.br\ and
 * \.sp\ a line feed; \H\ \N\ \Cxxyy\ \Mxxyyzz\ \Zxx\ and other formatting
 * commands (\.in\ \.ti\ \.sk\ \.ce\ \.fi\ \.nf\) are dropped; anything else,
 * including an unclosed escape, is kept literally.
 * hl7_unescape writes at most cap-1 bytes and a NUL (if cap > 0) and returns
 * the full decoded length (as snprintf does: a result >= cap was truncated). */
size_t hl7_unescape(const struct hl7_delims *d, struct hl7_span s, char *out, size_t cap);
/* Append the decoded text to b. */
void hl7_unescape_buf(const struct hl7_delims *d, struct hl7_span s, struct buf *b);
/* Append text escaped for d: delimiters as \F\ \S\ \T\ \R\ \E\ (and \P\),
 * LF as \.br\ (\X0A\ when the escape character is '.'), CR as \X0D\.  hl7_unescape() of the result
 * gives text back. */
void hl7_escape_buf(const struct hl7_delims *d, const char *text, size_t len, struct buf *b);

/* Re-encode the whole message with delimiters d (NULL = its own), every
 * value decoded and escaped again, segments ending in CR.  Sequences that
 * decode to nothing (\H\ \N\ \C..\ \M..\ \Z..\, formatting commands)
 * are kept as they are.  A message with canonical escapes re-encodes to
 * itself; the output always parses in strict mode. */
void hl7_msg_encode(const struct hl7_msg *m, const struct hl7_delims *d, struct buf *b);

/* Splitter for files and batches holding several messages:
 *     struct hl7_split s;  hl7_split_init(&s, data, len);
 *     while ((rc = hl7_split_next(&s, &msg, &err)) == 1) parse msg ...
 * rc 0 is the end, < 0 an error (bad envelope, text outside a message).
 * Envelope rules: [FHS [BHS MSH... BTS]... FTS]; trailers may be missing at
 * end of input; a BHS inside an open batch, an FHS inside a file, or any
 * segment other than MSH/FHS/BHS before the first message are errors.
 * The spans point into data; nothing is allocated. */
struct hl7_split {
    const char *data;
    size_t len;
    size_t pos;
    int in_file;
    int in_batch;
    size_t nmsg;
    int done;
};
void hl7_split_init(struct hl7_split *s, const char *data, size_t len);
int hl7_split_next(struct hl7_split *s, struct hl7_span *msg, struct hl7_error *err);

#endif
