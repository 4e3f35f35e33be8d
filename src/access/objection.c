/*
 * objection.c - the objection workflow (see objection.h).  Rare writes made
 * by people, so each step waits for its audit entry to be durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/objection.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/proxy.h"
#include "core/principal.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/access.h"
#include "store/citizen.h"
#include "store/store.h"
#include "store/txn.h"

void objection_actor(const struct principal *who, char out[256])
{
    switch (who->kind) {
    case PRINCIPAL_USER:
        snprintf(out, 256, "%s (%s%s%s)", who->user_id ? who->user_id : "?",
                 who->role ? who->role : "?", who->org ? ", " : "", who->org ? who->org : "");
        break;
    case PRINCIPAL_CITIZEN:
        if (who->proxy_grant) /* acting for the person (access/proxy.h) */
            snprintf(out, 256, "their proxy via %s (proxy grant %lld)",
                     who->user_id ? who->user_id : "?", (long long)who->proxy_grant);
        else
            snprintf(out, 256, "the person%s%s", who->user_id ? " via " : "",
                     who->user_id ? who->user_id : "");
        break;
    case PRINCIPAL_CLIENT:
        snprintf(out, 256, "%s", who->client_name ? who->client_name : "client");
        break;
    default:
        snprintf(out, 256, "unknown");
    }
}

bool objection_overdue(const struct store_objection *o, const char *today)
{
    return o->status && strcmp(o->status, "lodged") == 0 && o->due && strcmp(today, o->due) > 0;
}

static bool text_ok(const char *t, size_t max)
{
    if (!t)
        return false;
    size_t n = strlen(t);
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r';
    return any && n <= max;
}

/* Lock objection case id in the open transaction (store_lock_keys): two
 * steps of one case at once (PostgreSQL: writers overlap) take turns, so
 * the second reads the case as the first left it (decided, withdrawn) and
 * is refused as one after the other would be, never both applied. */
static int lock_case(struct store *s, int64_t id)
{
    char k[32];
    int n = snprintf(k, sizeof k, "%lld", (long long)id);
    uint32_t key = store_lock_key(k, (size_t)n, "objection-case", 14);
    return store_lock_keys(s, &key, 1);
}

/* The audit entry of one step: who, whose record, what happened. */
static int audit_step(struct store *s, const struct principal *who, const char *outcome,
                      const char *person_id, int64_t id, const char *step, const char *text)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, who);
    struct buf what = BUF_INIT, reason = BUF_INIT;
    buf_addf(&what, "objection %lld", (long long)id);
    buf_addf(&reason, "objection %s%s%s", step, text ? ": " : "", text ? text : "");
    ev.action = AUDIT_ADMIN;
    ev.outcome = outcome;
    ev.person_id = person_id;
    ev.what = what.data;
    ev.count = -1;
    ev.reason = reason.data;
    int rc = audit_record(s, &ev, true);
    buf_release(&what);
    buf_release(&reason);
    return rc;
}

/* Finish a step: history, the person's state, audit; commit t or roll it back. */
static int finish(struct store *s, struct store_txn *t, const struct principal *who,
                  struct store_objection *o, const char *now, const char *step, const char *detail,
                  const char *state_day)
{
    char by[256];
    objection_actor(who, by);
    int rc = store_objection_step_add(s, o->id, now, step, by, detail);
    if (rc == 0)
        rc = store_objection_set(s, o->person_id, o->status, state_day);
    if (rc == 0)
        rc = store_txn_commit(t);
    else
        store_txn_rollback(t);
    /* audited after the commit, as break-glass is: in the server the audit
     * writer is another handle, which would wait on this transaction */
    if (rc == 0)
        rc = audit_step(s, who, AUDIT_OK, o->person_id, o->id, step, detail);
    return rc;
}

int objection_lodge(struct store *s, const struct principal *who, const char *person_id,
                    const char *org, const char *reason, int64_t *id_out, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    if (!text_ok(reason, 2000)) {
        *why = "give the reason for the objection (at most 2000 characters)";
        return WEFT_EINVAL;
    }
    int prc = proxy_check(s, who, PROXY_SCOPE_OBJECTION, why); /* 0 unless a proxy */
    if (prc)
        return prc;
    struct store_org so;
    int rc = org_ods_valid(org) ? store_org_get(s, org, &so) : WEFT_ENOTFOUND;
    if (rc == WEFT_ENOTFOUND) {
        *why = "the organisation is not registered (weft org add)";
        return WEFT_EINVAL;
    }
    if (rc)
        return rc;
    store_org_clear(&so);
    struct store_txn t;
    if ((rc = store_txn_begin(&t, s)) != 0)
        return rc;
    /* two lodges for one person at once (PostgreSQL: writers overlap) take
     * turns, so the second sees the first's open case */
    uint32_t key = store_lock_key(person_id, strlen(person_id), "objection", 9);
    if ((rc = store_lock_keys(s, &key, 1)) != 0) {
        store_txn_rollback(&t);
        return rc;
    }
    struct store_objection *cases = NULL;
    int n = 0;
    rc = store_objection_list(s, person_id, false, &cases, &n);
    for (int i = 0; rc == 0 && i < n; i++)
        if (strcmp(cases[i].status, "lodged") == 0 || strcmp(cases[i].status, "upheld") == 0) {
            *why = "an objection is already open for this person: decide or withdraw it first";
            rc = WEFT_EEXIST;
        }
    store_objections_free(cases, n);
    if (rc) {
        store_txn_rollback(&t);
        return rc;
    }
    char now[32], day[11], due[11], by[256];
    audit_now(now);
    memcpy(day, now, 10);
    day[10] = 0;
    org_date_add_months(day, 1, due);
    objection_actor(who, by);
    struct store_objection o = {.person_id = (char *)person_id,
                                .org = (char *)org,
                                .reason = (char *)reason,
                                .lodged = now,
                                .lodged_by = by,
                                .due = due,
                                .status = "lodged"};
    if ((rc = store_objection_put(s, &o, &o.id)) != 0) {
        store_txn_rollback(&t);
        return rc;
    }
    struct buf detail = BUF_INIT;
    buf_addf(&detail, "with %s, due %s: %s", org, due, reason);
    rc = finish(s, &t, who, &o, now, "lodged", detail.data, day);
    buf_release(&detail);
    if (rc == 0 && id_out)
        *id_out = o.id;
    return rc;
}

int objection_decide(struct store *s, const struct principal *who, int64_t id, const char *decision,
                     const char *rationale, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    bool upheld = decision && strcmp(decision, "upheld") == 0;
    if (!upheld && !(decision && strcmp(decision, "not-upheld") == 0)) {
        *why = "the decision is upheld or not-upheld";
        return WEFT_EINVAL;
    }
    if (!text_ok(rationale, 4000)) {
        *why = "give the rationale for the decision (at most 4000 characters)";
        return WEFT_EINVAL;
    }
    struct store_objection o;
    int rc = store_objection_case(s, id, &o);
    if (rc == WEFT_ENOTFOUND)
        *why = "there is no objection with that id";
    if (rc)
        return rc;
    /* the decider: a member of staff whose role the policy allows */
    const struct policy *pol = NULL;
    bool allowed = who->kind == PRINCIPAL_USER && who->user_id && who->role &&
                   policy_current(s, &pol, NULL) == 0 &&
                   (policy_role_caps(pol, who->role) & POLICY_CAP_OBJECTION_DECIDE);
    if (!allowed) {
        *why = "your job role may not decide objections (the access policy names the roles "
               "that may: capability objection-decide)";
        struct audit_event ev = {0};
        audit_event_from_principal(&ev, who);
        struct buf what = BUF_INIT;
        buf_addf(&what, "objection %lld", (long long)id);
        ev.action = AUDIT_ADMIN;
        ev.outcome = AUDIT_DENIED;
        ev.person_id = o.person_id;
        ev.what = what.data;
        ev.count = -1;
        ev.reason = "objection decision refused: role may not decide objections";
        rc = audit_record(s, &ev, true);
        buf_release(&what);
        store_objection_clear(&o);
        return rc ? rc : WEFT_EDENIED;
    }
    struct store_txn t;
    if ((rc = store_txn_begin(&t, s)) != 0) {
        store_objection_clear(&o);
        return rc;
    }
    /* read again inside the transaction, the case locked: a concurrent step
     * may have closed it */
    store_objection_clear(&o);
    if ((rc = lock_case(s, id)) != 0 || (rc = store_objection_case(s, id, &o)) != 0) {
        store_txn_rollback(&t);
        return rc;
    }
    if (strcmp(o.status, "lodged") != 0) {
        *why = "the objection is not waiting for a decision (already decided or withdrawn)";
        store_objection_clear(&o);
        store_txn_rollback(&t);
        return WEFT_ECONFLICT;
    }
    char now[32], day[11], by[256];
    audit_now(now);
    memcpy(day, now, 10);
    day[10] = 0;
    objection_actor(who, by);
    free(o.status);
    o.status = xstrdup(upheld ? "upheld" : "not-upheld");
    o.decided = xstrdup(now);
    o.decided_by = xstrdup(who->user_id);
    o.decided_role = xstrdup(who->role);
    o.rationale = xstrdup(rationale);
    rc = store_objection_put(s, &o, NULL);
    struct buf detail = BUF_INIT;
    buf_addf(&detail, "%s: %s", o.status, rationale);
    if (rc == 0)
        rc = finish(s, &t, who, &o, now, "decided", detail.data, day);
    else
        store_txn_rollback(&t);
    buf_release(&detail);
    store_objection_clear(&o);
    return rc;
}

int objection_withdraw(struct store *s, const struct principal *who, int64_t id, const char *reason,
                       const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    if (reason && *reason && !text_ok(reason, 2000)) {
        *why = "the reason is at most 2000 characters";
        return WEFT_EINVAL;
    }
    int rc = proxy_check(s, who, PROXY_SCOPE_OBJECTION, why); /* 0 unless a proxy */
    if (rc)
        return rc;
    struct store_txn t;
    rc = store_txn_begin(&t, s);
    if (rc)
        return rc;
    struct store_objection o;
    if ((rc = lock_case(s, id)) != 0) {
        store_txn_rollback(&t);
        return rc;
    }
    if ((rc = store_objection_case(s, id, &o)) != 0) {
        if (rc == WEFT_ENOTFOUND)
            *why = "there is no objection with that id";
        store_txn_rollback(&t);
        return rc;
    }
    if (who->kind == PRINCIPAL_CITIZEN &&
        (!who->person_id || strcmp(who->person_id, o.person_id))) {
        *why = "you may only withdraw your own objection";
        store_objection_clear(&o);
        store_txn_rollback(&t);
        return WEFT_EDENIED;
    }
    if (strcmp(o.status, "lodged") != 0 && strcmp(o.status, "upheld") != 0) {
        *why = "the objection is already closed";
        store_objection_clear(&o);
        store_txn_rollback(&t);
        return WEFT_ECONFLICT;
    }
    char now[32], day[11], by[256];
    audit_now(now);
    memcpy(day, now, 10);
    day[10] = 0;
    objection_actor(who, by);
    free(o.status);
    o.status = xstrdup("withdrawn");
    o.withdrawn = xstrdup(now);
    o.withdrawn_by = xstrdup(by);
    o.withdrawn_reason = reason && *reason ? xstrdup(reason) : NULL;
    rc = store_objection_put(s, &o, NULL);
    if (rc == 0)
        rc = finish(s, &t, who, &o, now, "withdrawn", o.withdrawn_reason, day);
    else
        store_txn_rollback(&t);
    store_objection_clear(&o);
    return rc;
}

int objection_record(struct store *s, const struct principal *who, const char *person_id,
                     const char *status, const char *date, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    struct store_txn t;
    int rc = store_txn_begin(&t, s);
    if (rc)
        return rc;
    char now[32], due[11], by[256];
    audit_now(now);
    org_date_add_months(date, 1, due);
    objection_actor(who, by);
    struct store_objection o = {.person_id = (char *)person_id,
                                .org = "-",
                                .reason = "(recorded with weft objection set)",
                                .lodged = (char *)date,
                                .lodged_by = by,
                                .due = due,
                                .status = (char *)status};
    if ((rc = store_objection_put(s, &o, &o.id)) != 0) {
        store_txn_rollback(&t);
        return rc;
    }
    struct buf detail = BUF_INIT;
    buf_addf(&detail, "status=%s date=%s", status, date);
    rc = finish(s, &t, who, &o, now, "set", detail.data, date);
    buf_release(&detail);
    return rc;
}
