/*
 * hl7_map_bundle.c - the Bundle being built: FHIR ids and urn:uuid fullUrls derived
 * from content, entries (PUT Type/id, ids kept unique), references, and the
 * failure that answers AR.
 */
#include "core/hex.h"
#include "feeds/hl7_map_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- small helpers --------------------------------------------------- */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void hl7_map_fhir_id(const char *text, size_t len, char out[65])
{
    size_t o = 0;
    for (size_t i = 0; i < len && o < 64; i++) {
        char c = text[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.';
        out[o++] = ok ? c : '-';
    }
    if (len > 64) {
        uint64_t h = fnv1a(text, len, 0xcbf29ce484222325ull);
        snprintf(out + 47, 18, "-%016llx", (unsigned long long)h);
        o = 64;
    }
    if (o == 0)
        out[o++] = '0';
    out[o] = 0;
}

static void make_uuid(const char *type, const char *id, char out[64])
{
    char key[160];
    int n = snprintf(key, sizeof key, "%s/%s", type, id);
    uint64_t a = fnv1a(key, (size_t)n, 0xcbf29ce484222325ull);
    uint64_t b = fnv1a(key, (size_t)n, 0x84222325cbf29ce4ull ^ a);
    unsigned char u[16];
    for (int i = 0; i < 8; i++) {
        u[i] = (unsigned char)(a >> (8 * i));
        u[8 + i] = (unsigned char)(b >> (8 * i));
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x80); /* version 8: name-based, custom hash */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    memcpy(out, "urn:uuid:", 9);
    char *o = hex_encode(u, 4, out + 9); /* 8-4-4-4-12 */
    for (int i = 4; i < 10; i += 2) {
        *o++ = '-';
        o = hex_encode(u + i, 2, o);
    }
    *o++ = '-';
    hex_encode(u + 10, 6, o);
}

/* ---- bundle ----------------------------------------------------------- */

/* Add resource res (stolen) as type/id; writes its fullUrl to url_out. */
void hm_add_entry(struct mctx *c, const char *type, const char *want_id, json_t *res, char *id_out,
                  char url_out[64])
{
    char id[65], key[160], base[160];
    snprintf(id, sizeof id, "%s", want_id);
    snprintf(base, sizeof base, "%s/%s", type, id);
    memcpy(key, base, sizeof key);
    /* seen["Type/id"] holds the last suffix tried for that base id, so many
     * entries wanting one id cost one lookup each, not one per earlier twin */
    json_t *last = json_object_get(c->seen, base);
    if (last) {
        json_int_t k = json_integer_value(last);
        for (;;) {
            k++;
            char suffix[24];
            int sl = snprintf(suffix, sizeof suffix, "-%lld", (long long)k);
            size_t bl = strlen(want_id);
            if (bl + (size_t)sl > 64)
                bl = 64 - (size_t)sl;
            snprintf(id, sizeof id, "%.*s%s", (int)bl, want_id, suffix);
            snprintf(key, sizeof key, "%s/%s", type, id);
            if (!json_object_get(c->seen, key))
                break;
        }
        json_integer_set(last, k);
    }
    json_object_set_new(c->seen, key, json_integer(1));
    char url[64];
    make_uuid(type, id, url);
    json_object_set_new(res, "resourceType", json_string(type));
    json_object_set_new(res, "id", json_string(id));
    json_t *e = json_object();
    json_object_set_new(e, "fullUrl", json_string(url));
    json_object_set_new(e, "resource", res);
    json_object_set_new(e, "request", json_pack("{s:s,s:s}", "method", "PUT", "url", key));
    json_array_append_new(c->entries, e);
    if (id_out)
        memcpy(id_out, id, strlen(id) + 1);
    if (url_out)
        memcpy(url_out, url, strlen(url) + 1);
}

json_t *hm_ref(const char *url)
{
    return fhir_reference(&(struct fhir_reference){.reference = url});
}

json_t *hm_patient_ref(struct mctx *c)
{
    return hm_ref(c->pat_url);
}

/* An id from parts joined with '-'. */
void hm_make_id(char out[65], const char *a, const char *b, const char *d)
{
    char tmp[512];
    int n = snprintf(tmp, sizeof tmp, "%s%s%s%s%s", a, b && *b ? "-" : "", b ? b : "",
                     d && *d ? "-" : "", d ? d : "");
    hl7_map_fhir_id(tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1, out);
}

int hm_fail(struct mctx *c, int rc, const char *seg, int field, int code, const char *why)
{
    c->r->ack_code = "AR";
    snprintf(c->r->reason, sizeof c->r->reason, "%s", why);
    if (seg) {
        snprintf(c->r->err_segment, sizeof c->r->err_segment, "%s", seg);
        c->r->err.segment = c->r->err_segment;
        c->r->err.seg_seq = 1;
        c->r->err.field = field;
    }
    c->r->err.code = code;
    return rc;
}
