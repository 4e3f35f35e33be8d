/*
 * mllp_frame.h - MLLP framing codec (no sockets): an incremental decoder over
 * a byte stream and an encoder.
 *
 * Owns struct mllp_decoder.  A frame on the wire is
 *     0x0B <message bytes> 0x1C 0x0D
 * The decoder takes bytes as they arrive (any split: one byte at a time or
 * several frames per read) and hands out whole frames.  It is tuned for the
 * listener's loop:
 *     mllp_decoder_init(&d, MLLP_MAX_FRAME);
 *     on each read:  mllp_decoder_feed(&d, bytes, n);
 *                    while ((rc = mllp_decoder_next(&d, &p, &len)) != 0) {
 *                        if (rc == 1) handle frame p[0..len)
 *                        else report mllp_decoder_error(&d) and go on (or close)
 *                    }
 *     mllp_decoder_release(&d);
 *
 * Rules (docs/feeds/hl7v2.md):
 *   - CR, LF, space and tab between frames are ignored (senders often add
 *     a line end after 0x1C 0x0D);
 *   - any other byte outside a frame is junk: the decoder skips to the next
 *     0x0B and reports one WEFT_EPARSE error saying how many bytes it dropped;
 *   - 0x1C not followed by 0x0D inside a frame is taken as message content
 *     (the frame ends only at 0x1C 0x0D);
 *   - a 0x0B inside a frame means the sender restarted: the partial frame is
 *     dropped with a WEFT_EPARSE error and the new frame begins;
 *   - a frame whose content exceeds max_frame bytes (default MLLP_MAX_FRAME,
 *     16 MiB) is dropped with WEFT_ETOOBIG, and its bytes are skipped up to
 *     its 0x1C 0x0D (or the next 0x0B) without being buffered.
 * Memory use is bounded by max_frame plus one read.
 */
#ifndef WEFT_FEEDS_MLLP_FRAME_H
#define WEFT_FEEDS_MLLP_FRAME_H

#include <stddef.h>

#include "core/buf.h"

#define MLLP_SB 0x0B
#define MLLP_EB 0x1C
#define MLLP_CR 0x0D
#define MLLP_MAX_FRAME (16u * 1024u * 1024u)

struct mllp_decoder {
    struct buf in; /* unconsumed bytes */
    size_t pos;    /* consumed prefix of in */
    size_t scan;   /* inside a frame: where the search for 0x1C resumes */
    size_t max_frame;
    int state;      /* 0 between frames, 1 inside a frame, 2 skipping an oversized frame */
    size_t skipped; /* bytes dropped while skipping an oversized frame */
    unsigned long frames, errors;
    char err[160];
};

/* Initialise with a frame limit (0 = MLLP_MAX_FRAME). */
void mllp_decoder_init(struct mllp_decoder *d, size_t max_frame);
/* Free the buffer; d may be initialised again. */
void mllp_decoder_release(struct mllp_decoder *d);
/* Append received bytes.  Frames handed out before are invalidated. */
void mllp_decoder_feed(struct mllp_decoder *d, const void *data, size_t len);
/* Next event: 1 = a frame (*frame points into the decoder, valid until the
 * next feed/next/release call; *len its length, without 0x0B/0x1C/0x0D);
 * 0 = need more bytes; WEFT_EPARSE / WEFT_ETOOBIG = bytes were dropped, see
 * mllp_decoder_error(); call again to go on. */
int mllp_decoder_next(struct mllp_decoder *d, const char **frame, size_t *len);
/* The last error as a sentence (no message content), "" if none. */
const char *mllp_decoder_error(const struct mllp_decoder *d);
/* Bytes held in an unfinished frame (for "connection closed mid-frame"). */
size_t mllp_decoder_pending(const struct mllp_decoder *d);

/* Append 0x0B msg 0x1C 0x0D to out. */
void mllp_encode(const void *msg, size_t len, struct buf *out);

#endif
