/*
 * api_match.c - POST /fhir/Patient/$match (FHIR R4): a Patient in, the
 * persons it may be out, as a searchset Bundle of Patients graded with
 * search.score and the match-grade extension.
 *
 * Body: a Parameters resource with "resource" (the Patient), optional
 * "onlyCertainMatches" (valueBoolean) and "count" (valueInteger, 1..50,
 * default 10); a bare Patient is taken as the resource alone.
 *
 * Who may: authz_may_match_patients (policy capability patient-match for
 * staff, scope system/Patient.$match for API clients); a refusal is 403
 * and audited.  The candidates come from the identity module
 * (identity_match: nothing is linked); each candidate person is then read
 * through the one scoped-read path (access/read.h) exactly as a search of
 * their Patients would be: a person the caller may not open, or whose
 * Patients the scope withholds, is left out and the Bundle says, without
 * saying who, that candidates were not shown.  Each person shown is audited
 * (action search, the Patient returned); a look-up that shows no one is
 * audited too ("Patient/$match: total 0").
 *
 * One entry per person: the Patient of the best-matching source record
 * (the first the caller may see when that one is withheld or unknown).
 * onlyCertainMatches: only a single certain match is returned; when more
 * than one person is certain none is, and the Bundle says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "access/read.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "fhir/api_int.h"
#include "identity/identity.h"
#include "store/records.h"
#include "store/store.h"

#define MATCH_COUNT_DEFAULT 10
#define MATCH_COUNT_MAX 50
#define MATCH_GRADE_URL "http://hl7.org/fhir/StructureDefinition/match-grade"

static bool fhir_json_ct(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    static const char *const ok[] = {"application/fhir+json", "application/json",
                                     "application/json+fhir"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(ct, ok[i], n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' '))
            return true;
    }
    return false;
}

struct match_in {
    const json_t *patient; /* borrowed from the body */
    bool only_certain;
    int count;
};

/* Read the body into *in; replies 4xx and returns false when unusable. */
static bool read_input(struct http_req *req, const json_t *root, struct match_in *in)
{
    in->patient = NULL;
    in->only_certain = false;
    in->count = MATCH_COUNT_DEFAULT;
    const char *rt = json_string_value(json_object_get(root, "resourceType"));
    if (rt && strcmp(rt, "Patient") == 0) {
        in->patient = root;
        return true;
    }
    if (!rt || strcmp(rt, "Parameters") != 0) {
        api_outcome(req, 400, "invalid",
                    "Patient/$match takes a Parameters resource (or a Patient), not %.60s",
                    rt ? rt : "a body without resourceType");
        return false;
    }
    const json_t *params = json_object_get(root, "parameter");
    if (params && !json_is_array(params)) {
        api_outcome(req, 400, "structure", "Parameters.parameter must be an array");
        return false;
    }
    size_t i;
    const json_t *p;
    json_array_foreach(params, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (!name) {
            api_outcome(req, 400, "structure", "parameter %zu has no name", i + 1);
            return false;
        }
        if (strcmp(name, "resource") == 0) {
            const json_t *r = json_object_get(p, "resource");
            const char *t = json_string_value(json_object_get(r, "resourceType"));
            if (!t || strcmp(t, "Patient") != 0) {
                api_outcome(req, 400, "invalid",
                            "parameter 'resource' must hold a Patient resource");
                return false;
            }
            if (in->patient) {
                api_outcome(req, 400, "invalid", "parameter 'resource' is given more than once");
                return false;
            }
            in->patient = r;
        } else if (strcmp(name, "onlyCertainMatches") == 0) {
            const json_t *v = json_object_get(p, "valueBoolean");
            if (!json_is_boolean(v)) {
                api_outcome(req, 400, "invalid",
                            "parameter 'onlyCertainMatches' needs a valueBoolean");
                return false;
            }
            in->only_certain = json_is_true(v);
        } else if (strcmp(name, "count") == 0) {
            const json_t *v = json_object_get(p, "valueInteger");
            if (!json_is_integer(v) || json_integer_value(v) < 1) {
                api_outcome(req, 400, "invalid",
                            "parameter 'count' needs a valueInteger of at least 1");
                return false;
            }
            json_int_t c = json_integer_value(v);
            in->count = c > MATCH_COUNT_MAX ? MATCH_COUNT_MAX : (int)c;
        } else {
            api_outcome(req, 400, "not-supported",
                        "Patient/$match has no parameter '%.60s' (resource, onlyCertainMatches, "
                        "count)",
                        name);
            return false;
        }
    }
    if (!in->patient) {
        api_outcome(req, 400, "required",
                    "Patient/$match needs the parameter 'resource' holding a Patient");
        return false;
    }
    return true;
}

/* Does the Patient carry anything to match on? */
static bool has_demographics(const json_t *pt)
{
    return json_array_size(json_object_get(pt, "name")) > 0 ||
           json_string_value(json_object_get(pt, "birthDate")) ||
           json_array_size(json_object_get(pt, "identifier")) > 0;
}

struct shown {
    struct store_row row; /* the Patient returned */
    const struct identity_candidate *cand;
};

/* Read candidate c's Patients through the scoped-read path; *row gets the
 * one to show (moved out of the result).  Returns 0 with *got telling
 * whether one may be shown and *hidden whether the caller's access left
 * out what would have been, or a negative error. */
static int read_candidate(struct http_req *req, struct store *s, const struct identity_candidate *c,
                          struct store_row *row, bool *got, bool *hidden)
{
    *got = false;
    *hidden = false;
    struct access_read r;
    int rc = access_read_open(&r, s, &req->principal, AUDIT_SEARCH, c->person_id);
    if (rc < 0 || !r.scope.allowed) { /* a refusal is audited by the decision */
        *hidden = true;
        access_read_close(&r);
        return rc < 0 ? rc : WEFT_OK;
    }
    struct store_query q = {.type = "Patient", .person_id = c->person_id, .limit = 100};
    struct store_result res;
    rc = access_read_search(&r, &q, &res);
    int pick = -1;
    for (int i = 0; rc == 0 && i < res.nrows; i++) {
        const struct store_row *x = &res.rows[i];
        if (x->deleted)
            continue;
        if (pick < 0)
            pick = i;
        if (c->org && c->source_id && x->source_org && x->source_id &&
            strcmp(x->source_org, c->org) == 0 && strcmp(x->source_id, c->source_id) == 0) {
            pick = i;
            break;
        }
    }
    if (rc == 0 && pick >= 0) {
        rc = access_read_audit_rows(&r, &res.rows[pick], 1, NULL);
        if (rc == 0) {
            *row = res.rows[pick];
            memset(&res.rows[pick], 0, sizeof res.rows[pick]);
            *got = true;
        }
    } else if (rc == 0) {
        /* nothing to show: withheld, or none held (then leave it out silently) */
        struct authz_hidden h = {0};
        rc = access_read_hidden(&r, res.snapshot, &h);
        *hidden = h.categories || h.orgs;
        if (rc == 0)
            rc = access_read_audit(&r, "Patient/$match: none shown", 0);
    }
    store_result_clear(&res);
    access_read_close(&r);
    return rc;
}

static void reply(struct http_req *req, const char *base, const struct shown *sh, int nsh,
                  const char *const *issues, int nissues)
{
    struct buf b = BUF_INIT;
    char now[32];
    api_now_instant(now);
    buf_addf(&b,
             "{\"resourceType\":\"Bundle\",\"id\":\"%s\",\"meta\":{\"lastUpdated\":\"%s\"},"
             "\"type\":\"searchset\",\"total\":%d,\"entry\":[",
             req->request_id, now, nsh);
    for (int i = 0; i < nsh; i++) {
        const struct store_row *r = &sh[i].row;
        if (i)
            buf_addc(&b, ',');
        buf_adds(&b, "{\"fullUrl\":\"");
        buf_add_json_str(&b, base, strlen(base));
        buf_adds(&b, "/Patient/");
        buf_adds(&b, r->id);
        buf_adds(&b, "\",\"resource\":");
        buf_add(&b, r->json, r->json_len);
        buf_addf(&b,
                 ",\"search\":{\"extension\":[{\"url\":\"" MATCH_GRADE_URL
                 "\",\"valueCode\":\"%s\"}],\"mode\":\"match\",\"score\":%.4f}}",
                 identity_grade_code(sh[i].cand->grade), sh[i].cand->probability);
    }
    if (nissues > 0) {
        if (nsh)
            buf_addc(&b, ',');
        buf_adds(&b, "{\"resource\":{\"resourceType\":\"OperationOutcome\",\"issue\":[");
        for (int i = 0; i < nissues; i++) {
            if (i)
                buf_addc(&b, ',');
            buf_adds(&b, "{\"severity\":\"information\",\"code\":\"informational\","
                         "\"diagnostics\":\"");
            buf_add_json_str(&b, issues[i], strlen(issues[i]));
            buf_adds(&b, "\"}");
        }
        buf_adds(&b, "]},\"search\":{\"mode\":\"outcome\"}}");
    }
    buf_adds(&b, "]}");
    http_reply_buf(req, 200, FHIR_JSON, &b);
}

int api_match(struct http_req *req, void *vctx)
{
    const struct api_ctx *ctx = vctx;
    struct store *s = api_begin(req);
    if (!s)
        return 0;
    if (!authz_type_allowed(&req->principal, "Patient")) {
        authz_audit_denial(s, &req->principal, NULL, NULL,
                           "the access does not include this resource type");
        api_outcome(req, 403, "forbidden", "your access does not include Patient resources");
        return 0;
    }
    const char *why = NULL;
    int rc = authz_may_match_patients(s, &req->principal, &why);
    if (rc < 0) {
        log_error("fhir", "authorisation failed request=%s: %s", req->request_id,
                  weft_strerror(rc));
        api_outcome(req, 500, "exception", "the access decision could not be made");
        return 0;
    }
    if (why) {
        api_outcome(req, 403, "forbidden", "%s", why);
        return 0;
    }
    if (!fhir_json_ct(http_req_header(req, "Content-Type"))) {
        const char *ct = http_req_header(req, "Content-Type");
        api_outcome(req, 415, "not-supported",
                    "Content-Type '%.60s' is not supported: send application/fhir+json",
                    ct ? ct : "(none)");
        return 0;
    }
    if (req->body.len == 0) {
        api_outcome(req, 400, "required", "the request has no body: send a Parameters resource");
        return 0;
    }
    json_error_t jerr;
    json_t *root = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        api_outcome(req, 400, "structure",
                    "the body is not a JSON object: %s at line %d, column %d",
                    root ? "not an object" : jerr.text, jerr.line, jerr.column);
        json_decref(root);
        return 0;
    }
    struct match_in in;
    if (!read_input(req, root, &in)) {
        json_decref(root);
        return 0;
    }
    if (!has_demographics(in.patient)) {
        api_outcome(req, 400, "required",
                    "the Patient has nothing to match on: give a name, birthDate or identifier");
        json_decref(root);
        return 0;
    }
    struct identity_candidate *c = NULL;
    int nc = 0;
    rc = identity_match(s, in.patient, MATCH_COUNT_MAX, &c, &nc);
    json_decref(root);
    if (rc != 0) {
        log_error("fhir", "match failed request=%s: %s (%s)", req->request_id, weft_strerror(rc),
                  store_errmsg(s));
        api_outcome(req, rc == WEFT_EBUSY ? 503 : 500, rc == WEFT_EBUSY ? "transient" : "exception",
                    "the record store reported an error");
        return 0;
    }
    const char *issues[2];
    int nissues = 0;
    int upto = nc;
    if (in.only_certain) {
        int certain = 0;
        while (certain < nc && c[certain].grade == IDENTITY_CERTAIN)
            certain++;
        upto = certain == 1 ? 1 : 0;
        if (certain > 1)
            issues[nissues++] = "more than one person matches with certainty: none is returned "
                                "with onlyCertainMatches";
    }
    struct shown *sh = xcalloc((size_t)in.count + 1, sizeof *sh);
    int nsh = 0;
    bool hidden = false;
    for (int i = 0; i < upto && nsh < in.count && rc == 0; i++) {
        bool got = false, hid = false;
        rc = read_candidate(req, s, &c[i], &sh[nsh].row, &got, &hid);
        if (rc == 0 && got)
            sh[nsh++].cand = &c[i];
        hidden = hidden || hid;
    }
    if (rc == 0 && nsh == 0)
        rc = authz_audit_access(s, &req->principal, AUDIT_SEARCH, NULL, "Patient/$match: total 0",
                                0);
    if (rc != 0) {
        log_error("fhir", "match read failed request=%s: %s", req->request_id, weft_strerror(rc));
        api_outcome(req, 500, "exception", "the candidates could not be read");
    } else {
        if (hidden)
            issues[nissues++] = "Some possible matches are not shown because of access rules.";
        reply(req, api_base_url(req, ctx), sh, nsh, issues, nissues);
    }
    for (int i = 0; i < nsh; i++)
        store_row_clear(&sh[i].row);
    free(sh);
    identity_candidates_free(c, nc);
    return 0;
}
