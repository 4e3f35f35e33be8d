/*
 * buf.h - growable, always NUL-terminated byte buffer for all text building.
 *
 * Owns struct buf.  Usage:
 *     struct buf b = BUF_INIT;
 *     buf_addf(&b, "%d", n);
 *     ... use b.data / b.len ...
 *     buf_release(&b);
 * Allocation failure aborts the process (there is no sensible recovery in
 * the middle of building a reply), so the add functions cannot fail.
 * b.data is never NULL after BUF_INIT: it points at a static "" until the
 * first add.
 */
#ifndef WEFT_CORE_BUF_H
#define WEFT_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap; /* 0 while data points at the shared empty string */
};

extern char buf_empty[];
#define BUF_INIT                                                                                   \
    {                                                                                              \
        buf_empty, 0, 0                                                                            \
    }

void buf_init(struct buf *b);
/* Free the memory and reset to BUF_INIT. */
void buf_release(struct buf *b);
/* Keep the memory, set length to 0. */
void buf_reset(struct buf *b);
/* Ensure room for extra more bytes plus the terminator. */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Append s escaped for a JSON string body (no surrounding quotes). */
void buf_add_json_str(struct buf *b, const char *s, size_t len);
/* Append s escaped for HTML text and attribute values (& < > " ' as
 * entities).  The one HTML escaper of the program: web/html.h builds on it. */
void buf_add_html(struct buf *b, const char *s);
/* The same for n bytes of s (s need not be terminated); a NUL byte is
 * dropped, never written into a page. */
void buf_add_html_n(struct buf *b, const char *s, size_t n);
/* Shorten to len (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);
/* Hand the heap string to the caller (caller frees with free()); b is reset.
 * Never returns NULL. */
char *buf_detach(struct buf *b, size_t *len_out);

/* malloc/calloc/realloc/strdup that abort on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
