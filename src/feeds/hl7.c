/*
 * hl7.c - HL7 v2 ER7 parser (see hl7.h for the contract).
 *
 * Data structure: one array of segments and one array of field spans, both
 * as 32-bit offsets into the caller's buffer (messages are capped at 16 MiB).
 * Segment k owns fields[seg.first .. seg.first + seg.nf], where entry 0 is
 * the segment name, so "PID-3" is fields[first + 3] with no search.
 * Repetitions, components and subcomponents are not indexed: fields are
 * short and callers look at a few dozen of them, so scanning a field on
 * demand is cheaper than recording every delimiter of every message.
 *
 * The parse is one pass over the bytes with a 256-entry class table, so the
 * inner loop only stops at the field separator, the escape character and
 * line ends.  Both arrays are kept between parses of the same handle.
 */
#include "feeds/hl7.h"

#include <stdint.h>
#include <stdio.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct seg {
    uint32_t off, len; /* whole segment, without terminator */
    uint32_t first;    /* index of field 0 (the name) in fields[] */
    uint32_t nf;       /* highest field number present */
    char name[4];
};

struct fld {
    uint32_t off, len;
};

struct hl7_msg {
    const char *base; /* the caller's buffer as passed to hl7_msg_parse */
    size_t start, end;
    struct hl7_delims d;
    struct seg *segs;
    size_t nseg, segcap;
    struct fld *flds;
    size_t nfld, fldcap;
};

struct hl7_msg *hl7_msg_new(void)
{
    return xcalloc(1, sizeof(struct hl7_msg));
}

void hl7_msg_free(struct hl7_msg *m)
{
    if (!m)
        return;
    free(m->segs);
    free(m->flds);
    free(m);
}

static int fail(struct hl7_error *err, int code, const char *segname, int seg_index, int field,
                size_t offset, const char *what)
{
    if (!err)
        return code;
    err->code = code;
    err->segment[0] = 0;
    if (segname) {
        memcpy(err->segment, segname, 3);
        err->segment[3] = 0;
    }
    err->seg_index = seg_index;
    err->field = field;
    err->offset = offset;
    if (segname && seg_index == 0)
        snprintf(err->text, sizeof err->text, "%s segment at byte %zu: %s", err->segment, offset,
                 what);
    else if (segname && field > 0)
        snprintf(err->text, sizeof err->text, "segment %d (%s) field %d at byte %zu: %s", seg_index,
                 err->segment, field, offset, what);
    else if (segname)
        snprintf(err->text, sizeof err->text, "segment %d (%s) at byte %zu: %s", seg_index,
                 err->segment, offset, what);
    else
        snprintf(err->text, sizeof err->text, "at byte %zu: %s", offset, what);
    return code;
}

__attribute__((noinline)) static void grow_fields(struct hl7_msg *m)
{
    m->fldcap = m->fldcap ? m->fldcap * 2 : 256;
    m->flds = xrealloc(m->flds, m->fldcap * sizeof *m->flds);
}

static inline void push_field(struct hl7_msg *m, size_t off, size_t len)
{
    if (__builtin_expect(m->nfld == m->fldcap, 0))
        grow_fields(m);
    m->flds[m->nfld].off = (uint32_t)off;
    m->flds[m->nfld].len = (uint32_t)len;
    m->nfld++;
}

static struct seg *push_seg(struct hl7_msg *m, size_t off)
{
    if (m->nseg == m->segcap) {
        m->segcap = m->segcap ? m->segcap * 2 : 32;
        m->segs = xrealloc(m->segs, m->segcap * sizeof *m->segs);
    }
    struct seg *s = &m->segs[m->nseg++];
    memset(s, 0, sizeof *s);
    s->off = (uint32_t)off;
    s->first = (uint32_t)m->nfld;
    return s;
}

static int is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_alnum(char c)
{
    return is_upper(c) || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int bad_delim(char c)
{
    return is_alnum(c) || c == '\r' || c == '\n' || c == ' ' || c == 0;
}

/* Does a segment start at i: [A-Z][A-Z0-9]{2} then fs, a line end or the end? */
static int seg_start(const char *d, size_t i, size_t n, char fs)
{
    if (n - i < 3 || !is_upper(d[i]))
        return 0;
    for (int k = 1; k < 3; k++)
        if (!is_upper(d[i + k]) && !(d[i + k] >= '0' && d[i + k] <= '9'))
            return 0;
    return n - i == 3 || d[i + 3] == fs || d[i + 3] == '\r' || d[i + 3] == '\n';
}

static int is_envelope(const char *p)
{
    return !memcmp(p, "FHS", 3) || !memcmp(p, "BHS", 3) || !memcmp(p, "BTS", 3) ||
           !memcmp(p, "FTS", 3);
}

/* Finding the bytes that matter (field separator, escape, CR, LF): a bit
 * mask per 64-byte block, consumed lowest bit first, so the parser jumps
 * from one delimiter to the next instead of testing every byte.  With SSE2
 * (every x86-64) a block is 4 loads and 16 compares; elsewhere a byte loop
 * fills the same mask.  scan_sync() restarts the mask at a position after
 * the parser moved on its own (a new line, a continuation). */
struct scan {
    const char *d;
    size_t n;
    size_t base;   /* position of bit 0 of mask */
    uint64_t mask; /* specials in [base, base+64) not yet consumed */
    const unsigned char *cls;
#ifdef __SSE2__
    __m128i vfs, vesc;
#endif
};

static inline uint64_t block_mask(const struct scan *s, size_t at)
{
#ifdef __SSE2__
    if (at + 64 <= s->n) {
        const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
        uint64_t m = 0;
        for (int k = 0; k < 4; k++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s->d + at + 16 * k));
            __m128i e =
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, s->vfs), _mm_cmpeq_epi8(x, s->vesc)),
                             _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf)));
            m |= (uint64_t)(uint16_t)_mm_movemask_epi8(e) << (16 * k);
        }
        return m;
    }
#endif
    uint64_t m = 0;
    size_t end = at + 64 < s->n ? at + 64 : s->n;
    for (size_t k = at; k < end; k++)
        if (s->cls[(unsigned char)s->d[k]])
            m |= (uint64_t)1 << (k - at);
    return m;
}

static inline void scan_sync(struct scan *s, size_t i)
{
    s->base = i;
    s->mask = i < s->n ? block_mask(s, i) : 0;
}

/* Position of the next special byte, or n. */
static inline size_t scan_next(struct scan *s)
{
    while (!s->mask) {
        s->base += 64;
        if (s->base >= s->n)
            return s->n;
        s->mask = block_mask(s, s->base);
    }
    size_t p = s->base + (size_t)__builtin_ctzll(s->mask);
    s->mask &= s->mask - 1;
    return p;
}

/* Skip line ends and lines holding only spaces/tabs, starting at i (which
 * is at a line end or a line start). Returns the start of the next real line
 * or n. */
static size_t skip_blank(const char *d, size_t i, size_t n)
{
    for (;;) {
        while (i < n && (d[i] == '\r' || d[i] == '\n'))
            i++;
        size_t j = i;
        while (j < n && (d[j] == ' ' || d[j] == '\t'))
            j++;
        if (j == i || (j < n && d[j] != '\r' && d[j] != '\n'))
            return i;
        i = j; /* a blank line (or trailing blanks at the end) */
        if (i >= n)
            return n;
    }
}

static int parse_body(struct hl7_msg *m, const char *data, size_t len, unsigned flags,
                      struct hl7_error *err)
{
    m->base = data;
    m->nseg = m->nfld = 0;
    m->start = m->end = 0;
    if (err)
        memset(err, 0, sizeof *err);
    if (len > HL7_MAX_MSG_BYTES)
        return fail(err, WEFT_ETOOBIG, NULL, 0, 0, HL7_MAX_MSG_BYTES,
                    "message larger than the 16 MiB limit");
    size_t i = 0;
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        i = 3;
    i = skip_blank(data, i, len);
    if (i >= len)
        return fail(err, WEFT_EPARSE, NULL, 0, 0, i, "empty input: no MSH segment");
    if (len - i < 4 || memcmp(data + i, "MSH", 3))
        return fail(err, WEFT_EPARSE, NULL, 0, 0, i, "message does not start with an MSH segment");
    size_t n = len;
    m->start = i;
    struct hl7_delims *dl = &m->d;
    char fs = data[i + 3];
    if (bad_delim(fs))
        return fail(err, WEFT_EPARSE, "MSH", 1, 1, i + 3,
                    "field separator (MSH-1) must not be a letter, digit, space or line end");
    size_t e = i + 4;
    while (e < n && data[e] != fs && data[e] != '\r' && data[e] != '\n')
        e++;
    size_t enclen = e - (i + 4);
    const char *enc = data + i + 4;
    if (enclen < 4 || enclen > 5)
        return fail(err, WEFT_EPARSE, "MSH", 1, 2, i + 4,
                    "encoding characters (MSH-2) must be 4 characters (component, repetition, "
                    "escape, subcomponent) or 5 with the truncation character");
    for (size_t a = 0; a < enclen; a++) {
        if (bad_delim(enc[a]) || enc[a] == fs)
            return fail(err, WEFT_EPARSE, "MSH", 1, 2, i + 4 + a,
                        "encoding character (MSH-2) is a letter, digit, space, line end or the "
                        "field separator");
        for (size_t b = a + 1; b < enclen; b++)
            if (enc[a] == enc[b])
                return fail(err, WEFT_EPARSE, "MSH", 1, 2, i + 4 + b,
                            "encoding characters (MSH-2) are not distinct");
    }
    dl->field = fs;
    dl->comp = enc[0];
    dl->rep = enc[1];
    dl->esc = enc[2];
    dl->sub = enc[3];
    dl->trunc = enclen == 5 ? enc[4] : 0;

    unsigned char cls[256];
    memset(cls, 0, sizeof cls);
    cls[(unsigned char)fs] = 1;
    cls[(unsigned char)dl->esc] = 2;
    cls['\r'] = 3;
    cls['\n'] = 3;
    const int lax = (flags & HL7_PARSE_LAX_ESCAPES) != 0;
    struct scan sc = {.d = data, .n = n, .cls = cls};
#ifdef __SSE2__
    sc.vfs = _mm_set1_epi8(fs);
    sc.vesc = _mm_set1_epi8(dl->esc);
#endif

    /* MSH: fields 0..2 are fixed. */
    struct seg *s = push_seg(m, i);
    memcpy(s->name, "MSH", 4);
    push_field(m, i, 3);
    push_field(m, i + 3, 1);
    push_field(m, i + 4, enclen);
    s->nf = 2;
    i = e;
    size_t segno = 1;
    int in_field = 0;
    size_t fstart = 0;
    if (i < n && data[i] == fs) {
        i++;
        in_field = 1;
        fstart = i;
    }
    for (;;) {
        /* Scan the fields of segment s from i (in_field: a field starts at fstart). */
        int in_esc = 0;
        size_t esc_at = 0;
        if (in_field)
            scan_sync(&sc, i);
        while (in_field) {
            i = scan_next(&sc);
            int c = i < n ? cls[(unsigned char)data[i]] : 3;
            if (c == 2) {
                in_esc = !in_esc;
                esc_at = i;
                i++;
                continue;
            }
            if (c == 3 && i < n) {
                /* A line that does not start a segment continues the
                 * current field (a sender's unescaped line break). */
                size_t k = skip_blank(data, i, n);
                if (k < n && !seg_start(data, k, n, fs)) {
                    i = k;
                    scan_sync(&sc, i);
                    continue;
                }
            }
            push_field(m, fstart, i - fstart);
            s->nf++;
            if (in_esc && !lax)
                return fail(err, WEFT_EPARSE, s->name, (int)segno, (int)s->nf, esc_at,
                            "unterminated escape sequence");
            in_esc = 0;
            if (c == 1) {
                i++;
                fstart = i;
                continue;
            }
            in_field = 0;
        }
        s->len = (uint32_t)(i - s->off);
        m->end = i;
        if (i < n && data[i] == '\r' && i + 1 < n && data[i + 1] == '\n')
            m->end = i + 2;
        else if (i < n)
            m->end = i + 1;
        i = skip_blank(data, i, n);
        if (i >= n)
            break;
        /* A new segment: validate its name. */
        segno++;
        if (!seg_start(data, i, n, fs))
            return fail(err, WEFT_EPARSE, NULL, (int)segno, 0, i,
                        "line is not a segment (a segment starts with a 3-character name "
                        "[A-Z][A-Z0-9]{2} and the field separator)");
        if (!memcmp(data + i, "MSH", 3))
            return fail(err, WEFT_EPARSE, "MSH", (int)segno, 0, i,
                        "a second MSH segment: the input holds several messages (split it "
                        "first)");
        if (is_envelope(data + i))
            return fail(err, WEFT_EPARSE, data + i, (int)segno, 0, i,
                        "batch/file envelope segment inside a message (split it first)");
        s = push_seg(m, i);
        memcpy(s->name, data + i, 3);
        s->name[3] = 0;
        push_field(m, i, 3);
        i += 3;
        if (i < n && data[i] == fs) {
            i++;
            in_field = 1;
            fstart = i;
        }
    }
    /* Required header fields: without them nothing can be acknowledged. */
    struct hl7_span v;
    if (hl7_seg_get(m, 0, 9, 1, 1, 0, &v) || v.len == 0) {
        m->nseg = 0;
        return fail(err, WEFT_EPARSE, "MSH", 1, 9, m->start, "message type (MSH-9) is missing");
    }
    if (hl7_seg_get(m, 0, 10, 0, 0, 0, &v) || v.len == 0) {
        m->nseg = 0;
        return fail(err, WEFT_EPARSE, "MSH", 1, 10, m->start,
                    "message control id (MSH-10) is missing");
    }
    return 0;
}

int hl7_msg_parse(struct hl7_msg *m, const char *data, size_t len, unsigned flags,
                  struct hl7_error *err)
{
    int rc = parse_body(m, data, len, flags, err);
    if (rc) { /* a failed parse leaves no half message behind */
        m->nseg = m->nfld = 0;
        m->start = m->end = 0;
    }
    return rc;
}

const struct hl7_delims *hl7_msg_delims(const struct hl7_msg *m)
{
    return &m->d;
}

struct hl7_span hl7_msg_raw(const struct hl7_msg *m)
{
    struct hl7_span s = {m->base + m->start, m->end - m->start};
    return s;
}

size_t hl7_seg_count(const struct hl7_msg *m)
{
    return m->nseg;
}

const char *hl7_seg_name(const struct hl7_msg *m, size_t seg)
{
    return seg < m->nseg ? m->segs[seg].name : "";
}

size_t hl7_seg_field_count(const struct hl7_msg *m, size_t seg)
{
    if (seg >= m->nseg)
        return 0;
    /* MSH counts MSH-1 and MSH-2 as fields even when nothing follows. */
    return m->segs[seg].nf;
}

struct hl7_span hl7_seg_raw(const struct hl7_msg *m, size_t seg)
{
    struct hl7_span s = {"", 0};
    if (seg < m->nseg) {
        s.p = m->base + m->segs[seg].off;
        s.len = m->segs[seg].len;
    }
    return s;
}

long hl7_seg_next(const struct hl7_msg *m, size_t from, const char *name)
{
    for (size_t k = from + 1; k < m->nseg; k++)
        if (!memcmp(m->segs[k].name, name, 3))
            return (long)k;
    return -1;
}

long hl7_seg_find(const struct hl7_msg *m, const char *name, size_t rep)
{
    if (rep == 0)
        rep = 1;
    for (size_t k = 0; k < m->nseg; k++)
        if (!memcmp(m->segs[k].name, name, 3) && --rep == 0)
            return (long)k;
    return -1;
}

/* The n-th (1-based) sep-separated part of s, or WEFT_ENOTFOUND. */
static int part(struct hl7_span s, char sep, size_t n, struct hl7_span *out)
{
    const char *p = s.p, *end = s.p + s.len;
    while (--n > 0) {
        const char *q = memchr(p, sep, (size_t)(end - p));
        if (!q) {
            out->p = end;
            out->len = 0;
            return WEFT_ENOTFOUND;
        }
        p = q + 1;
    }
    const char *q = memchr(p, sep, (size_t)(end - p));
    out->p = p;
    out->len = (size_t)((q ? q : end) - p);
    return 0;
}

struct hl7_span hl7_span_part(struct hl7_span s, char sep, size_t n)
{
    struct hl7_span out;
    if (n == 0 || part(s, sep, n, &out))
        out.p = s.p, out.len = 0;
    return out;
}

size_t hl7_span_count(struct hl7_span s, char sep)
{
    size_t k = 1;
    for (size_t i = 0; i < s.len; i++)
        k += s.p[i] == sep;
    return k;
}

int hl7_seg_get(const struct hl7_msg *m, size_t seg, size_t field, size_t rep, size_t comp,
                size_t sub, struct hl7_span *out)
{
    out->p = "";
    out->len = 0;
    if (seg >= m->nseg || field == 0 || field > m->segs[seg].nf)
        return WEFT_ENOTFOUND;
    const struct fld *f = &m->flds[m->segs[seg].first + field];
    struct hl7_span v = {m->base + f->off, f->len};
    if (seg == 0 && field <= 2) { /* MSH-1 and MSH-2 are never split */
        if (rep > 1 || comp > 1 || sub > 1)
            return WEFT_ENOTFOUND;
        *out = v;
        return 0;
    }
    if (rep == 0 && comp == 0 && sub == 0) {
        *out = v;
        return 0;
    }
    if (part(v, m->d.rep, rep ? rep : 1, &v))
        return WEFT_ENOTFOUND;
    if (comp == 0 && sub == 0) {
        *out = v;
        return 0;
    }
    if (part(v, m->d.comp, comp ? comp : 1, &v))
        return WEFT_ENOTFOUND;
    if (sub != 0 && part(v, m->d.sub, sub, &v))
        return WEFT_ENOTFOUND;
    *out = v;
    return 0;
}

int hl7_get(const struct hl7_msg *m, const char *name, size_t seg_rep, size_t field, size_t rep,
            size_t comp, size_t sub, struct hl7_span *out)
{
    long k = hl7_seg_find(m, name, seg_rep);
    if (k < 0) {
        out->p = "";
        out->len = 0;
        return WEFT_ENOTFOUND;
    }
    return hl7_seg_get(m, (size_t)k, field, rep, comp, sub, out);
}

size_t hl7_seg_rep_count(const struct hl7_msg *m, size_t seg, size_t field)
{
    struct hl7_span v;
    if (hl7_seg_get(m, seg, field, 0, 0, 0, &v) || v.len == 0)
        return 0;
    if (seg == 0 && field <= 2)
        return 1;
    return hl7_span_count(v, m->d.rep);
}

void hl7_iter_init(struct hl7_iter *it, struct hl7_span s)
{
    it->p = s.p;
    it->end = s.p + s.len;
    it->done = false;
}

bool hl7_iter_next(struct hl7_iter *it, char sep, struct hl7_span *part)
{
    if (it->done)
        return false;
    const char *q = memchr(it->p, sep, (size_t)(it->end - it->p));
    part->p = it->p;
    if (q) {
        part->len = (size_t)(q - it->p);
        it->p = q + 1;
    } else {
        part->len = (size_t)(it->end - it->p);
        it->p = it->end;
        it->done = true;
    }
    return true;
}

bool hl7_span_is_null(struct hl7_span s)
{
    return s.len == 2 && s.p[0] == '"' && s.p[1] == '"';
}

bool hl7_span_eq(struct hl7_span s, const char *lit)
{
    size_t l = strlen(lit);
    return l == s.len && !memcmp(s.p, lit, l);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int all_digits(const char *p, size_t n, int allow_sign)
{
    size_t i = 0;
    if (allow_sign && n > 0 && (p[0] == '+' || p[0] == '-'))
        i = 1;
    for (; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* Decode the escape sequence body q[0..ql) into out (at most 4 + ql bytes).
 * Returns the number of bytes produced, or -1 when the sequence is unknown
 * and must be kept literally. */
static long decode_seq(const struct hl7_delims *d, const char *q, size_t ql, char *tmp)
{
    if (ql == 1) {
        switch (q[0]) {
        case 'F':
            tmp[0] = d->field;
            return 1;
        case 'S':
            tmp[0] = d->comp;
            return 1;
        case 'T':
            tmp[0] = d->sub;
            return 1;
        case 'R':
            tmp[0] = d->rep;
            return 1;
        case 'E':
            tmp[0] = d->esc;
            return 1;
        case 'P':
            if (!d->trunc)
                return -1;
            tmp[0] = d->trunc;
            return 1;
        case 'H':
        case 'N':
            return 0;
        default:
            return -1;
        }
    }
    if (ql == 0)
        return -1;
    if (q[0] == 'X') {
        if ((ql - 1) % 2 != 0 || ql == 1)
            return -1;
        for (size_t k = 1; k < ql; k++)
            if (hexval(q[k]) < 0)
                return -1;
        size_t o = 0;
        for (size_t k = 1; k < ql; k += 2)
            tmp[o++] = (char)(hexval(q[k]) * 16 + hexval(q[k + 1]));
        return (long)o;
    }
    if (q[0] == '.' && ql >= 3) {
        if (!memcmp(q, ".br", 3) && ql == 3) {
            tmp[0] = '\n';
            return 1;
        }
        if (!memcmp(q, ".sp", 3) && all_digits(q + 3, ql - 3, 0)) {
            tmp[0] = '\n';
            return 1;
        }
        if ((!memcmp(q, ".in", 3) || !memcmp(q, ".ti", 3) || !memcmp(q, ".sk", 3)) &&
            all_digits(q + 3, ql - 3, 1))
            return 0;
        if (ql == 3 && (!memcmp(q, ".ce", 3) || !memcmp(q, ".fi", 3) || !memcmp(q, ".nf", 3)))
            return 0;
        return -1;
    }
    if ((q[0] == 'C' && ql == 5) || (q[0] == 'M' && (ql == 5 || ql == 7))) {
        for (size_t k = 1; k < ql; k++)
            if (hexval(q[k]) < 0)
                return -1;
        return 0;
    }
    if (q[0] == 'Z')
        return 0;
    return -1;
}

size_t hl7_unescape(const struct hl7_delims *d, struct hl7_span s, char *out, size_t cap)
{
    size_t o = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 < cap)                                                                           \
            out[o] = (ch);                                                                         \
        o++;                                                                                       \
    } while (0)
    const char *p = s.p;
    size_t n = s.len;
    for (size_t i = 0; i < n;) {
        char c = p[i];
        if (c != d->esc) {
            PUT(c);
            i++;
            continue;
        }
        const char *close = memchr(p + i + 1, d->esc, n - i - 1);
        if (!close) { /* unclosed: the rest is text */
            for (; i < n; i++)
                PUT(p[i]);
            break;
        }
        size_t ql = (size_t)(close - (p + i + 1));
        char tmp[64];
        long k = -1;
        if (ql / 2 + 2 < sizeof tmp)
            k = decode_seq(d, p + i + 1, ql, tmp);
        else if (p[i + 1] == 'X' || p[i + 1] == 'Z') {
            /* long hex runs: decode in place without the small buffer */
            int ok = p[i + 1] == 'Z';
            if (!ok && (ql - 1) % 2 == 0) {
                ok = 1;
                for (size_t a = 2; a <= ql; a++)
                    if (hexval(p[i + a]) < 0)
                        ok = 0;
            }
            if (ok) {
                if (p[i + 1] == 'X')
                    for (size_t a = 2; a <= ql; a += 2)
                        PUT((char)(hexval(p[i + a]) * 16 + hexval(p[i + a + 1])));
                i += ql + 2;
                continue;
            }
        }
        if (k < 0) { /* unknown: keep the whole sequence literally */
            for (size_t a = 0; a < ql + 2; a++)
                PUT(p[i + a]);
        } else {
            for (long a = 0; a < k; a++)
                PUT(tmp[a]);
        }
        i += ql + 2;
    }
    if (cap > 0)
        out[o < cap ? o : cap - 1] = 0;
#undef PUT
    return o;
}

void hl7_unescape_buf(const struct hl7_delims *d, struct hl7_span s, struct buf *b)
{
    /* Decoding never lengthens the text, so s.len bytes are enough. */
    buf_grow(b, s.len);
    size_t k = hl7_unescape(d, s, b->data + b->len, s.len + 1);
    b->len += k;
    b->data[b->len] = 0;
}

void hl7_escape_buf(const struct hl7_delims *d, const char *text, size_t len, struct buf *b)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        char code = 0;
        if (c == d->field)
            code = 'F';
        else if (c == d->comp)
            code = 'S';
        else if (c == d->sub)
            code = 'T';
        else if (c == d->rep)
            code = 'R';
        else if (c == d->esc)
            code = 'E';
        else if (d->trunc && c == d->trunc)
            code = 'P';
        if (code) {
            buf_addc(b, d->esc);
            buf_addc(b, code);
            buf_addc(b, d->esc);
        } else if (c == '\n') {
            buf_addc(b, d->esc);
            /* with '.' as the escape character \.br\ cannot be written */
            buf_adds(b, d->esc == '.' ? "X0A" : ".br");
            buf_addc(b, d->esc);
        } else if (c == '\r') {
            buf_addc(b, d->esc);
            buf_adds(b, "X0D");
            buf_addc(b, d->esc);
        } else {
            buf_addc(b, c);
        }
    }
}

/* Re-encode one leaf value from delimiters from to delimiters to.  Text and
 * delimiter escapes are decoded and escaped again; sequences that decode to
 * nothing (\H\ \N\ \Cxxyy\ \Mxxyyzz\ \Zxx\ and formatting commands
 * other than \.br\ and \.sp\) are copied with the new escape character, so
 * re-encoding keeps them instead of silently emptying a value. */
static void encode_leaf(const struct hl7_delims *from, const struct hl7_delims *to,
                        struct hl7_span v, struct buf *tmp, struct buf *b)
{
    const char *p = v.p;
    size_t n = v.len, i = 0, lit = 0; /* lit: start of text not yet written */
    while (i < n) {
        if (p[i] != from->esc) {
            i++;
            continue;
        }
        const char *close = memchr(p + i + 1, from->esc, n - i - 1);
        if (!close)
            break;
        size_t ql = (size_t)(close - (p + i + 1));
        char small[64];
        int keep = 0;
        if (ql > 0 && ql < sizeof small && decode_seq(from, p + i + 1, ql, small) == 0) {
            keep = 1; /* dropped by decoding: copy, unless it holds a new delimiter */
            for (size_t k = 0; k < ql; k++) {
                char ch = p[i + 1 + k];
                if (ch == to->field || ch == to->comp || ch == to->rep || ch == to->sub ||
                    ch == to->esc || (to->trunc && ch == to->trunc) || ch == '\r' || ch == '\n')
                    keep = 0;
            }
        }
        if (!keep) {
            i = (size_t)(close - p) + 1;
            continue;
        }
        struct hl7_span t = {p + lit, i - lit};
        buf_reset(tmp);
        hl7_unescape_buf(from, t, tmp);
        hl7_escape_buf(to, tmp->data, tmp->len, b);
        buf_addc(b, to->esc);
        buf_add(b, p + i + 1, ql);
        buf_addc(b, to->esc);
        i = (size_t)(close - p) + 1;
        lit = i;
    }
    struct hl7_span t = {p + lit, n - lit};
    buf_reset(tmp);
    hl7_unescape_buf(from, t, tmp);
    hl7_escape_buf(to, tmp->data, tmp->len, b);
}

static void encode_value(const struct hl7_msg *m, const struct hl7_delims *d, struct hl7_span v,
                         struct buf *tmp, struct buf *b)
{
    struct hl7_iter ri, ci, si;
    struct hl7_span rv, cv, sv;
    hl7_iter_init(&ri, v);
    for (int r = 0; hl7_iter_next(&ri, m->d.rep, &rv); r++) {
        if (r)
            buf_addc(b, d->rep);
        hl7_iter_init(&ci, rv);
        for (int c = 0; hl7_iter_next(&ci, m->d.comp, &cv); c++) {
            if (c)
                buf_addc(b, d->comp);
            hl7_iter_init(&si, cv);
            for (int s = 0; hl7_iter_next(&si, m->d.sub, &sv); s++) {
                if (s)
                    buf_addc(b, d->sub);
                encode_leaf(&m->d, d, sv, tmp, b);
            }
        }
    }
}

void hl7_msg_encode(const struct hl7_msg *m, const struct hl7_delims *d, struct buf *b)
{
    if (!d)
        d = &m->d;
    struct buf tmp = BUF_INIT;
    for (size_t k = 0; k < m->nseg; k++) {
        const struct seg *s = &m->segs[k];
        buf_add(b, s->name, 3);
        size_t f = 1;
        if (k == 0) {
            buf_addc(b, d->field);
            buf_addc(b, d->comp);
            buf_addc(b, d->rep);
            buf_addc(b, d->esc);
            buf_addc(b, d->sub);
            if (d->trunc)
                buf_addc(b, d->trunc);
            f = 3;
        }
        for (; f <= s->nf; f++) {
            const struct fld *fl = &m->flds[s->first + f];
            struct hl7_span v = {m->base + fl->off, fl->len};
            buf_addc(b, d->field);
            encode_value(m, d, v, &tmp, b);
        }
        buf_addc(b, '\r');
    }
    buf_release(&tmp);
}

/* ---- splitter ---------------------------------------------------------- */

void hl7_split_init(struct hl7_split *s, const char *data, size_t len)
{
    memset(s, 0, sizeof *s);
    s->data = data;
    s->len = len;
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        s->pos = 3;
}

static size_t line_end(const char *d, size_t i, size_t n)
{
    while (i < n && d[i] != '\r' && d[i] != '\n')
        i++;
    return i;
}

/* True if the line at i starts with the 3-letter name followed by a
 * separator-like character or the line end (the field separator is not
 * known before MSH is read, so any non-alphanumeric byte counts). */
static int line_is(const char *d, size_t i, size_t n, const char *name)
{
    if (n - i < 3 || memcmp(d + i, name, 3))
        return 0;
    return n - i == 3 || !is_alnum(d[i + 3]);
}

static int is_envelope_line(const char *d, size_t i, size_t n)
{
    return line_is(d, i, n, "FHS") || line_is(d, i, n, "BHS") || line_is(d, i, n, "BTS") ||
           line_is(d, i, n, "FTS");
}

static int split_fail(struct hl7_split *s, struct hl7_error *err, size_t at, const char *what)
{
    s->done = 1;
    char seg[4] = "";
    if (s->len - at >= 3 && is_upper(s->data[at]) && is_alnum(s->data[at + 1]) &&
        is_alnum(s->data[at + 2]))
        memcpy(seg, s->data + at, 3);
    return fail(err, WEFT_EPARSE, seg[0] ? seg : NULL, 0, 0, at, what);
}

int hl7_split_next(struct hl7_split *s, struct hl7_span *msg, struct hl7_error *err)
{
    const char *d = s->data;
    size_t n = s->len;
    if (err)
        memset(err, 0, sizeof *err);
    msg->p = "";
    msg->len = 0;
    if (s->done)
        return 0;
    for (;;) {
        size_t i = skip_blank(d, s->pos, n);
        if (i >= n) {
            s->done = 1;
            if (s->nmsg == 0)
                return split_fail(s, err, i, "input holds no message (no MSH segment)");
            return 0;
        }
        size_t e = line_end(d, i, n);
        s->pos = e;
        if (line_is(d, i, n, "FHS")) {
            if (s->in_file)
                return split_fail(s, err, i, "FHS inside an open file (no FTS before it)");
            if (s->in_batch)
                return split_fail(s, err, i, "FHS inside an open batch");
            s->in_file = 1;
        } else if (line_is(d, i, n, "BHS")) {
            if (s->in_batch)
                return split_fail(s, err, i, "BHS inside an open batch (no BTS before it)");
            s->in_batch = 1;
        } else if (line_is(d, i, n, "BTS")) {
            s->in_batch = 0; /* a BTS without BHS is tolerated */
        } else if (line_is(d, i, n, "FTS")) {
            if (s->in_batch)
                return split_fail(s, err, i, "FTS inside an open batch (no BTS before it)");
            s->in_file = 0;
        } else if (line_is(d, i, n, "MSH")) {
            /* The message runs to the next MSH or envelope segment. */
            size_t j = e;
            for (;;) {
                size_t k = skip_blank(d, j, n);
                if (k >= n || line_is(d, k, n, "MSH") || is_envelope_line(d, k, n))
                    break;
                j = line_end(d, k, n);
            }
            /* include the terminator of the last line */
            if (j < n && d[j] == '\r' && j + 1 < n && d[j + 1] == '\n')
                j += 2;
            else if (j < n)
                j++;
            s->pos = j;
            s->nmsg++;
            msg->p = d + i;
            msg->len = j - i;
            return 1;
        } else {
            return split_fail(s, err, i,
                              "text outside a message (expected MSH, FHS, BHS, BTS or FTS)");
        }
    }
}
