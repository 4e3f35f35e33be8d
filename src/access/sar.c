/*
 * sar.c - the subject access request lifecycle (see sar.h).  Rare writes by
 * people: each waits for its audit entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/org.h"
#include "core/principal.h"
#include "access/proxy.h"
#include "access/sar.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/citizen.h"

static void actor(const struct principal *who, char out[256])
{
    if (who->kind == PRINCIPAL_USER)
        snprintf(out, 256, "%s (%s)", who->user_id ? who->user_id : "?",
                 who->role ? who->role : "?");
    else if (who->kind == PRINCIPAL_CITIZEN && who->proxy_grant)
        snprintf(out, 256, "their proxy (proxy grant %lld)", (long long)who->proxy_grant);
    else if (who->kind == PRINCIPAL_CITIZEN)
        snprintf(out, 256, "the person");
    else
        snprintf(out, 256, "%s", who->client_name ? who->client_name : "client");
}

static int audit_step(struct store *s, const struct principal *who, const char *person_id,
                      int64_t id, const char *text)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, who);
    struct buf what = BUF_INIT;
    buf_addf(&what, "subject-access-request %lld", (long long)id);
    ev.action = AUDIT_ADMIN;
    ev.outcome = AUDIT_OK;
    ev.person_id = person_id;
    ev.what = what.data;
    ev.count = -1;
    ev.reason = text;
    int rc = audit_record(s, &ev, true);
    buf_release(&what);
    return rc;
}

bool sar_overdue(const struct store_sar *r, const char *today)
{
    return r->status && strcmp(r->status, "completed") != 0 && r->due && strcmp(today, r->due) > 0;
}

int sar_create(struct store *s, const struct principal *who, const char *person_id,
               const char *received, int64_t *id_out, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    int prc = proxy_check(s, who, PROXY_SCOPE_COPY, why); /* 0 unless a proxy */
    if (prc)
        return prc;
    char today[11], due[11], now[32], by[256];
    org_day(time(NULL), today);
    if (!org_date_valid(received) || strcmp(received, today) > 0) {
        *why = "--received must be a date YYYY-MM-DD, not in the future";
        return WEFT_EINVAL;
    }
    org_date_add_months(received, 1, due);
    audit_now(now);
    actor(who, by);
    struct store_sar r = {.person_id = (char *)person_id,
                          .received = (char *)received,
                          .due = due,
                          .status = "open",
                          .created = now,
                          .created_by = by};
    int64_t id = 0;
    int rc = store_sar_put(s, &r, &id);
    if (rc)
        return rc;
    char text[96];
    snprintf(text, sizeof text, "subject access request received %s, due %s", received, due);
    rc = audit_step(s, who, person_id, id, text);
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

int sar_extend(struct store *s, const struct principal *who, int64_t id, int months,
               const char *reason, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    if (months < 1 || months > 2) {
        *why = "--months is 1 or 2 (at most two further months in all)";
        return WEFT_EINVAL;
    }
    if (!reason || !*reason || strlen(reason) > 2000) {
        *why = "give the reason for the extension (at most 2000 characters)";
        return WEFT_EINVAL;
    }
    struct store_sar r;
    int rc = store_sar_get(s, id, &r);
    if (rc == WEFT_ENOTFOUND)
        *why = "there is no subject access request with that id";
    if (rc)
        return rc;
    char first_due[11], due[11];
    org_date_add_months(r.received, 1, first_due);
    /* the extension counts from the original due date; months already
     * granted are counted by comparing the current due date */
    int granted = strcmp(r.due, first_due) == 0 ? 0 : -1;
    for (int m = 1; granted < 0 && m <= 2; m++) {
        char d[11];
        org_date_add_months(r.received, 1 + m, d);
        if (strcmp(d, r.due) == 0)
            granted = m;
    }
    if (strcmp(r.status, "completed") == 0) {
        *why = "the request is already completed";
        rc = WEFT_ECONFLICT;
    } else if (granted < 0 || granted + months > 2) {
        *why = "an extension may add at most two further months in all";
        rc = WEFT_ECONFLICT;
    }
    if (rc == 0) {
        org_date_add_months(r.received, 1 + granted + months, due);
        free(r.due);
        r.due = xstrdup(due);
        free(r.status);
        r.status = xstrdup("extended");
        free(r.extension_reason);
        r.extension_reason = xstrdup(reason);
        rc = store_sar_put(s, &r, NULL);
        if (rc == 0) {
            struct buf text = BUF_INIT;
            buf_addf(&text, "subject access request extended to %s: %s", due, reason);
            rc = audit_step(s, who, r.person_id, id, text.data);
            buf_release(&text);
        }
    }
    store_sar_clear(&r);
    return rc;
}

int sar_complete(struct store *s, int64_t id, const char *dir)
{
    struct store_sar r;
    int rc = store_sar_get(s, id, &r);
    if (rc)
        return rc;
    char now[32];
    audit_now(now);
    free(r.status);
    r.status = xstrdup("completed");
    free(r.completed);
    r.completed = xstrdup(now);
    free(r.package);
    char *abs = realpath(dir, NULL);
    r.package = abs ? abs : xstrdup(dir);
    rc = store_sar_put(s, &r, NULL);
    store_sar_clear(&r);
    return rc;
}
