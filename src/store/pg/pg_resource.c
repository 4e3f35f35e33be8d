/*
 * pg_resource.c - resources and their history for PostgreSQL.
 *
 * The same model as SQLite (sqlite_resource.c): every version is a row of
 * resource, the current one has next_seq NULL, content equality is the
 * BLAKE2b digest.  A put is one round trip: the server-side function
 * weft_resource_put (migration put-1, pg_migrate.c) looks up the current
 * version through the covering index resource_current, writes nothing when
 * the digest is the same, else marks the current version replaced - taking
 * the new seq - before inserting the new one (so the unique index on the
 * current version never sees two), adds the search terms as one multi-row
 * insert (unnest of two arrays) and moves a re-linked Patient's items.
 *
 * Writes take the writer lock (pg_int.h): in the caller's transaction it is
 * held since store_begin; alone, a put runs in a transaction of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/paging.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

#define HASH_LEN STORE_HASH_LEN

void pg_row_fill(const PGresult *r, int i, struct store_row *out)
{
    memset(out, 0, sizeof *out);
    out->seq = pg_int(r, i, 0);
    out->id = pg_strdup(r, i, 1);
    out->type = pg_strdup(r, i, 2);
    out->version = (int)pg_int(r, i, 3);
    out->deleted = pg_bool(r, i, 4);
    out->person_id = pg_strdup(r, i, 5);
    out->category = pg_strdup(r, i, 6);
    out->source_org = pg_strdup(r, i, 7);
    out->source_id = pg_strdup(r, i, 8);
    out->feed = pg_strdup(r, i, 9);
    out->effective = pg_strdup(r, i, 10);
    out->code = pg_strdup(r, i, 11);
    out->status = pg_strdup(r, i, 12);
    out->last_updated = pg_strdup(r, i, 13);
    bool null = PQgetisnull(r, i, 14);
    const char *j = null ? "{}" : PQgetvalue(r, i, 14);
    size_t jl = null ? 2 : (size_t)PQgetlength(r, i, 14);
    out->json = store_json_with_meta(j, jl, out->version, out->last_updated, &out->json_len);
}

struct current {
    int64_t seq;
    int version;
    bool deleted;
    unsigned char hash[HASH_LEN];
    char type[64];
    char person[STORE_ID_LEN + 1]; /* "" when none */
};

/* The current version of id: 0, WEFT_ENOTFOUND or an error. */
static int get_current(struct pg_store *ps, const char *id, struct current *cur)
{
    struct pg_params p = {0};
    pg_p_text(&p, id);
    int rc;
    PGresult *r = pg_run(ps,
                         "SELECT seq, version, deleted, hash, type, person_id FROM resource"
                         " WHERE id = $1 AND next_seq IS NULL",
                         &p, &rc);
    if (!r)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return WEFT_ENOTFOUND;
    }
    cur->seq = pg_int(r, 0, 0);
    cur->version = (int)pg_int(r, 0, 1);
    cur->deleted = pg_bool(r, 0, 2);
    memset(cur->hash, 0, HASH_LEN);
    pg_bytes(r, 0, 3, cur->hash, HASH_LEN);
    snprintf(cur->type, sizeof cur->type, "%s", PQgetvalue(r, 0, 4));
    snprintf(cur->person, sizeof cur->person, "%s", PQgetvalue(r, 0, 5));
    PQclear(r);
    return WEFT_OK;
}

int pg_resource_digest(struct store *s, const char *type, const char *id,
                       unsigned char hash[STORE_HASH_LEN], int *version)
{
    struct current cur;
    int rc = get_current(pg_of(s), id, &cur);
    if (rc != 0)
        return rc;
    if (cur.deleted || strcmp(cur.type, type) != 0)
        return WEFT_ENOTFOUND;
    memcpy(hash, cur.hash, STORE_HASH_LEN);
    if (version)
        *version = cur.version;
    return WEFT_OK;
}

/* The current digests of n items in one statement: the ids (and types)
 * sent as two text arrays, each row answered by its position.  An item
 * whose current version is absent, deleted or of another type is
 * WEFT_ENOTFOUND, as in pg_resource_digest.  The lookup is a lateral
 * subquery with LIMIT 1 (as the batch put's, migration put-many-3), so
 * every plan is one probe of resource_current per id: as a plain join the
 * planner chose a hash join over the whole table (4-5x the server's CPU a
 * message on the MLLP benchmark, growing with the store). */
int pg_resource_digest_many(struct store *s, struct store_digest_item *items, int n)
{
    struct pg_store *ps = pg_of(s);
    struct buf ids = {0}, types = {0};
    buf_addc(&ids, '{');
    buf_addc(&types, '{');
    for (int i = 0; i < n; i++) {
        pg_array_add(&ids, items[i].id);
        pg_array_add(&types, items[i].type);
        items[i].rc = WEFT_ENOTFOUND;
        items[i].version = 0;
    }
    buf_addc(&ids, '}');
    buf_addc(&types, '}');
    struct pg_params p = {0};
    pg_p_text(&p, ids.data);
    pg_p_text(&p, types.data);
    int rc;
    PGresult *r =
        pg_run(ps,
               "SELECT q.i, c.version, c.hash FROM unnest($1::text[], $2::text[])"
               " WITH ORDINALITY AS q(id, type, i)"
               " JOIN LATERAL (SELECT r.version, r.hash, r.deleted, r.type FROM resource r"
               " WHERE r.id = q.id AND r.next_seq IS NULL LIMIT 1) c ON true"
               " WHERE NOT c.deleted AND c.type = q.type",
               &p, &rc);
    buf_release(&ids);
    buf_release(&types);
    if (!r)
        return rc;
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t i = pg_int(r, row, 0) - 1;
        if (i < 0 || i >= n)
            continue;
        items[i].rc = WEFT_OK;
        items[i].version = (int)pg_int(r, row, 1);
        memset(items[i].hash, 0, STORE_HASH_LEN);
        pg_bytes(r, row, 2, items[i].hash, STORE_HASH_LEN);
    }
    PQclear(r);
    return WEFT_OK;
}

/* Mark version old_seq replaced by a new seq, returned in *new_seq. */
static int mark_replaced(struct pg_store *ps, int64_t old_seq, int64_t *new_seq)
{
    struct pg_params p = {0};
    pg_p_int(&p, old_seq);
    int rc;
    PGresult *r = pg_run(ps,
                         "UPDATE resource SET next_seq = nextval('resource_seq') WHERE seq = $1"
                         " AND next_seq IS NULL RETURNING next_seq",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) == 1
             ? WEFT_OK
             : store_fail(&ps->base, WEFT_ECONFLICT, "resource version %lld was replaced meanwhile",
                          (long long)old_seq);
    if (rc == WEFT_ECONFLICT)
        ps->base.raced = true; /* another writer's version (store_raced) */
    if (rc == 0)
        *new_seq = pg_int(r, 0, 0);
    PQclear(r);
    return rc;
}

/* Append s to an array literal being built, as one quoted element. */
static void array_elem(struct buf *b, const char *s, bool lower)
{
    buf_addc(b, '"');
    for (const char *c = s; *c; c++) {
        char ch = *c;
        if (lower && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch == '"' || ch == '\\')
            buf_addc(b, '\\');
        buf_addc(b, ch);
    }
    buf_addc(b, '"');
}

/* The search terms as two text-array literals (params, values lower-cased
 * as SQLite's are, ASCII) into params and values; false when there are
 * none. */
static bool term_arrays(const struct store_put *in, struct buf *params, struct buf *values)
{
    int k = 0;
    /* the search-index rows follow the terms, their key (store/paging.h
     * store_ix_param_id) in decimal after a '#' (search-index-2 files them
     * under search_index) */
    for (int i = 0; i < in->nterms + in->nindex; i++) {
        bool ix = i >= in->nterms;
        const char *const *pairs = ix ? in->index : in->terms;
        int j = ix ? i - in->nterms : i;
        const char *param = pairs[2 * j], *value = pairs[2 * j + 1];
        if (!param || !value)
            continue;
        buf_addc(params, k ? ',' : '{');
        buf_addc(values, k ? ',' : '{');
        if (ix) {
            struct buf pb = BUF_INIT;
            buf_addf(&pb, "#%d", (int)store_ix_param_id(in->type, param));
            array_elem(params, pb.data, false);
            buf_release(&pb);
        } else {
            array_elem(params, param, false);
        }
        array_elem(values, value, true);
        k++;
    }
    if (k > 0) {
        buf_addc(params, '}');
        buf_addc(values, '}');
    }
    return k > 0;
}

/* The put itself, in one round trip: weft_resource_put() (migration put-1)
 * under the writer lock the caller holds. */
static int put_call(struct pg_store *ps, const char *id, const struct store_put *in,
                    const unsigned char hash[HASH_LEN], size_t jl, enum store_put_outcome *outcome,
                    int *version_out)
{
    char now[32];
    pg_write_time(ps, now);
    struct buf params = BUF_INIT, values = BUF_INIT;
    bool terms = term_arrays(in, &params, &values);
    struct pg_params p = {0};
    const char *v[] = {id,
                       in->type,
                       in->person_id,
                       in->category,
                       in->source_org,
                       in->source_id,
                       in->feed,
                       in->effective,
                       in->code,
                       in->status,
                       now};
    for (int i = 0; i < 11; i++)
        pg_p_text(&p, v[i]);
    pg_p_bytes(&p, hash, HASH_LEN);
    /* the JSON as a length-counted binary text parameter: no copy */
    pg_p_bytes(&p, in->json, (int)jl);
    pg_p_text(&p, terms ? params.data : NULL);
    pg_p_text(&p, terms ? values.data : NULL);
    int rc;
    PGresult *r = pg_run(ps,
                         "SELECT outcome, version, cur_type FROM weft_resource_put($1, $2, $3, $4,"
                         " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::text[], $15::text[])",
                         &p, &rc);
    buf_release(&params);
    buf_release(&values);
    if (!r)
        return rc;
    int oc = (int)pg_int(r, 0, 0);
    if (oc < 0) {
        rc = store_fail(&ps->base, WEFT_ECONFLICT, "resource id %s already holds a %s", id,
                        PQgetvalue(r, 0, 2));
    } else {
        if (outcome)
            *outcome = (enum store_put_outcome)oc;
        if (version_out)
            *version_out = (int)pg_int(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

int pg_resource_put(struct store *s, const struct store_put *in, enum store_put_outcome *outcome,
                    char id_out[STORE_ID_LEN + 1], int *version_out)
{
    struct pg_store *ps = pg_of(s);
    char id[STORE_ID_LEN + 1];
    if (in->id)
        memcpy(id, in->id, sizeof id);
    else
        store_resource_id(in->source_org, in->type, in->source_id, id);
    if (id_out)
        memcpy(id_out, id, sizeof id);
    size_t jl = in->json_len ? in->json_len : strlen(in->json);
    unsigned char hash[HASH_LEN];
    if (in->hash)
        memcpy(hash, in->hash, HASH_LEN);
    else
        store_content_hash(in->json, jl, hash);
    if (s->txn_depth > 0) /* the writer lock is held since store_begin */
        return put_call(ps, id, in, hash, jl, outcome, version_out);
    /* Alone: unchanged content is answered without a transaction; anything
     * else takes the writer lock in a transaction of its own (the function
     * looks again under it). */
    struct current cur;
    int rc = get_current(ps, id, &cur);
    if (rc != 0 && rc != WEFT_ENOTFOUND)
        return rc;
    if (rc == 0 && !cur.deleted && memcmp(cur.hash, hash, HASH_LEN) == 0) {
        if (outcome)
            *outcome = STORE_PUT_UNCHANGED;
        if (version_out)
            *version_out = cur.version;
        return WEFT_OK;
    }
    bool own;
    if ((rc = pg_auto_begin(ps, &own)) != 0)
        return rc;
    return pg_auto_end(ps, own, put_call(ps, id, in, hash, jl, outcome, version_out));
}

/* ---- batch put ------------------------------------------------------------------------- */

/* PostgreSQL's binary array format (array_recv), one dimension: the header,
 * then each element as a length (-1: NULL) and its bytes.  Built straight
 * from the callers' strings, so the JSON is neither escaped nor parsed as an
 * array literal. */
#define OID_BYTEA 17
#define OID_INT4 23
#define OID_TEXT 25

static void be32(struct buf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    buf_add(b, c, 4);
}

static void arr_begin(struct buf *b, uint32_t oid, int n)
{
    be32(b, 1);   /* dimensions */
    be32(b, 1);   /* may hold NULLs (a hint only) */
    be32(b, oid); /* element type */
    be32(b, (uint32_t)n);
    be32(b, 1); /* lower bound */
}

static void arr_elem(struct buf *b, const void *data, size_t len)
{
    if (!data) {
        be32(b, UINT32_MAX); /* -1: NULL */
        return;
    }
    be32(b, (uint32_t)len);
    buf_add(b, data, len);
}

static void arr_str(struct buf *b, const char *s)
{
    arr_elem(b, s, s ? strlen(s) : 0);
}

/* A batch (or part of one) is at most this many items or about this many
 * bytes of JSON in one call. */
#define BATCH_MAX 1000
#define BATCH_BYTES (16u << 20)

enum {
    A_ID,
    A_TYPE,
    A_PERSON,
    A_CATEGORY,
    A_ORG,
    A_SOURCE,
    A_FEED,
    A_EFF,
    A_CODE,
    A_STATUS,
    A_HASH,
    A_JSON,
    A_TROW,
    A_TPARAM,
    A_TVALUE,
    A_N
};

/* Items in[0..n) in one call of weft_resource_put_many (put-many-1) under
 * the writer lock the caller holds. */
static int put_many_call(struct pg_store *ps, const struct store_put *in, int n,
                         struct store_put_result *out)
{
    struct buf a[A_N];
    for (int i = 0; i < A_N; i++)
        buf_init(&a[i]);
    int nterms = 0;
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < in[i].nterms; t++)
            nterms += in[i].terms[2 * t] && in[i].terms[2 * t + 1];
        for (int t = 0; t < in[i].nindex; t++)
            nterms += in[i].index[2 * t] && in[i].index[2 * t + 1];
    }
    static const uint32_t oids[A_N] = {
        [A_ID] = OID_TEXT,   [A_TYPE] = OID_TEXT,   [A_PERSON] = OID_TEXT, [A_CATEGORY] = OID_TEXT,
        [A_ORG] = OID_TEXT,  [A_SOURCE] = OID_TEXT, [A_FEED] = OID_TEXT,   [A_EFF] = OID_TEXT,
        [A_CODE] = OID_TEXT, [A_STATUS] = OID_TEXT, [A_HASH] = OID_BYTEA,  [A_JSON] = OID_TEXT,
        [A_TROW] = OID_INT4, [A_TPARAM] = OID_TEXT, [A_TVALUE] = OID_TEXT,
    };
    for (int i = 0; i < A_N; i++)
        arr_begin(&a[i], oids[i], i >= A_TROW ? nterms : n);
    struct buf low = BUF_INIT;
    for (int i = 0; i < n; i++) {
        const struct store_put *p = &in[i];
        struct store_put_result *o = &out[i];
        memset(o, 0, sizeof *o);
        if (p->id)
            memcpy(o->id, p->id, sizeof o->id);
        else
            store_resource_id(p->source_org, p->type, p->source_id, o->id);
        size_t jl = p->json_len ? p->json_len : strlen(p->json);
        unsigned char hash[HASH_LEN];
        if (p->hash)
            memcpy(hash, p->hash, HASH_LEN);
        else
            store_content_hash(p->json, jl, hash);
        arr_str(&a[A_ID], o->id);
        arr_str(&a[A_TYPE], p->type);
        arr_str(&a[A_PERSON], p->person_id);
        arr_str(&a[A_CATEGORY], p->category);
        arr_str(&a[A_ORG], p->source_org);
        arr_str(&a[A_SOURCE], p->source_id);
        arr_str(&a[A_FEED], p->feed);
        arr_str(&a[A_EFF], p->effective);
        arr_str(&a[A_CODE], p->code);
        arr_str(&a[A_STATUS], p->status);
        arr_elem(&a[A_HASH], hash, HASH_LEN);
        arr_elem(&a[A_JSON], p->json, jl);
        /* the terms, then the search-index rows: '#' and their key in
         * decimal (search-index-2 files them under search_index) */
        for (int t = 0; t < p->nterms + p->nindex; t++) {
            bool ix = t >= p->nterms;
            const char *const *pairs = ix ? p->index : p->terms;
            int j = ix ? t - p->nterms : t;
            const char *param = pairs[2 * j], *value = pairs[2 * j + 1];
            if (!param || !value)
                continue;
            be32(&a[A_TROW], 4);
            be32(&a[A_TROW], (uint32_t)(i + 1));
            if (ix) {
                buf_reset(&low);
                buf_addf(&low, "#%d", (int)store_ix_param_id(p->type, param));
                arr_str(&a[A_TPARAM], low.data);
            } else {
                arr_str(&a[A_TPARAM], param);
            }
            /* values lower-cased (ASCII) as SQLite's and put-1's are */
            buf_reset(&low);
            for (const char *c = value; *c; c++)
                buf_addc(&low, *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c);
            arr_elem(&a[A_TVALUE], low.data ? low.data : "", low.len);
        }
    }
    buf_release(&low);
    char now[32];
    pg_write_time(ps, now);
    struct pg_params pp = {0};
    for (int i = A_ID; i <= A_STATUS; i++)
        pg_p_bytes(&pp, a[i].data, (int)a[i].len);
    pg_p_text(&pp, now);
    for (int i = A_HASH; i < A_N; i++)
        pg_p_bytes(&pp, a[i].data, (int)a[i].len);
    int rc;
    PGresult *r =
        pg_run(ps,
               "SELECT k, outcome, version, cur_type FROM weft_resource_put_many($1::text[],"
               " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
               " $8::text[], $9::text[], $10::text[], $11, $12::bytea[], $13::text[],"
               " $14::integer[], $15::text[], $16::text[])",
               &pp, &rc);
    for (int i = 0; i < A_N; i++)
        buf_release(&a[i]);
    if (!r)
        return rc;
    if (PQntuples(r) != n) {
        rc = store_fail(&ps->base, WEFT_EDB, "batch put: %d results for %d resources", PQntuples(r),
                        n);
        PQclear(r);
        return rc;
    }
    for (int j = 0; j < n; j++) {
        int i = (int)pg_int(r, j, 0) - 1;
        if (i < 0 || i >= n)
            continue;
        struct store_put_result *o = &out[i];
        int oc = (int)pg_int(r, j, 1);
        if (oc < 0) {
            o->rc = WEFT_ECONFLICT;
            snprintf(o->error, sizeof o->error, "resource id %s already holds a %s", o->id,
                     PQgetvalue(r, j, 3));
        } else {
            o->outcome = (enum store_put_outcome)oc;
            o->version = (int)pg_int(r, j, 2);
        }
    }
    PQclear(r);
    return WEFT_OK;
}

int pg_resource_put_batch(struct store *s, const struct store_put *in, int n,
                          struct store_put_result *out)
{
    struct pg_store *ps = pg_of(s);
    bool own;
    int rc = pg_auto_begin(ps, &own);
    for (int i = 0; i < n && rc == 0;) {
        int m = 0;
        size_t bytes = 0;
        while (i + m < n && m < BATCH_MAX && (m == 0 || bytes < BATCH_BYTES)) {
            const struct store_put *p = &in[i + m];
            bytes += p->json_len ? p->json_len : strlen(p->json);
            m++;
        }
        rc = put_many_call(ps, in + i, m, out + i);
        i += m;
    }
    return pg_auto_end(ps, own, rc);
}

#define ROW_COLS                                                                                   \
    "seq, id, type, version, deleted, person_id, category, source_org, source_id, feed,"           \
    " effective, code, status, last_updated, json"

int pg_resource_get(struct store *s, const char *type, const char *id, int version,
                    struct store_row *out)
{
    memset(out, 0, sizeof *out);
    struct pg_params p = {0};
    pg_p_text(&p, id);
    pg_p_text(&p, type);
    int rc;
    PGresult *r;
    if (version > 0) {
        pg_p_int(&p, version);
        r = pg_run(pg_of(s),
                   "SELECT " ROW_COLS " FROM resource WHERE id = $1 AND type = $2"
                   " AND version = $3",
                   &p, &rc);
    } else {
        r = pg_run(pg_of(s),
                   "SELECT " ROW_COLS " FROM resource WHERE id = $1 AND type = $2"
                   " AND next_seq IS NULL",
                   &p, &rc);
    }
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        pg_row_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_resource_person(struct store *s, const char *type, const char *id, char **person_id_out)
{
    if (person_id_out)
        *person_id_out = NULL;
    struct pg_params p = {0};
    pg_p_text(&p, id);
    pg_p_text(&p, type);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT person_id, deleted FROM resource WHERE id = $1 AND type = $2"
                         " AND next_seq IS NULL",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) && !pg_bool(r, 0, 1) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0 && person_id_out)
        *person_id_out = pg_strdup(r, 0, 0);
    PQclear(r);
    return rc;
}

/* Kept persons: a patient's search (store_query.patient_check) checks the
 * kept person in the same statement, so a Patient's person costs no round
 * trip of its own while it stays the same; a failed check forgets it
 * (pg_search.c) and the caller asks again.  Direct-mapped by a hash of the
 * id: a newer Patient takes the slot of an older one. */
static struct pg_patient_slot *patient_slot(struct pg_store *ps, const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)id; *c; c++)
        h = (h ^ *c) * 16777619u;
    return &ps->patients[h % PG_PATIENT_CACHE];
}

void pg_patient_forget(struct pg_store *ps, const char *id)
{
    for (int i = 0; i < PG_PATIENT_CACHE; i++) {
        struct pg_patient_slot *e = id ? patient_slot(ps, id) : &ps->patients[i];
        if (!id || strcmp(e->id, id) == 0) {
            free(e->person);
            memset(e, 0, sizeof *e);
        }
        if (id)
            break;
    }
}

int pg_patient_person_kept(struct store *s, const char *id, char **person_id_out, bool *kept)
{
    struct pg_store *ps = pg_of(s);
    *kept = false;
    *person_id_out = NULL;
    struct pg_patient_slot *e = patient_slot(ps, id);
    if (e->id[0] && strcmp(e->id, id) == 0) {
        *person_id_out = xstrdup(e->person);
        *kept = true;
        return WEFT_OK;
    }
    int rc = pg_resource_person(s, "Patient", id, person_id_out);
    if (rc == 0 && *person_id_out && strlen(id) < sizeof e->id) {
        free(e->person);
        snprintf(e->id, sizeof e->id, "%s", id);
        e->person = xstrdup(*person_id_out);
    }
    return rc;
}

int pg_resource_delete(struct store *s, const char *type, const char *id)
{
    struct pg_store *ps = pg_of(s);
    bool own;
    int rc = pg_auto_begin(ps, &own);
    if (rc != 0)
        return rc;
    struct current cur;
    rc = get_current(ps, id, &cur);
    if (rc == 0 && strcmp(cur.type, type) != 0)
        rc = WEFT_ENOTFOUND;
    if (rc != 0 || cur.deleted)
        return pg_auto_end(ps, own, rc);
    char now[32];
    pg_write_time(ps, now);
    int64_t seq = 0;
    rc = mark_replaced(ps, cur.seq, &seq);
    if (rc == 0) {
        /* The deleted version repeats the last content and index columns. */
        struct pg_params p = {0};
        pg_p_int(&p, seq);
        pg_p_text(&p, now);
        pg_p_int(&p, cur.seq);
        rc = pg_cmd(ps,
                    "INSERT INTO resource (seq, id, type, version, deleted, person_id, category,"
                    " source_org, source_id, feed, effective, code, status, last_updated, hash,"
                    " json) SELECT $1, id, type, version + 1, true, person_id, category,"
                    " source_org, source_id, feed, effective, code, status, $2, hash, json"
                    " FROM resource WHERE seq = $3",
                    &p, NULL);
    }
    return pg_auto_end(ps, own, rc);
}

static int rows_into(const PGresult *r, struct store_result *out)
{
    int n = PQntuples(r);
    if (n > 0)
        out->rows = xcalloc((size_t)n, sizeof *out->rows);
    for (int i = 0; i < n; i++)
        pg_row_fill(r, i, &out->rows[out->nrows++]);
    return WEFT_OK;
}

int pg_history(struct store *s, const char *type, const char *id, int limit,
               struct store_result *out)
{
    memset(out, 0, sizeof *out);
    out->total = -1;
    if (limit <= 0)
        limit = 100;
    struct pg_params p = {0};
    int rc;
    PGresult *r;
    if (id) {
        pg_p_text(&p, id);
        pg_p_text(&p, type);
        pg_p_int(&p, limit);
        r = pg_run(pg_of(s),
                   "SELECT " ROW_COLS " FROM resource WHERE id = $1 AND type = $2"
                   " ORDER BY version DESC LIMIT $3",
                   &p, &rc);
    } else if (type) {
        /* live versions and deletion markers each from their partial index,
         * newest first, then merged */
        pg_p_text(&p, type);
        pg_p_int(&p, limit);
        r = pg_run(pg_of(s),
                   "SELECT * FROM ((SELECT " ROW_COLS
                   " FROM resource WHERE type = $1 AND NOT deleted"
                   " ORDER BY seq DESC LIMIT $2) UNION ALL (SELECT " ROW_COLS
                   " FROM resource WHERE type = $1 AND deleted ORDER BY seq DESC LIMIT $2)) h"
                   " ORDER BY seq DESC LIMIT $2",
                   &p, &rc);
    } else {
        pg_p_int(&p, limit);
        r = pg_run(pg_of(s), "SELECT " ROW_COLS " FROM resource ORDER BY seq DESC LIMIT $1", &p,
                   &rc);
    }
    if (!r)
        return rc;
    rows_into(r, out);
    PQclear(r);
    if (id && out->nrows == 0)
        return WEFT_ENOTFOUND;
    return WEFT_OK;
}
