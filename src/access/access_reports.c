/*
 * access_reports.c - the access reports of the HTTP side (access_serve.h):
 * GET /fhir/AuditEvent (the audit log as FHIR AuditEvent resources, BALP
 * profiles, for governance roles), "who has viewed this record" and the
 * break-glass events for review (JSON).
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access/access_serve.h"
#include "access/access_serve_int.h"
#include "access/app.h"
#include "access/authz.h"
#include "access/form.h"
#include "access/launch.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/server.h"
#include "store/access.h"
#include "store/apps.h"
#include "store/audit.h"
#include "store/records.h"
#include "store/store.h"

/* ---- AuditEvent, viewers, break-glass review -------------------------------------------- */

static const char *balp_subtype(const char *action)
{
    if (strcmp(action, AUDIT_READ) == 0)
        return "read";
    if (strcmp(action, AUDIT_SEARCH) == 0 || strcmp(action, AUDIT_EXPORT) == 0)
        return "search-type";
    if (strcmp(action, AUDIT_LAUNCH) == 0 || strcmp(action, AUDIT_TOKEN) == 0)
        return "login";
    return NULL;
}

static json_t *audit_event_json(const struct store_audit_row *r)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)r->seq);
    const char *sub = balp_subtype(r->action);
    const char *outcome = strcmp(r->outcome, AUDIT_OK) == 0       ? "0"
                          : strcmp(r->outcome, AUDIT_DENIED) == 0 ? "4"
                                                                  : "8";
    const char *act =
        strcmp(r->action, AUDIT_POLICY_CHANGE) == 0 || strcmp(r->action, AUDIT_BREAK_GLASS) == 0 ||
                strcmp(r->action, AUDIT_TOKEN) == 0 || strcmp(r->action, AUDIT_WRITE) == 0
            ? "C"
        : strcmp(r->action, AUDIT_LAUNCH) == 0 || strcmp(r->action, AUDIT_ADMIN) == 0 ? "E"
                                                                                      : "R";
    json_t *e = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s}], s:s, s:s, s:s, s:{s:{s:s}, s:[{s:s, s:s}]}}",
        "resourceType", "AuditEvent", "id", id, "type", "system",
        sub ? "http://terminology.hl7.org/CodeSystem/audit-event-type" : "urn:weft:audit-action",
        "code", sub ? "rest" : r->action, "subtype", "system",
        sub ? "http://hl7.org/fhir/restful-interaction" : "urn:weft:audit-action", "code",
        sub ? sub : r->action, "action", act, "recorded", r->time, "outcome", outcome, "source",
        "observer", "display", "weft", "type", "system",
        "http://terminology.hl7.org/CodeSystem/security-source-type", "code", "4");
    if (r->reason)
        json_object_set_new(e, "outcomeDesc", json_string(r->reason));
    if (r->purpose)
        json_object_set_new(e, "purposeOfEvent",
                            json_pack("[{s:[{s:s, s:s}]}]", "coding", "system",
                                      "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code",
                                      r->purpose));
    json_t *agents = json_array();
    if (r->user_id) {
        json_t *a =
            json_pack("{s:{s:[{s:s, s:s}]}, s:{s:{s:s, s:s}}, s:b}", "type", "coding", "system",
                      "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code",
                      "humanuser", "who", "identifier", "system",
                      "https://fhir.nhs.uk/Id/sds-user-id", "value", r->user_id, "requestor", 1);
        if (r->user_name)
            json_object_set_new(a, "name", json_string(r->user_name));
        if (r->role)
            json_object_set_new(a, "role",
                                json_pack("[{s:[{s:s, s:s}]}]", "coding", "system",
                                          "https://fhir.nhs.uk/CodeSystem/NHSJobRoleCode", "code",
                                          r->role));
        if (r->session_id)
            json_object_set_new(a, "policy", json_pack("[s]", r->session_id));
        json_array_append_new(agents, a);
    }
    if (r->client)
        json_array_append_new(agents, json_pack("{s:{s:[{s:s, s:s}]}, s:{s:s}, s:b}", "type",
                                                "coding", "system",
                                                "http://terminology.hl7.org/CodeSystem/"
                                                "extra-security-role-type",
                                                "code", "datacollector", "who", "display",
                                                r->client, "requestor", r->user_id ? 0 : 1));
    if (r->org)
        json_array_append_new(
            agents,
            json_pack("{s:{s:[{s:s, s:s}]}, s:{s:{s:s, s:s}}, s:b}", "type", "coding", "system",
                      "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code", "PROV", "who",
                      "identifier", "system", "https://fhir.nhs.uk/Id/ods-organization-code",
                      "value", r->org, "requestor", 0));
    if (r->launcher)
        json_array_append_new(agents,
                              json_pack("{s:{s:[{s:s, s:s}]}, s:{s:s}, s:b}", "type", "coding",
                                        "system", "urn:weft:agent-type", "code", "launcher", "who",
                                        "display", r->launcher, "requestor", 0));
    if (json_array_size(agents) == 0)
        json_array_append_new(
            agents, json_pack("{s:{s:s}, s:b}", "who", "display", "weft", "requestor", 0));
    json_object_set_new(e, "agent", agents);
    json_t *ents = json_array();
    if (r->person_id)
        json_array_append_new(
            ents, json_pack("{s:{s:{s:s, s:s}}, s:{s:s, s:s}}", "what", "identifier", "system",
                            "urn:weft:person", "value", r->person_id, "role", "system",
                            "http://terminology.hl7.org/CodeSystem/object-role", "code", "1"));
    if (r->what || r->count >= 0) {
        json_t *q = json_pack("{s:{s:s}}", "what", "display", r->what ? r->what : "");
        if (r->count >= 0) {
            char n[24];
            snprintf(n, sizeof n, "%lld", (long long)r->count);
            json_object_set_new(q, "detail",
                                json_pack("[{s:s, s:s}]", "type", "count", "valueString", n));
        }
        json_array_append_new(ents, q);
    }
    if (json_array_size(ents))
        json_object_set_new(e, "entity", ents);
    else
        json_decref(ents);
    return e;
}

struct collect {
    json_t *arr;
    int64_t last_seq;
    bool fhir;
};

static int collect_row(const struct store_audit_row *r, void *ctx)
{
    struct collect *c = ctx;
    c->last_seq = r->seq;
    if (c->fhir) {
        json_array_append_new(c->arr, json_pack("{s:o}", "resource", audit_event_json(r)));
        return 0;
    }
    json_t *v = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "seq",
                          (json_int_t)r->seq, "time", r->time, "action", r->action, "outcome",
                          r->outcome, "user", r->user_id, "name", r->user_name, "role", r->role,
                          "org", r->org, "launcher", r->launcher, "purpose", r->purpose);
    if (r->count >= 0)
        json_object_set_new(v, "count", json_integer(r->count));
    json_array_append_new(c->arr, v);
    return 0;
}

/* date=geYYYY-MM-DD / leYYYY-MM-DD / ltYYYY... / gt... / YYYY-MM-DD (that day). */
static bool date_filter(const char *v, struct store_audit_filter *f, char *buf_ge, char *buf_lt)
{
    const char *d = v;
    char op[3] = "eq";
    if (strlen(v) > 2 && v[0] >= 'a' && v[0] <= 'z') {
        memcpy(op, v, 2);
        d = v + 2;
    }
    char day[11];
    size_t dl = strlen(d);
    if (dl < 10 || dl > 29)
        return false;
    memcpy(day, d, 10);
    day[10] = 0;
    if (!org_date_valid(day))
        return false;
    for (size_t i = 10; i < dl; i++) /* optional time part: digits, T, :, ., Z, +, - */
        if (!strchr("0123456789T:.Z+-", d[i]))
            return false;
    if (strcmp(op, "ge") == 0 || strcmp(op, "gt") == 0 || strcmp(op, "sa") == 0) {
        snprintf(buf_ge, 32, "%s", d);
        f->time_ge = buf_ge;
    } else if (strcmp(op, "lt") == 0 || strcmp(op, "le") == 0 || strcmp(op, "eb") == 0) {
        /* le a day: everything before the next day; simple text bound "d~" */
        snprintf(buf_lt, 32, "%s%s", d, strcmp(op, "le") == 0 ? "\x7f" : "");
        f->time_lt = buf_lt;
    } else if (strcmp(op, "eq") == 0) {
        snprintf(buf_ge, 32, "%s", d);
        snprintf(buf_lt, 32, "%s\x7f", d);
        f->time_ge = buf_ge;
        f->time_lt = buf_lt;
    } else {
        return false;
    }
    return true;
}

static bool review_allowed(struct http_req *req, struct store *s)
{
    if (authz_may_review_audit(s, &req->principal))
        return true;
    authz_audit_denial(s, &req->principal, AUDIT_SEARCH, NULL,
                       "audit review is for governance roles only");
    return false;
}

int access_audit_event(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    if (!s) {
        access_reply_problem(req, 503, "unavailable", "no database", "try again");
        return 0;
    }
    if (!review_allowed(req, s)) {
        access_secure_headers(req);
        json_t *oo = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "resourceType", "OperationOutcome",
                               "issue", "severity", "error", "code", "forbidden", "diagnostics",
                               "the audit log is for governance roles only");
        char *t = json_dumps(oo, JSON_COMPACT);
        json_decref(oo);
        http_reply(req, 403, "application/fhir+json", t, strlen(t));
        free(t);
        return 0;
    }
    struct store_audit_filter f = {.limit = 100};
    char ge[32], lt[32];
    const char *unknown = NULL;
    for (int i = 0; i < req->nargs; i++) {
        const char *n = req->args[i].name, *v = req->args[i].value;
        if (strcmp(n, "patient") == 0 || strcmp(n, "entity") == 0)
            f.person_id = strncmp(v, "Patient/", 8) == 0 ? v + 8 : v;
        else if (strcmp(n, "agent") == 0 || strcmp(n, "user") == 0)
            f.user_id = v;
        else if (strcmp(n, "action") == 0 || strcmp(n, "subtype") == 0)
            f.action = v;
        else if (strcmp(n, "date") == 0) {
            if (!date_filter(v, &f, ge, lt))
                unknown = "date must be [ge|gt|le|lt]YYYY-MM-DD";
        } else if (strcmp(n, "_count") == 0) {
            char *end;
            long c = strtol(v, &end, 10);
            if (*end || c < 1 || c > 1000)
                unknown = "_count must be 1-1000";
            else
                f.limit = (int)c;
        } else if (strcmp(n, "_before") == 0) {
            char *end;
            long long b = strtoll(v, &end, 10);
            if (*end || b < 1)
                unknown = "_before must be an entry number";
            else
                f.before_seq = b;
        } else {
            unknown = "unknown search parameter (patient, agent, date, action, _count)";
        }
    }
    if (unknown) {
        json_t *oo =
            json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "resourceType", "OperationOutcome", "issue",
                      "severity", "error", "code", "invalid", "diagnostics", unknown);
        char *t = json_dumps(oo, JSON_COMPACT);
        json_decref(oo);
        http_reply(req, 400, "application/fhir+json", t, strlen(t));
        free(t);
        return 0;
    }
    struct collect c = {json_array(), 0, true};
    int rc = store_audit_search(s, &f, collect_row, &c);
    if (rc) {
        json_decref(c.arr);
        access_reply_problem(req, 500, "error", "the audit log could not be searched", "try again");
        return 0;
    }
    json_t *bundle =
        json_pack("{s:s, s:s, s:o}", "resourceType", "Bundle", "type", "searchset", "entry", c.arr);
    if ((int)json_array_size(c.arr) == f.limit) {
        struct buf next = BUF_INIT;
        buf_adds(&next, "/fhir/AuditEvent?");
        for (int i = 0; i < req->nargs; i++) {
            if (strcmp(req->args[i].name, "_before") == 0)
                continue;
            url_encode(&next, req->args[i].name);
            buf_addc(&next, '=');
            url_encode(&next, req->args[i].value);
            buf_addc(&next, '&');
        }
        buf_addf(&next, "_before=%lld", (long long)c.last_seq);
        json_object_set_new(bundle, "link",
                            json_pack("[{s:s, s:s}]", "relation", "next", "url", next.data));
        buf_release(&next);
    }
    authz_audit_access(s, &req->principal, AUDIT_SEARCH, f.person_id, "AuditEvent",
                       (int64_t)json_array_size(c.arr));
    char *t = json_dumps(bundle, JSON_COMPACT);
    json_decref(bundle);
    access_secure_headers(req);
    http_reply(req, 200, "application/fhir+json", t, strlen(t));
    free(t);
    return 0;
}

int access_viewers(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    const char *person = http_req_param(req, "id");
    if (!s || !person) {
        access_reply_problem(req, 503, "unavailable", "no database", "try again");
        return 0;
    }
    if (!review_allowed(req, s)) {
        access_reply_problem(req, 403, "forbidden", "Access reports are for governance roles",
                             "Ask your information governance team.");
        return 0;
    }
    json_t *viewers = json_array();
    static const char *const actions[] = {AUDIT_READ, AUDIT_SEARCH, AUDIT_EXPORT, AUDIT_LAUNCH,
                                          AUDIT_BREAK_GLASS};
    /* newest first per action, merged by the reader; 200 of each at most */
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        struct store_audit_filter f = {.person_id = person, .action = actions[i], .limit = 200};
        struct collect c = {viewers, 0, false};
        if (store_audit_search(s, &f, collect_row, &c) != 0) {
            json_decref(viewers);
            access_reply_problem(req, 500, "error", "the audit log could not be searched",
                                 "try again");
            return 0;
        }
    }
    authz_audit_access(s, &req->principal, AUDIT_SEARCH, person, "access-report",
                       (int64_t)json_array_size(viewers));
    access_reply_json(req, 200, json_pack("{s:s, s:o}", "person", person, "accesses", viewers));
    return 0;
}

int access_breakglass_review(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    if (!s || !review_allowed(req, s)) {
        access_reply_problem(req, 403, "forbidden", "Break-glass review is for governance roles",
                             "Ask your information governance team.");
        return 0;
    }
    struct store_breakglass *b = NULL;
    int n = 0;
    if (store_breakglass_list(s, http_req_arg(req, "since"), &b, &n) != 0) {
        access_reply_problem(req, 500, "error", "break-glass events could not be read",
                             "try again");
        return 0;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s, s:s, s:s}",
                                             "id", (json_int_t)b[i].id, "user", b[i].user_id,
                                             "name", b[i].user_name, "role", b[i].role, "org",
                                             b[i].org, "person", b[i].person_id, "reason_code",
                                             b[i].reason_code, "reason", b[i].reason_text,
                                             "started", b[i].started, "expires", b[i].expires));
        store_breakglass_clear(&b[i]);
    }
    free(b);
    authz_audit_access(s, &req->principal, AUDIT_SEARCH, NULL, "break-glass-review", (int64_t)n);
    access_reply_json(req, 200, json_pack("{s:o}", "breakglass", arr));
    return 0;
}
