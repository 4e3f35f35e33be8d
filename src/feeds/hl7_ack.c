/*
 * hl7_ack.c - ACK/NAK building (see hl7_ack.h).
 *
 * Fields copied from the original (sender, receiver, processing id,
 * version, control id) are copied raw: they are already encoded with the
 * same delimiters the ACK uses.  Only our own text is escaped.
 */
#include "feeds/hl7_ack.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

static atomic_ulong ack_counter;

void hl7_ack_control_id(char *out, size_t cap)
{
    unsigned long k = atomic_fetch_add(&ack_counter, 1) % 1000000ul;
    snprintf(out, cap, "W%lld%06lu", (long long)time(NULL) % 10000000000ll, k);
}

static void add_now(struct buf *b)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y%m%d%H%M%S+0000", &tm);
    buf_adds(b, s);
}

static int valid_code(const char *c)
{
    static const char *const codes[] = {"AA", "AE", "AR", "CA", "CE", "CR"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (c && !strcmp(c, codes[i]))
            return 1;
    return 0;
}

/* Is version text like "2.5.1" at least 2.5?  Empty/unknown counts as new. */
static int version_new_style(const char *v, size_t len)
{
    if (len < 3 || v[0] < '0' || v[0] > '9')
        return 1;
    int major = 0, minor = 0;
    size_t i = 0;
    while (i < len && v[i] >= '0' && v[i] <= '9' && major < 100)
        major = major * 10 + (v[i++] - '0');
    if (i < len && v[i] == '.')
        i++;
    while (i < len && v[i] >= '0' && v[i] <= '9' && minor < 100)
        minor = minor * 10 + (v[i++] - '0');
    return major > 2 || (major == 2 && minor >= 5);
}

/* What the ACK copies from the original, as raw (already encoded) spans. */
struct ack_src {
    struct hl7_delims d;
    struct hl7_span send_app, send_fac, recv_app, recv_fac, trigger, ctrl, proc, version, ver1;
};

static void add_err(struct buf *b, const struct ack_src *s, const char *ack_code, const char *text,
                    const struct hl7_ack_detail *det)
{
    const struct hl7_delims *d = &s->d;
    int code = det && det->code
                   ? det->code
                   : (ack_code[1] == 'R' ? HL7_ERR_UNSUPPORTED_MESSAGE_TYPE : HL7_ERR_INTERNAL);
    const char *seg = det && det->segment && strlen(det->segment) == 3 ? det->segment : NULL;
    int seq = det && det->seg_seq > 0 ? det->seg_seq : 1;
    int field = det && det->field > 0 ? det->field : 0;
    size_t tl = text ? strlen(text) : 0;
    if (tl > 500)
        tl = 500;
    buf_adds(b, "ERR");
    if (version_new_style(s->ver1.p, s->ver1.len)) {
        /* ERR-2 location, ERR-3 code, ERR-4 severity, ERR-8 user message */
        buf_addc(b, d->field);
        buf_addc(b, d->field);
        if (seg) {
            buf_adds(b, seg);
            buf_addf(b, "%c%d", d->comp, seq);
            if (field)
                buf_addf(b, "%c%d", d->comp, field);
        }
        buf_addf(b, "%c%d%c", d->field, code, d->comp);
        hl7_escape_buf(d, text ? text : "", tl, b);
        buf_addf(b, "%cHL70357%cE%c%c%c%c", d->comp, d->field, d->field, d->field, d->field,
                 d->field);
        hl7_escape_buf(d, text ? text : "", tl, b);
    } else {
        /* ERR-1: SEG^seq^field^code&text&HL70357 */
        buf_addc(b, d->field);
        if (seg)
            buf_adds(b, seg);
        buf_addc(b, d->comp);
        if (seg)
            buf_addf(b, "%d", seq);
        buf_addc(b, d->comp);
        if (seg && field)
            buf_addf(b, "%d", field);
        buf_addf(b, "%c%d%c", d->comp, code, d->sub);
        hl7_escape_buf(d, text ? text : "", tl, b);
        buf_addf(b, "%cHL70357", d->sub);
    }
    buf_addc(b, '\r');
}

static void build(const struct ack_src *s, const char *ack_code, const char *text,
                  const struct hl7_ack_detail *det, struct buf *b)
{
    const struct hl7_delims *d = &s->d;
    char ctl[32];
    if (det && det->control_id)
        snprintf(ctl, sizeof ctl, "%.20s", det->control_id);
    else
        hl7_ack_control_id(ctl, sizeof ctl);
    buf_addf(b, "MSH%c%c%c%c%c", d->field, d->comp, d->rep, d->esc, d->sub);
    if (d->trunc)
        buf_addc(b, d->trunc);
    buf_addc(b, d->field);
    buf_add(b, s->recv_app.p, s->recv_app.len);
    buf_addc(b, d->field);
    buf_add(b, s->recv_fac.p, s->recv_fac.len);
    buf_addc(b, d->field);
    buf_add(b, s->send_app.p, s->send_app.len);
    buf_addc(b, d->field);
    buf_add(b, s->send_fac.p, s->send_fac.len);
    buf_addc(b, d->field);
    add_now(b);
    buf_addf(b, "%c%cACK", d->field, d->field);
    if (s->trigger.len) {
        buf_addc(b, d->comp);
        buf_add(b, s->trigger.p, s->trigger.len);
        buf_addf(b, "%cACK", d->comp);
    }
    buf_addf(b, "%c%s%c", d->field, ctl, d->field);
    if (s->proc.len)
        buf_add(b, s->proc.p, s->proc.len);
    else
        buf_addc(b, 'P');
    buf_addc(b, d->field);
    if (s->version.len)
        buf_add(b, s->version.p, s->version.len);
    else
        buf_adds(b, "2.5");
    buf_addc(b, '\r');
    buf_addf(b, "MSA%c%s%c", d->field, ack_code, d->field);
    buf_add(b, s->ctrl.p, s->ctrl.len);
    if (text && *text) {
        size_t tl = strlen(text);
        buf_addc(b, d->field);
        hl7_escape_buf(d, text, tl > 500 ? 500 : tl, b);
    }
    buf_addc(b, '\r');
    if (ack_code[1] != 'A')
        add_err(b, s, ack_code, text, det);
}

int hl7_ack_build_ex(const struct hl7_msg *msg, const char *ack_code, const char *text,
                     const struct hl7_ack_detail *detail, struct buf *out)
{
    if (!valid_code(ack_code))
        return WEFT_EINVAL;
    struct ack_src s;
    memset(&s, 0, sizeof s);
    s.d = *hl7_msg_delims(msg);
    hl7_seg_get(msg, 0, 3, 0, 0, 0, &s.send_app);
    hl7_seg_get(msg, 0, 4, 0, 0, 0, &s.send_fac);
    hl7_seg_get(msg, 0, 5, 0, 0, 0, &s.recv_app);
    hl7_seg_get(msg, 0, 6, 0, 0, 0, &s.recv_fac);
    hl7_seg_get(msg, 0, 9, 1, 2, 0, &s.trigger);
    hl7_seg_get(msg, 0, 10, 0, 0, 0, &s.ctrl);
    hl7_seg_get(msg, 0, 11, 0, 0, 0, &s.proc);
    hl7_seg_get(msg, 0, 12, 0, 0, 0, &s.version);
    hl7_seg_get(msg, 0, 12, 1, 1, 1, &s.ver1);
    build(&s, ack_code, text, detail, out);
    return 0;
}

int hl7_ack_build(const struct hl7_msg *msg, const char *ack_code, const char *text,
                  struct buf *out)
{
    return hl7_ack_build_ex(msg, ack_code, text, NULL, out);
}

/* Best-effort copy of field k of the first line into tmp, escaped as text
 * with the standard delimiters; returns a span into tmp's storage later. */
static void take_field(const char *line, size_t len, char fs, size_t k, struct buf *store,
                       size_t *off, size_t *flen)
{
    size_t f = 2, i; /* line[3] is fs (MSH-1); MSH-2 starts at 4 */
    size_t start = 4;
    for (i = 4; i < len && f < k; i++)
        if (line[i] == fs) {
            f++;
            start = i + 1;
        }
    *off = store->len;
    *flen = 0;
    if (f != k || k < 3)
        return;
    size_t e = start;
    while (e < len && line[e] != fs)
        e++;
    if (e - start > 199)
        e = start + 199;
    static const struct hl7_delims std = {'|', '^', '~', '\\', '&', 0};
    hl7_escape_buf(&std, line + start, e - start, store);
    *flen = store->len - *off;
}

int hl7_ack_build_nak(const char *data, size_t len, const char *ack_code, const char *text,
                      const struct hl7_error *perr, struct buf *out)
{
    if (!valid_code(ack_code))
        return WEFT_EINVAL;
    struct ack_src s;
    memset(&s, 0, sizeof s);
    s.d = (struct hl7_delims){'|', '^', '~', '\\', '&', 0};
    struct buf store = BUF_INIT;
    size_t offs[9], lens[9];
    static const size_t want[9] = {3, 4, 5, 6, 10, 11, 12, 9, 0};
    memset(offs, 0, sizeof offs);
    memset(lens, 0, sizeof lens);
    size_t i = 0;
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        i = 3;
    const char *line = data + i;
    size_t ll = 0;
    while (i + ll < len && line[ll] != '\r' && line[ll] != '\n')
        ll++;
    if (ll > 4 && !memcmp(line, "MSH", 3)) {
        char fs = line[3];
        for (int k = 0; k < 7; k++)
            take_field(line, ll, fs, want[k], &store, &offs[k], &lens[k]);
    }
    /* spans into store (no more appends below) */
    struct hl7_span *dst[7] = {&s.send_app, &s.send_fac, &s.recv_app, &s.recv_fac,
                               &s.ctrl,     &s.proc,     &s.version};
    for (int k = 0; k < 7; k++) {
        dst[k]->p = store.data + offs[k];
        dst[k]->len = lens[k];
    }
    /* the version's first component, for the ERR style */
    s.ver1 = s.version;
    for (size_t k = 0; k < s.ver1.len; k++)
        if (s.ver1.p[k] == '\\' || s.ver1.p[k] == '^') {
            s.ver1.len = k;
            break;
        }
    /* a mangled copied version or control id is worse than none */
    s.version.len = s.ver1.len;
    struct hl7_ack_detail det = {0};
    /* ERR-2 wants the segment's occurrence, which the parser knows only for
     * MSH; elsewhere the error text carries the position instead. */
    if (perr && !strcmp(perr->segment, "MSH")) {
        det.segment = perr->segment;
        det.seg_seq = 1;
        det.field = perr->field;
    }
    det.code = perr && perr->field ? HL7_ERR_REQUIRED_FIELD : HL7_ERR_SEGMENT_SEQUENCE;
    if (perr && perr->code == WEFT_ETOOBIG)
        det.code = HL7_ERR_INTERNAL;
    build(&s, ack_code, text ? text : (perr ? perr->text : "message could not be parsed"), &det,
          out);
    buf_release(&store);
    return 0;
}
