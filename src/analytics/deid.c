/*
 * deid.c - de-identification and per-export pseudonyms (deid.h).
 *
 * One recursive walk over the parsed resource: keys to drop are dropped
 * wherever they appear (an identifier inside a contained resource or a
 * logical reference is as identifying as one at the top), and the person
 * rules apply to any object whose resourceType is a person's.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "analytics/deid.h"
#include "core/err.h"

void deid_key_init(struct deid_key *key)
{
    randombytes_buf(key->k, sizeof key->k);
}

void deid_key_clear(struct deid_key *key)
{
    sodium_memzero(key->k, sizeof key->k);
}

void deid_pseudonym(const struct deid_key *key, const char *id, char out[DEID_PSEUDONYM_LEN + 1])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key->k, sizeof key->k);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, DEID_PSEUDONYM_LEN + 1, mac, DEID_PSEUDONYM_LEN / 2);
}

/* Keys removed wherever they appear. */
static const char *const drop_everywhere[] = {"identifier", "telecom", "address", "photo", "note"};
/* Keys removed from a person's resource. */
static const char *const drop_person[] = {"name", "contact", "link", "communication"};

static bool is_person_type(const char *t)
{
    return t && (strcmp(t, "Patient") == 0 || strcmp(t, "RelatedPerson") == 0 ||
                 strcmp(t, "Person") == 0);
}

/* Cut a date or dateTime value to its year. */
static void to_year(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    if (!s)
        return;
    if (strlen(s) >= 4) {
        char y[5];
        memcpy(y, s, 4);
        y[4] = 0;
        json_object_set_new(obj, key, json_string(y));
    } else {
        json_object_del(obj, key);
    }
}

/* "Patient/ID", "Patient/ID/_history/N" or "http://host/fhir/Patient/ID":
 * the ID (into id, NUL-terminated), or false. */
static bool patient_ref_id(const char *ref, char *id, size_t cap)
{
    const char *p = NULL;
    if (strncmp(ref, "Patient/", 8) == 0)
        p = ref + 8;
    else if (strstr(ref, "://") && (p = strstr(ref, "/Patient/")) != NULL)
        p += 9;
    if (!p || !*p)
        return false;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= cap)
        return false;
    memcpy(id, p, n);
    id[n] = 0;
    return true;
}

static void walk(const struct deid_key *key, json_t *v);

static void walk_object(const struct deid_key *key, json_t *o)
{
    for (size_t i = 0; i < sizeof drop_everywhere / sizeof drop_everywhere[0]; i++)
        json_object_del(o, drop_everywhere[i]);
    json_t *text = json_object_get(o, "text");
    if (json_is_object(text) && json_object_get(text, "div"))
        json_object_del(o, "text"); /* a Narrative: free text about the person */
    const char *rt = json_string_value(json_object_get(o, "resourceType"));
    if (is_person_type(rt)) {
        for (size_t i = 0; i < sizeof drop_person / sizeof drop_person[0]; i++)
            json_object_del(o, drop_person[i]);
        to_year(o, "birthDate");
        to_year(o, "deceasedDateTime");
        if (strcmp(rt, "Patient") == 0) {
            const char *id = json_string_value(json_object_get(o, "id"));
            if (id) {
                char ps[DEID_PSEUDONYM_LEN + 1];
                deid_pseudonym(key, id, ps);
                json_object_set_new(o, "id", json_string(ps));
            }
        }
    }
    json_t *ref = json_object_get(o, "reference");
    if (json_is_string(ref)) {
        json_object_del(o, "display"); /* a Reference's display may name the person */
        char id[256];
        if (patient_ref_id(json_string_value(ref), id, sizeof id)) {
            char ps[DEID_PSEUDONYM_LEN + 1], out[8 + DEID_PSEUDONYM_LEN + 1];
            deid_pseudonym(key, id, ps);
            memcpy(out, "Patient/", 8);
            memcpy(out + 8, ps, DEID_PSEUDONYM_LEN + 1);
            json_object_set_new(o, "reference", json_string(out));
        }
    }
    const char *k;
    json_t *child;
    json_object_foreach(o, k, child) walk(key, child);
}

static void walk(const struct deid_key *key, json_t *v)
{
    if (json_is_object(v)) {
        walk_object(key, v);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) walk(key, e);
    }
}

int deid_resource(const struct deid_key *key, json_t *resource)
{
    if (!json_is_object(resource))
        return WEFT_EINVAL;
    walk(key, resource);
    return WEFT_OK;
}

static int dump_cb(const char *data, size_t size, void *ctx)
{
    buf_add(ctx, data, size);
    return 0;
}

int deid_json(const struct deid_key *key, const char *json, size_t len, struct buf *out)
{
    json_t *r = json_loadb(json, len, 0, NULL);
    if (!json_is_object(r)) {
        json_decref(r);
        return WEFT_EPARSE;
    }
    deid_resource(key, r);
    json_dump_callback(r, dump_cb, out, JSON_COMPACT);
    json_decref(r);
    return WEFT_OK;
}
