/*
 * fuzz_mllp.c - libFuzzer target for the MLLP framing decoder.  The first
 * two bytes choose a read size and a frame limit; the rest is the byte
 * stream, fed in chunks of that size.  Checks: frames are within the
 * limit, never contain 0x0B, point inside the decoder's buffer, and the
 * decoder's memory stays bounded by limit + one read.  The same stream fed
 * in one read must give the same frames.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/mllp_frame.h"

static void run(const uint8_t *data, size_t size, size_t chunk, size_t limit, struct buf *frames)
{
    struct mllp_decoder d;
    mllp_decoder_init(&d, limit);
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        mllp_decoder_feed(&d, data + off, n);
        const char *f;
        size_t len;
        int rc;
        while ((rc = mllp_decoder_next(&d, &f, &len)) != 0) {
            if (rc == 1) {
                if (len > limit || memchr(f, 0x0B, len))
                    abort();
                if (f < d.in.data || f + len > d.in.data + d.in.len)
                    abort();
                buf_add(frames, f, len);
                buf_addc(frames, 0x1C);
            } else if (mllp_decoder_error(&d)[0] == 0) {
                abort();
            }
        }
        if (d.in.len > limit + chunk + 4)
            abort();
    }
    mllp_decoder_release(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk = 1 + data[0] % 64;
    size_t limit = 1 + data[1] * 4;
    data += 2;
    size -= 2;
    struct buf a = BUF_INIT, b = BUF_INIT;
    run(data, size, chunk, limit, &a);
    run(data, size, size ? size : 1, limit, &b);
    /* frames are the same however the stream was cut */
    if (a.len != b.len || memcmp(a.data, b.data, a.len))
        abort();
    buf_release(&a);
    buf_release(&b);
    return 0;
}
