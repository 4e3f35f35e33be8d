/*
 * mllp_frame.c - MLLP framing codec (see mllp_frame.h for the rules).
 *
 * The decoder keeps one growing buffer: received bytes are appended, frames
 * are handed out as pointers into it, and the consumed prefix is dropped
 * (memmove) at the next feed, so a long-lived connection does not grow it.
 * Inside a frame the search for 0x1C resumes where it stopped, so a large
 * message arriving in many small reads is scanned once, not once per read.
 */
#include "feeds/mllp_frame.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

enum { ST_OUT = 0, ST_IN = 1, ST_SKIP = 2 };

void mllp_decoder_init(struct mllp_decoder *d, size_t max_frame)
{
    memset(d, 0, sizeof *d);
    buf_init(&d->in);
    d->max_frame = max_frame ? max_frame : MLLP_MAX_FRAME;
}

void mllp_decoder_release(struct mllp_decoder *d)
{
    buf_release(&d->in);
    d->pos = d->scan = 0;
    d->state = ST_OUT;
}

void mllp_decoder_feed(struct mllp_decoder *d, const void *data, size_t len)
{
    if (d->pos > 0) {
        size_t rest = d->in.len - d->pos;
        memmove(d->in.data, d->in.data + d->pos, rest);
        buf_truncate(&d->in, rest);
        d->scan = d->scan > d->pos ? d->scan - d->pos : 0;
        d->pos = 0;
    }
    buf_add(&d->in, data, len);
}

const char *mllp_decoder_error(const struct mllp_decoder *d)
{
    return d->err;
}

size_t mllp_decoder_pending(const struct mllp_decoder *d)
{
    return d->state == ST_IN ? d->in.len - d->pos : 0;
}

__attribute__((format(printf, 3, 4))) static int derr(struct mllp_decoder *d, int code,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    d->errors++;
    return code;
}

int mllp_decoder_next(struct mllp_decoder *d, const char **frame, size_t *len)
{
    char *b = d->in.data;
    size_t n = d->in.len;
    /* positions stay inside what was fed; scanning never goes back past pos */
    assert(d->pos <= n && (d->state != ST_IN || (d->pos <= d->scan && d->scan <= n)));
    *frame = NULL;
    *len = 0;
    for (;;) {
        if (d->state == ST_OUT) {
            while (d->pos < n && (b[d->pos] == '\r' || b[d->pos] == '\n' || b[d->pos] == ' ' ||
                                  b[d->pos] == '\t'))
                d->pos++;
            if (d->pos >= n)
                return 0;
            if (b[d->pos] == MLLP_SB) {
                d->pos++;
                d->scan = d->pos;
                d->state = ST_IN;
                continue;
            }
            char *sb = memchr(b + d->pos, MLLP_SB, n - d->pos);
            size_t drop = (sb ? (size_t)(sb - b) : n) - d->pos;
            d->pos += drop;
            return derr(d, WEFT_EPARSE, "%zu bytes of junk before the start block 0x0B dropped",
                        drop);
        }
        if (d->state == ST_IN) {
            char *eb = memchr(b + d->scan, MLLP_EB, n - d->scan);
            char *lim = eb ? eb : b + n;
            char *sb = memchr(b + d->scan, MLLP_SB, (size_t)(lim - (b + d->scan)));
            if (sb) {
                size_t drop = (size_t)(sb - (b + d->pos));
                d->pos = (size_t)(sb - b) + 1;
                d->scan = d->pos;
                return derr(d, WEFT_EPARSE,
                            "start block 0x0B inside a frame: %zu bytes of an unfinished frame "
                            "dropped",
                            drop);
            }
            if (!eb || (size_t)(eb - b) + 1 >= n) {
                /* no end yet (or 0x1C is the last byte: wait for the next) */
                d->scan = eb ? (size_t)(eb - b) : n;
                if (d->scan - d->pos > d->max_frame) {
                    d->skipped = n - d->pos;
                    d->pos = d->scan;
                    d->state = ST_SKIP;
                    return derr(d, WEFT_ETOOBIG, "frame larger than the limit of %zu bytes dropped",
                                d->max_frame);
                }
                return 0;
            }
            if (eb[1] != MLLP_CR) { /* 0x1C without 0x0D: content */
                d->scan = (size_t)(eb - b) + 1;
                continue;
            }
            size_t flen = (size_t)(eb - (b + d->pos));
            size_t start = d->pos;
            d->pos = (size_t)(eb - b) + 2;
            d->state = ST_OUT;
            if (flen > d->max_frame)
                return derr(d, WEFT_ETOOBIG, "frame larger than the limit of %zu bytes dropped",
                            d->max_frame);
            assert(start + flen + 2 == d->pos && d->pos <= n);
            d->frames++;
            *frame = b + start;
            *len = flen;
            return 1;
        }
        /* ST_SKIP: drop bytes up to and including 0x1C 0x0D; a 0x0B on
         * the way starts a new frame (as it would inside any frame). */
        for (;;) {
            char *eb = memchr(b + d->pos, MLLP_EB, n - d->pos);
            char *lim = eb ? eb : b + n;
            char *sb = memchr(b + d->pos, MLLP_SB, (size_t)(lim - (b + d->pos)));
            if (sb) {
                d->pos = (size_t)(sb - b) + 1;
                d->scan = d->pos;
                d->state = ST_IN;
                break;
            }
            if (!eb) {
                d->skipped += n - d->pos;
                d->pos = n;
                return 0;
            }
            if ((size_t)(eb - b) + 1 >= n) {
                d->pos = (size_t)(eb - b);
                return 0;
            }
            d->pos = (size_t)(eb - b) + 1;
            if (eb[1] == MLLP_CR) {
                d->pos++;
                d->state = ST_OUT;
                break;
            }
        }
    }
}

void mllp_encode(const void *msg, size_t len, struct buf *out)
{
    buf_grow(out, len + 3);
    buf_addc(out, MLLP_SB);
    buf_add(out, msg, len);
    buf_addc(out, MLLP_EB);
    buf_addc(out, MLLP_CR);
}
