/*
 * deid.h - de-identification of FHIR resources for secondary uses (the
 * exports of a `secondary` client: analytics/bulk.h).
 *
 * Direct identifiers are removed; the links between a person's resources
 * are kept through a pseudonym: HMAC-SHA256 under a key drawn at random for
 * one export and never stored, so the same Patient has the same pseudonym
 * throughout one export and an unrelated one in the next, and nobody
 * (Weft included) can turn a pseudonym back into an id once the export's
 * key is gone.
 *
 * What is done to every resource, at any depth (contained resources too):
 *   - removed: identifier (NHS numbers, hospital numbers, any other),
 *     telecom, address, photo, note (free text may name people), the
 *     narrative (text.div), and the display of every Reference;
 *   - Patient, RelatedPerson, Person: name, contact, link and
 *     communication removed; birthDate and deceasedDateTime cut to the year;
 *     a Patient's id replaced by its pseudonym;
 *   - every reference to a Patient ("Patient/ID", absolute URLs too)
 *     rewritten to "Patient/" + the pseudonym of ID.
 * Coded clinical content, dates of care and values are kept.
 */
#ifndef WEFT_ANALYTICS_DEID_H
#define WEFT_ANALYTICS_DEID_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"

#define DEID_KEY_LEN 32
#define DEID_PSEUDONYM_LEN 32 /* hex digits: the first 128 bits of the HMAC */

struct deid_key {
    unsigned char k[DEID_KEY_LEN];
};

/* A fresh random key (libsodium's CSPRNG). */
void deid_key_init(struct deid_key *key);
/* Wipe the key (at the end of the export: it is never stored). */
void deid_key_clear(struct deid_key *key);

/* The pseudonym of a Patient id under key: DEID_PSEUDONYM_LEN lower-case hex
 * digits and a NUL into out. */
void deid_pseudonym(const struct deid_key *key, const char *id, char out[DEID_PSEUDONYM_LEN + 1]);

/* De-identify resource in place (see above).  0, or WEFT_EINVAL when it is
 * not a JSON object. */
int deid_resource(const struct deid_key *key, json_t *resource);

/*
 * De-identify json (len bytes) and append it, compact, to out: byte for byte
 * what deid_json_tree appends.  0, or WEFT_EPARSE (nothing appended) when it
 * is not a JSON object.
 *
 * How: one pass over the text (struct deid_text below), copying keys and
 * values as they stand and rewriting only what the rules touch; text that
 * pass cannot vouch for (a \u or \/ escape, a duplicate key, a number
 * jansson would write differently is the one it reformats itself, invalid
 * JSON) goes to deid_json_tree, so the result never depends on the path.
 */
int deid_json(const struct deid_key *key, const char *json, size_t len, struct buf *out);

/* The reference: parse into a jansson tree, deid_resource, dump compact. */
int deid_json_tree(const struct deid_key *key, const char *json, size_t len, struct buf *out);

/* The single-pass rewriter's state, reused across the resources of one
 * export (its buffers keep their memory; the last pseudonym is cached). */
struct deid_member;
struct deid_text {
    const struct deid_key *key;
    struct buf tmp; /* an object being rebuilt */
    struct buf str; /* a NUL-terminated copy of a string value */
    struct deid_member *m;
    size_t nm, mcap;
    char last_id[256];
    char last_ps[DEID_PSEUDONYM_LEN + 1];
    const char *end; /* of the input */
    struct buf *out;
    int64_t fast, slow; /* resources done in one pass / handed to the tree */
};

void deid_text_init(struct deid_text *t, const struct deid_key *key);
void deid_text_free(struct deid_text *t);
/* deid_json with t's buffers. */
int deid_text(struct deid_text *t, const char *json, size_t len, struct buf *out);
/* The single pass alone: 0 (appended), or WEFT_EUNSUPPORTED (nothing
 * appended) when the text is outside what it vouches for (see deid_json). */
int deid_text_fast(struct deid_text *t, const char *json, size_t len, struct buf *out);

#endif
