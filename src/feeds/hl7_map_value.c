/*
 * hl7_map_value.c - reading values out of the message: unescape, make UTF-8
 * (ISO 8859-1 senders), drop control characters, trim; the HL7 null "" as
 * empty.  Every mapping reads through get()/dec() here.
 */
#include "feeds/hl7_map_int.h"

#include <string.h>

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
            k = 1;
        else if ((c & 0xf0) == 0xe0)
            k = 2;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
            k = 3;
        else
            return 0;
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        if (k == 2 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0)))
            return 0;
        if (k == 3 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90)))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Make b valid UTF-8 and drop control characters other than tab/LF/CR. */
void hm_clean_text(struct buf *b)
{
    if (!utf8_valid((const unsigned char *)b->data, b->len)) {
        /* Not UTF-8: read it as ISO 8859-1 (the usual MSH-18 "8859/1"). */
        struct buf u = BUF_INIT;
        for (size_t i = 0; i < b->len; i++) {
            unsigned char c = (unsigned char)b->data[i];
            if (c < 0x80) {
                buf_addc(&u, (char)c);
            } else {
                buf_addc(&u, (char)(0xc0 | (c >> 6)));
                buf_addc(&u, (char)(0x80 | (c & 0x3f)));
            }
        }
        buf_reset(b);
        buf_add(b, u.data, u.len);
        buf_release(&u);
    }
    size_t o = 0;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            continue;
        b->data[o++] = (char)c;
    }
    buf_truncate(b, o);
}

void hm_trim(struct buf *b)
{
    size_t s = 0, e = b->len;
    while (s < e &&
           (b->data[s] == ' ' || b->data[s] == '\t' || b->data[s] == '\r' || b->data[s] == '\n'))
        s++;
    while (e > s && (b->data[e - 1] == ' ' || b->data[e - 1] == '\t' || b->data[e - 1] == '\r' ||
                     b->data[e - 1] == '\n'))
        e--;
    if (s > 0)
        memmove(b->data, b->data + s, e - s);
    buf_truncate(b, e - s);
}

/* Decode span v into c->t (trimmed, UTF-8).  Returns c->t.len; the HL7 null
 * "" (also with white space around it) counts as empty. */
size_t hm_dec(struct mctx *c, struct hl7_span v)
{
    buf_reset(&c->t);
    if (hl7_span_is_null(span_trim(v)))
        return 0;
    hl7_unescape_buf(c->d, v, &c->t);
    hm_clean_text(&c->t);
    hm_trim(&c->t);
    return c->t.len;
}

/* Value of segment index seg into c->t; returns its length (0 = absent). */
size_t hm_get(struct mctx *c, long seg, size_t f, size_t r, size_t comp, size_t sub)
{
    struct hl7_span v;
    buf_reset(&c->t);
    if (seg < 0 || hl7_seg_get(c->m, (size_t)seg, f, r, comp, sub, &v))
        return 0;
    return hm_dec(c, v);
}

/* Repetitions of field f of segment seg in one pass; none when the field is
 * absent or empty (as hl7_seg_rep_count() counts them). */
void hm_reps_init(struct mctx *c, long seg, size_t f, struct hl7_iter *it)
{
    struct hl7_span v = {"", 0};
    hl7_iter_init(it, v);
    it->done = true;
    if (seg >= 0 && !hl7_seg_get(c->m, (size_t)seg, f, 0, 0, 0, &v) && v.len > 0)
        hl7_iter_init(it, v);
}

/* JSON string of the value, or NULL if absent. */
json_t *hm_jget(struct mctx *c, long seg, size_t f, size_t r, size_t comp, size_t sub)
{
    if (!hm_get(c, seg, f, r, comp, sub))
        return NULL;
    return json_stringn(c->t.data, c->t.len);
}

json_t *hm_jspan(struct mctx *c, struct hl7_span v)
{
    if (!hm_dec(c, v))
        return NULL;
    return json_stringn(c->t.data, c->t.len);
}
