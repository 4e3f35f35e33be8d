/*
 * identity.c - the identity API (identity.h): linking source Patients,
 * finding persons by NHS number or local identifier, the persons of HL7
 * merge and unlink messages.  Matching on demographics and the manual
 * decisions are mpi.c; this file decides which of them a caller needs and
 * is the only caller, outside src/identity, of the store's person-creating
 * operations (store_person_by_nhs, store_person_by_local).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "identity/block.h"
#include "identity/demog.h"
#include "identity/identity.h"
#include "identity/mpi.h"
#include "identity/nhs.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

/* The organisation a local identifier belongs to: the ODS code inside a
 * Weft local system urn:weft:id:{ODS}:{kind}, else the sender.  Copies into
 * out (64 bytes). */
static void identifier_org(const char *system, const char *sender, char out[64])
{
    static const char pfx[] = "urn:weft:id:";
    if (strncmp(system, pfx, sizeof pfx - 1) == 0) {
        const char *o = system + sizeof pfx - 1;
        const char *colon = strchr(o, ':');
        if (colon && colon > o && colon - o < 64) {
            memcpy(out, o, (size_t)(colon - o));
            out[colon - o] = 0;
            return;
        }
    }
    snprintf(out, 64, "%s", sender);
}

/* Whether an identifier of system sys may link persons by step 2/3: not an
 * NHS number (step 1), and not a number sent as an NHS number that failed
 * the check, which the HL7 v2 mapper keeps as urn:weft:id:{ODS}:nh-unverified
 * (docs/feeds/hl7v2.md: kept, but never links persons). */
static bool local_links(const char *sys)
{
    static const char unverified[] = ":nh-unverified";
    size_t n = strlen(sys), u = sizeof unverified - 1;
    return strcmp(sys, NHS_NUMBER_SYSTEM) != 0 && !(n > u && strcmp(sys + n - u, unverified) == 0 &&
                                                    strncmp(sys, "urn:weft:id:", 12) == 0);
}

static void flag_invalid(json_t *patient, json_t *ident)
{
    json_t *meta = json_object_get(patient, "meta");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(patient, "meta", meta);
    }
    json_t *tags = json_object_get(meta, "tag");
    if (!json_is_array(tags)) {
        tags = json_array();
        json_object_set_new(meta, "tag", tags);
    }
    bool have = false;
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *c = json_string_value(json_object_get(t, "code"));
        const char *sy = json_string_value(json_object_get(t, "system"));
        if (c && sy && strcmp(c, LINK_TAG_INVALID_NHS) == 0 && strcmp(sy, LINK_TAG_SYSTEM) == 0)
            have = true;
    }
    if (!have)
        json_array_append_new(tags, json_pack("{s:s,s:s,s:s}", "system", LINK_TAG_SYSTEM, "code",
                                              LINK_TAG_INVALID_NHS, "display",
                                              "NHS number fails the modulus 11 check; not used"
                                              " for linking"));
    json_t *ext = json_object_get(ident, "extension");
    if (!json_is_array(ext)) {
        ext = json_array();
        json_object_set_new(ident, "extension", ext);
    }
    json_array_foreach(ext, i, t)
    {
        const char *u = json_string_value(json_object_get(t, "url"));
        if (u && strcmp(u, LINK_TAG_SYSTEM) == 0)
            return;
    }
    json_array_append_new(
        ext, json_pack("{s:s,s:s}", "url", LINK_TAG_SYSTEM, "valueCode", LINK_TAG_INVALID_NHS));
}

void identity_mark_invalid(json_t *patient)
{
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(patient, "identifier"), i, id)
    {
        const char *sys = json_string_value(json_object_get(id, "system"));
        const char *val = json_string_value(json_object_get(id, "value"));
        char d[11];
        if (sys && strcmp(sys, NHS_NUMBER_SYSTEM) == 0 && !(val && nhs_number_valid(val, d)))
            flag_invalid(patient, id);
    }
}

/* Attach (org, system, value) to out->person_id, or take its person when
 * none is chosen yet (creating one when the identifier is new). */
static int attach(struct store *s, const char *org, const char *system, const char *value,
                  struct identity_outcome *out)
{
    char *pid = NULL;
    int rc = store_person_by_local(s, org, system, value, out->person_id, &pid);
    if (rc != 0)
        return rc;
    if (!out->person_id) {
        out->person_id = pid;
        return WEFT_OK;
    }
    if (strcmp(pid, out->person_id) != 0)
        out->conflicts++;
    free(pid);
    return WEFT_OK;
}

/* Whether identifier id of a Patient from org links records (local_links):
 * then its system, value and issuing organisation (identifier_org) in
 * *sys, *val and iorg. */
static bool local_identifier(json_t *id, const char *org, const char **sys, const char **val,
                             char iorg[64])
{
    *sys = json_string_value(json_object_get(id, "system"));
    *val = json_string_value(json_object_get(id, "value"));
    if (!*sys || !*val || !**val || !local_links(*sys))
        return false;
    identifier_org(*sys, org, iorg);
    return true;
}

/*
 * identity_resolve_patient for a Patient whose first valid NHS number is
 * nhs: the same steps as below, with the store's reads and writes up to
 * the matching in one store_person_nhs_link call (one round trip on
 * PostgreSQL instead of about five).  The identifiers are attached before
 * the record is scored, not after: scoring reads the candidates' persons
 * (by their own source ids) and "not the same" decisions, which attaching
 * this record's identifiers to the NHS number's person does not change,
 * and with an NHS number the person is that number's whatever the match
 * decides.
 */
static int resolve_with_nhs(struct store *s, const char *org, const char *source_id,
                            json_t *patient, const char nhs[11], struct identity_outcome *out)
{
    json_t *idents = json_object_get(patient, "identifier");
    size_t n = json_array_size(idents) + 1, na = 0, i;
    json_t *id;
    const char **aorg = xcalloc(n, sizeof *aorg), **asys = xcalloc(n, sizeof *asys),
               **aval = xcalloc(n, sizeof *aval);
    char(*iorgs)[64] = xcalloc(n, sizeof *iorgs);
    struct buf locals = BUF_INIT;
    aorg[0] = org;
    asys[0] = LINK_SOURCE_ID_SYSTEM;
    aval[0] = source_id;
    na = 1;
    json_array_foreach(idents, i, id)
    {
        const char *sys, *val;
        if (!local_identifier(id, org, &sys, &val, iorgs[na]))
            continue;
        aorg[na] = iorgs[na];
        asys[na] = sys;
        aval[na++] = val;
        buf_addf(&locals, "%s\t%s\t%s\n", iorgs[na - 1], sys, val);
    }
    struct demog d;
    demog_from_patient(patient, &d);
    char keys[BLOCK_NKEYS][BLOCK_KEYLEN];
    block_keys(&d, keys);
    const char *kp[4] = {keys[0], keys[1], keys[2], keys[3]};
    struct store_person_nhs_link l = {
        .org = org,
        .link_system = LINK_SOURCE_ID_SYSTEM,
        .source_id = source_id,
        .nhs = nhs,
        .keys = kp,
        .cap = BLOCK_FEED_CAP,
        .nattach = (int)na,
        .attach_org = aorg,
        .attach_system = asys,
        .attach_value = aval,
    };
    struct mpi_match mm = {0};
    int rc = store_person_nhs_link(s, &l);
    if (rc != 0)
        goto out;
    out->person_id = l.person_id;
    l.person_id = NULL;
    memcpy(out->nhs, nhs, 11);
    for (size_t k = 0; k < na; k++)
        if (strcmp(l.attached[k], out->person_id) != 0)
            out->conflicts++;
    bool is_new = !l.source_known;
    if (is_new) {
        rc = mpi_match_candidates(s, org, source_id, &d, out->person_id, l.cands, l.ncands, &mm);
        l.cands = NULL; /* taken */
        l.ncands = 0;
        if (rc != 0)
            goto out;
        if ((rc = mpi_match_apply(s, org, source_id, out->person_id, &mm)) != 0)
            goto out;
    }
    out->merged = mm.nmerge;
    rc = mpi_record_put(s, org, source_id, &d, (const char(*)[BLOCK_KEYLEN])keys,
                        locals.len ? locals.data : NULL);
out:
    store_person_nhs_link_clear(&l);
    mpi_match_free(&mm);
    buf_release(&locals);
    free(aorg);
    free(asys);
    free(aval);
    free(iorgs);
    if (rc != 0) {
        free(out->person_id);
        out->person_id = NULL;
    }
    return rc;
}

/* Lock the blocking keys of a new record about to be matched on
 * demographics (store_lock_keys), in the open transaction.  Two records
 * that could match share a blocking key (block.h), so on PostgreSQL, whose
 * writers overlap, two writers matching records of one person at the same
 * moment take turns: the second matches with the first's record and person
 * committed and links to them, as one after the other would - without it
 * each made a person of its own (test_link.c test_demographic_match_at_once).
 * Identifiers need nothing here: a person's NHS number and local
 * identifiers are unique in the store.  A lock taken after a batch's other
 * locks may deadlock with another writer's; the database then fails one of
 * them, which redoes its batch (store_raced). */
static int lock_block_keys(struct store *s, const char (*keys)[BLOCK_KEYLEN])
{
    if (store_txn_serial(s) == 0)
        return WEFT_OK; /* each statement its own transaction: nothing to hold */
    uint32_t h[BLOCK_NKEYS];
    int n = 0;
    for (int i = 0; i < BLOCK_NKEYS; i++) {
        if (!keys[i][0])
            continue;
        uint32_t x = 2166136261u; /* FNV-1a of "mpi-block" US key */
        for (const char *c = "mpi-block\x1f"; *c; c++)
            x = (x ^ (unsigned char)*c) * 16777619u;
        for (const char *c = keys[i]; *c; c++)
            x = (x ^ (unsigned char)*c) * 16777619u;
        int k = n++;
        while (k > 0 && h[k - 1] > x) { /* ascending, no repeats (store.h) */
            h[k] = h[k - 1];
            k--;
        }
        h[k] = x;
        if (k > 0 && h[k - 1] == x) {
            memmove(h + k, h + k + 1, sizeof *h * (size_t)(n - k - 1));
            n--;
        }
    }
    return store_lock_keys(s, h, n);
}

int identity_resolve_patient(struct store *s, const char *org, const char *source_id,
                             json_t *patient, struct identity_outcome *out)
{
    memset(out, 0, sizeof *out);
    json_t *idents = json_object_get(patient, "identifier");
    size_t i;
    json_t *id;
    int rc;
    /* 1. the first valid NHS number names the person; the invalid ones are
     * flagged (resolve_with_nhs does the rest of the steps below) */
    char nhs[11] = "";
    json_array_foreach(idents, i, id)
    {
        const char *sys = json_string_value(json_object_get(id, "system"));
        const char *val = json_string_value(json_object_get(id, "value"));
        if (!sys || strcmp(sys, NHS_NUMBER_SYSTEM) != 0)
            continue;
        char d[11];
        if (val && nhs_number_valid(val, d)) {
            if (!nhs[0])
                memcpy(nhs, d, sizeof d);
        } else {
            out->invalid_nhs++;
            flag_invalid(patient, id);
        }
    }
    if (nhs[0]) {
        int invalid = out->invalid_nhs;
        rc = resolve_with_nhs(s, org, source_id, patient, nhs, out);
        out->invalid_nhs = invalid;
        return rc;
    }
    struct mpi_match mm = {0};
    struct buf locals = BUF_INIT;
    /* 0. a source record seen before keeps its person; only a new one is matched */
    char *known = NULL;
    rc = store_person_find_local(s, org, LINK_SOURCE_ID_SYSTEM, source_id, &known);
    if (rc != 0 && rc != WEFT_ENOTFOUND)
        return rc;
    free(known);
    bool is_new = rc == WEFT_ENOTFOUND;
    /* 2. without one, the person already holding one of its local identifiers */
    json_array_foreach(idents, i, id)
    {
        if (out->person_id)
            break;
        const char *sys, *val;
        char iorg[64];
        if (!local_identifier(id, org, &sys, &val, iorg))
            continue;
        rc = store_person_find_local(s, iorg, sys, val, &out->person_id);
        if (rc != 0 && rc != WEFT_ENOTFOUND)
            return rc;
    }
    /* 2b. a new source record not named by any identifier it carries: the
     * master person index matches it on demographics (mpi.h) */
    struct demog d;
    demog_from_patient(patient, &d);
    char keys[BLOCK_NKEYS][BLOCK_KEYLEN]; /* once, for matching and for the record */
    block_keys(&d, keys);
    if (is_new && !out->person_id) { /* else linked by a local identifier */
        if ((rc = lock_block_keys(s, (const char(*)[BLOCK_KEYLEN])keys)) != 0)
            goto fail;
        if ((rc = mpi_match_record(s, org, source_id, &d, (const char(*)[BLOCK_KEYLEN])keys, NULL,
                                   &mm)) != 0)
            goto fail;
        if (mm.link_to) {
            out->person_id = mm.link_to;
            mm.link_to = xstrdup(out->person_id);
        }
    }
    /* 3. the Patient's own id (creates the person when nothing matched), then
     * attach every local identifier to the person found */
    if ((rc = attach(s, org, LINK_SOURCE_ID_SYSTEM, source_id, out)) != 0)
        goto fail;
    json_array_foreach(idents, i, id)
    {
        const char *sys, *val;
        char iorg[64];
        if (!local_identifier(id, org, &sys, &val, iorg))
            continue;
        if ((rc = attach(s, iorg, sys, val, out)) != 0)
            goto fail;
        buf_addf(&locals, "%s\t%s\t%s\n", iorg, sys, val);
    }
    if (is_new && (rc = mpi_match_apply(s, org, source_id, out->person_id, &mm)) != 0)
        goto fail;
    out->merged = mm.nmerge;
    if ((rc = mpi_record_put(s, org, source_id, &d, (const char(*)[BLOCK_KEYLEN])keys,
                             locals.len ? locals.data : NULL)) != 0)
        goto fail;
    mpi_match_free(&mm);
    buf_release(&locals);
    return WEFT_OK;
fail:
    mpi_match_free(&mm);
    buf_release(&locals);
    free(out->person_id);
    out->person_id = NULL;
    return rc;
}

int identity_of_identifier(struct store *s, const char *org, const char *system, const char *value,
                           char **person_id_out)
{
    *person_id_out = NULL;
    if (!system || !value)
        return WEFT_EINVAL;
    if (strcmp(system, NHS_NUMBER_SYSTEM) == 0) {
        char d[11];
        if (!nhs_number_valid(value, d))
            return WEFT_EINVAL;
        return store_person_by_nhs(s, d, person_id_out);
    }
    /* only an identifier already known may name a person */
    char iorg[64];
    identifier_org(system, org, iorg);
    return store_person_find_local(s, iorg, system, value, person_id_out);
}

int identity_record_person(struct store *s, const char *org, const char *source_id,
                           char **person_id_out)
{
    return store_person_find_local(s, org, LINK_SOURCE_ID_SYSTEM, source_id, person_id_out);
}

int identity_find_nhs(struct store *s, const char *nhs, char **person_id_out, bool *has_record)
{
    *person_id_out = NULL;
    if (has_record)
        *has_record = false;
    char d[11];
    if (!nhs || !nhs_number_valid(nhs, d))
        return WEFT_EINVAL;
    int rc = store_person_find_nhs(s, d, person_id_out);
    if (rc != 0 || !has_record)
        return rc;
    int64_t max_seq = 0, count = 0;
    if ((rc = store_person_version(s, *person_id_out, 0, &max_seq, &count, NULL)) != 0) {
        free(*person_id_out);
        *person_id_out = NULL;
        return rc;
    }
    *has_record = count > 0;
    return WEFT_OK;
}

int identity_find_local(struct store *s, const char *org, const char *system, const char *value,
                        char **person_id_out)
{
    *person_id_out = NULL;
    if (!system || !value || !*value)
        return WEFT_EINVAL;
    char iorg[64];
    identifier_org(system, org, iorg);
    return store_person_find_local(s, iorg, system, value, person_id_out);
}

int identity_person_for_nhs(struct store *s, const char *nhs, char **person_id_out)
{
    *person_id_out = NULL;
    char d[11];
    if (!nhs || !nhs_number_valid(nhs, d))
        return WEFT_EINVAL;
    return store_person_by_nhs(s, d, person_id_out);
}

/* Identifier i of ids: its system and value, or false when either is absent. */
static bool ident_at(const json_t *ids, size_t i, const char **sys, const char **val)
{
    const json_t *id = json_array_get(ids, i);
    *sys = json_string_value(json_object_get(id, "system"));
    *val = json_string_value(json_object_get(id, "value"));
    return *sys && *val && **val;
}

int identity_of_identifiers(struct store *s, const char *org, const json_t *ids, bool create,
                            char **person_id_out)
{
    *person_id_out = NULL;
    size_t n = json_array_size(ids);
    const char *sys, *val;
    for (size_t i = 0; i < n; i++) {
        if (!ident_at(ids, i, &sys, &val))
            continue;
        int rc;
        if (strcmp(sys, NHS_NUMBER_SYSTEM) == 0) {
            char d[11];
            if (!nhs_number_valid(val, d))
                continue; /* never links (flagged where the Patient is stored) */
            rc = store_person_find_nhs(s, d, person_id_out);
        } else {
            rc = identity_find_local(s, org, sys, val, person_id_out);
        }
        if (rc != WEFT_ENOTFOUND)
            return rc;
    }
    if (!create)
        return WEFT_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (!ident_at(ids, i, &sys, &val))
            continue;
        if (strcmp(sys, NHS_NUMBER_SYSTEM) == 0) {
            char d[11];
            if (!nhs_number_valid(val, d))
                continue;
            return store_person_by_nhs(s, d, person_id_out);
        }
        char iorg[64];
        identifier_org(sys, org, iorg);
        return store_person_by_local(s, iorg, sys, val, NULL, person_id_out);
    }
    return WEFT_ENOTFOUND;
}

int identity_merge_source(struct store *s, const char *org, const json_t *ids_survivor,
                          const json_t *ids_retired, int64_t inbox_id, const char *by,
                          int64_t *merge_id_out)
{
    *merge_id_out = 0;
    char *ret = NULL, *surv = NULL;
    int rc = identity_of_identifiers(s, org, ids_retired, false, &ret);
    if (rc == WEFT_ENOTFOUND)
        return WEFT_OK; /* the retired patient was never sent here: nothing to move */
    if (rc == 0)
        rc = identity_of_identifiers(s, org, ids_survivor, true, &surv);
    if (rc == 0 && strcmp(ret, surv) != 0)
        rc = mpi_merge_source(s, surv, ret, org, inbox_id, by, merge_id_out);
    free(ret);
    free(surv);
    return rc;
}

int identity_unmerge_source(struct store *s, const char *org, const json_t *ids_retired,
                            const char *by, int64_t *merge_id_out)
{
    *merge_id_out = 0;
    size_t n = json_array_size(ids_retired);
    const char *sys, *val;
    for (size_t i = 0; i < n; i++) {
        if (!ident_at(ids_retired, i, &sys, &val) || strcmp(sys, NHS_NUMBER_SYSTEM) == 0)
            continue;
        char iorg[64];
        identifier_org(sys, org, iorg);
        int rc = mpi_unmerge_source(s, iorg, sys, val, by, merge_id_out);
        if (rc != WEFT_ENOTFOUND)
            return rc;
    }
    return WEFT_OK; /* nothing linked is nothing to undo */
}

static void side_fill(struct store *s, const char *org, const char *source_id,
                      struct identity_side *side)
{
    side->org = xstrdup(org);
    side->source_id = xstrdup(source_id);
    struct store_idrec r;
    if (store_idrec_get(s, LINK_SOURCE_ID_SYSTEM, org, source_id, &r) != 0)
        return;
    side->known = demog_unpack(r.demog, &side->d) == 0;
    side->person_id = r.person_id ? xstrdup(r.person_id) : NULL;
    side->nhs = r.nhs ? xstrdup(r.nhs) : NULL;
    store_idrec_clear(&r);
}

int identity_review_get(struct store *s, int64_t id, struct identity_pair *out)
{
    memset(out, 0, sizeof *out);
    struct store_idreview rv;
    int rc = store_idreview_get(s, id, &rv);
    if (rc != 0)
        return rc;
    out->id = rv.id;
    out->status = rv.status;
    out->created = rv.created;
    out->decided_by = rv.decided_by;
    out->decided = rv.decided;
    out->queued_score = rv.score;
    out->queued_model = rv.model_version;
    side_fill(s, rv.org, rv.source_id, &out->a);
    side_fill(s, rv.other_org, rv.other_source_id, &out->b);
    free(rv.org);
    free(rv.source_id);
    free(rv.other_org);
    free(rv.other_source_id);
    if (out->a.known && out->b.known) {
        const struct idmodel *m = mpi_model_acquire(s);
        out->total = mpi_compare(m, &out->a.d, &out->b.d, out->level, out->weight);
        out->link_weight = m->link_weight;
        out->review_weight = m->review_weight;
        out->model_version = m->version;
        out->compared = true;
        mpi_model_release(m);
    }
    return WEFT_OK;
}

static void side_clear(struct identity_side *side)
{
    free(side->org);
    free(side->source_id);
    free(side->person_id);
    free(side->nhs);
}

void identity_pair_clear(struct identity_pair *p)
{
    free(p->status);
    free(p->created);
    free(p->decided_by);
    free(p->decided);
    side_clear(&p->a);
    side_clear(&p->b);
    memset(p, 0, sizeof *p);
}

int identity_under_review(struct store *s, const char *person_id, bool *out)
{
    /* one query of the person's own records against the queue's two sides
     * (indexed), never a read of the queue: after a relink it holds
     * millions of pairs, and this runs on every clinician page view */
    return store_idreview_open_for_person(s, LINK_SOURCE_ID_SYSTEM, person_id, out);
}
