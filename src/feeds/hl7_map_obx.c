/*
 * hl7_map_obx.c - OBX values shared by ORU, MDM and SIU: numbers (NM),
 * text joined from repetitions, ED attachments (base64).
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a decimal number (HL7 NM) into a JSON real/integer; NULL if not one. */
json_t *hm_number(const char *s, size_t n)
{
    while (n && *s == ' ')
        s++, n--;
    while (n && s[n - 1] == ' ')
        n--;
    if (n == 0 || n > 40)
        return NULL;
    char tmp[48];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    size_t i = 0, dig = 0;
    if (tmp[i] == '+' || tmp[i] == '-')
        i++;
    for (; tmp[i] >= '0' && tmp[i] <= '9'; i++)
        dig++;
    int has_dot = 0;
    if (tmp[i] == '.') {
        has_dot = 1;
        i++;
        for (; tmp[i] >= '0' && tmp[i] <= '9'; i++)
            dig++;
    }
    if (i != n || dig == 0)
        return NULL;
    if (!has_dot && n < 18)
        return json_integer(strtoll(tmp, NULL, 10));
    return json_real(strtod(tmp, NULL));
}

/* Join every repetition of OBX-5 into c->t with line feeds. */
void hm_obx_text(struct mctx *c, long obx, struct buf *out)
{
    buf_reset(out);
    struct hl7_iter it;
    struct hl7_span v;
    size_t r = 0;
    FOR_REPS(c, obx, 5, it, v)
    {
        if (++r > 1)
            buf_addc(out, '\n');
        if (!hl7_span_is_null(v))
            hl7_unescape_buf(c->d, v, out);
    }
    hm_clean_text(out);
    hm_trim(out);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void hm_base64(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        buf_addc(out, b64[(v >> 18) & 63]);
        buf_addc(out, b64[(v >> 12) & 63]);
        buf_addc(out, i + 1 < n ? b64[(v >> 6) & 63] : '=');
        buf_addc(out, i + 2 < n ? b64[v & 63] : '=');
    }
}

/* ED value (source^type^subtype^encoding^data) → FHIR Attachment, or NULL. */
json_t *hm_ed_attachment(struct mctx *c, struct hl7_span v)
{
    char type[64] = "application", sub[64] = "octet-stream";
    if (hm_dec(c, hl7_span_part(v, c->d->comp, 2))) {
        if (span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "TEXT"))
            snprintf(type, sizeof type, "text");
        else if (span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "IM") ||
                 span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "IMAGE"))
            snprintf(type, sizeof type, "image");
    }
    if (hm_dec(c, hl7_span_part(v, c->d->comp, 3))) {
        snprintf(sub, sizeof sub, "%.*s", (int)c->t.len, c->t.data);
        for (char *p = sub; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        if (!strcmp(sub, "pdf") || !strcmp(sub, "rtf") || !strcmp(sub, "xml"))
            snprintf(type, sizeof type, "%s", !strcmp(sub, "xml") ? "text" : "application");
    }
    int is_b64 = hm_dec(c, hl7_span_part(v, c->d->comp, 4)) &&
                 span_eq_ci((struct hl7_span){c->t.data, c->t.len}, "BASE64");
    if (!hm_dec(c, hl7_span_part(v, c->d->comp, 5)))
        return NULL;
    json_t *att = json_object();
    char ct[140];
    snprintf(ct, sizeof ct, "%s/%s", type, sub);
    json_object_set_new(att, "contentType", json_string(ct));
    if (is_b64) {
        /* keep only base64 characters (senders wrap lines) */
        size_t o = 0;
        for (size_t i = 0; i < c->t.len; i++) {
            char ch = c->t.data[i];
            if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                ch == '+' || ch == '/' || ch == '=')
                c->t.data[o++] = ch;
        }
        json_object_set_new(att, "data", json_stringn(c->t.data, o));
    } else {
        struct buf e = BUF_INIT;
        hm_base64(c->t.data, c->t.len, &e);
        json_object_set_new(att, "data", json_stringn(e.data, e.len));
        buf_release(&e);
    }
    return att;
}
