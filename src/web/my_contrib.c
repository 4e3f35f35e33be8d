/*
 * my_contrib.c - GET/POST /my/contribute: what a signed-in person (P9) adds
 * to their own record - home readings (blood pressure, weight, blood
 * glucose), their care preferences and what matters to them - and the list
 * of what they have added.
 *
 * The resources are shaped and validated by domain/contrib.h and stored
 * through the one write path (fhir_load_bundle) with the person as their
 * source: organisation CONTRIB_SOURCE ("patient", not an ODS code, so no
 * organisation or feed can send under it), feed CONTRIB_FEED.  They link to
 * the person through their own Patient (read through the scoped-read path,
 * as every read of the record is).  Each addition is audited (action write,
 * the person as the actor); the list is read through access_read_* and
 * audited.  A value outside the plausible range, a date in the future, an
 * empty text or a form without the session's CSRF token is refused with the
 * page saying why and the values typed kept; nothing is stored.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "access/read.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/url.h"
#include "domain/contrib.h"
#include "fhir/load.h"
#include "http/server.h"
#include "store/records.h"
#include "store/txn.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/my.h"
#include "web/my_int.h"

#define LIST_MAX 200

/* The person's own Patient to refer to ("Patient/{weft id}"), read as them. */
static int patient_ref(struct store *s, const struct my_citizen *c, char out[128])
{
    struct store_query q = {.type = "Patient", .person_id = c->ss.person_id, .limit = 1};
    struct store_result r = {0};
    struct access_read_result res;
    int rc = access_read(s, &c->p, AUDIT_READ, c->ss.person_id, &q, &r, &res);
    if (rc == 0 && (res.refused || r.nrows == 0))
        rc = WEFT_ENOTFOUND;
    if (rc == 0)
        snprintf(out, 128, "Patient/%s", r.rows[0].id);
    store_result_clear(&r);
    return rc;
}

/* The values a refused form sent, to show again. */
struct typed {
    int kind;
    const char *value, *value2, *when, *text;
};

static void field(struct buf *b, const char *id, const char *name, const char *label,
                  const char *hint, const char *value, const char *inputmode)
{
    html_addf(b,
              "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"%s\">%s</label>"
              "<div class=\"nhsuk-hint\" id=\"%s-hint\">%s</div><input class=\"nhsuk-input "
              "nhsuk-input--width-10\" id=\"%s\" name=\"%s\" type=\"text\" inputmode=\"%s\" "
              "autocomplete=\"off\" aria-describedby=\"%s-hint\" value=\"%s\"></div>",
              id, label, id, hint ? hint : "", id, name, inputmode, id, value ? value : "");
}

static void form_open(struct buf *b, const struct my_citizen *c, const char *kind,
                      const char *heading)
{
    html_addf(b,
              "<h2 id=\"h-%s\">%s</h2><form method=\"post\" action=\"/my/contribute\" "
              "id=\"form-%s\"><input type=\"hidden\" name=\"csrf\" value=\"%s\"><input "
              "type=\"hidden\" name=\"kind\" value=\"%s\">",
              kind, heading, kind, c->ss.csrf, kind);
}

static void form_close(struct buf *b, const char *kind, const char *button)
{
    html_addf(b, "<button class=\"nhsuk-button\" type=\"submit\" id=\"add-%s\">%s</button></form>",
              kind, button);
}

static void when_field(struct buf *b, const char *kind, const struct typed *t, const char *today)
{
    char id[32];
    snprintf(id, sizeof id, "%s-when", kind);
    field(b, id, "when", "When you took it",
          "For example 2026-03-14, or with the time 2026-03-14T08:30 (UK time as UTC).",
          t && t->when ? t->when : today, "text");
}

static void forms(struct buf *b, const struct my_citizen *c, const struct typed *t,
                  const char *today)
{
    const struct typed *bp = t && t->kind == CONTRIB_BP ? t : NULL;
    const struct typed *w = t && t->kind == CONTRIB_WEIGHT ? t : NULL;
    const struct typed *g = t && t->kind == CONTRIB_GLUCOSE ? t : NULL;
    const struct typed *pr = t && t->kind == CONTRIB_PREFERENCE ? t : NULL;
    const struct typed *m = t && t->kind == CONTRIB_MATTERS ? t : NULL;
    form_open(b, c, "bp", "Add a blood pressure reading");
    field(b, "bp-value", "value", "Upper number (systolic), mmHg", NULL, bp ? bp->value : NULL,
          "numeric");
    field(b, "bp-value2", "value2", "Lower number (diastolic), mmHg", NULL, bp ? bp->value2 : NULL,
          "numeric");
    when_field(b, "bp", bp, today);
    form_close(b, "bp", "Add blood pressure");
    form_open(b, c, "weight", "Add your weight");
    field(b, "weight-value", "value", "Weight in kilograms", NULL, w ? w->value : NULL, "decimal");
    when_field(b, "weight", w, today);
    form_close(b, "weight", "Add weight");
    form_open(b, c, "glucose", "Add a blood glucose reading");
    field(b, "glucose-value", "value", "Blood glucose in mmol/L", NULL, g ? g->value : NULL,
          "decimal");
    when_field(b, "glucose", g, today);
    form_close(b, "glucose", "Add blood glucose");
    form_open(b, c, "matters", "What matters to you");
    html_addf(b,
              "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
              "for=\"matters-text\">Tell the people caring for you what matters most to you"
              "</label><textarea class=\"nhsuk-textarea\" id=\"matters-text\" name=\"text\" "
              "rows=\"3\" maxlength=\"1000\">%s</textarea></div>",
              m && m->text ? m->text : "");
    form_close(b, "matters", "Add what matters to me");
    form_open(b, c, "preference", "Your care preferences");
    html_addf(b,
              "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
              "for=\"preference-text\">How you would like to be cared for (for example, "
              "appointment times, who to contact, how you like to be spoken to)</label><textarea "
              "class=\"nhsuk-textarea\" id=\"preference-text\" name=\"text\" rows=\"3\" "
              "maxlength=\"1000\">%s</textarea></div>",
              pr && pr->text ? pr->text : "");
    form_close(b, "preference", "Add my preference");
}

/* What the person has added, newest first (read as them, audited). */
static int added_list(struct store *s, const struct my_citizen *c, struct buf *b)
{
    static const char *const src[] = {CONTRIB_SOURCE};
    struct store_query q = {.person_id = c->ss.person_id,
                            .source_orgs = src,
                            .nsource_orgs = 1,
                            .sort = STORE_SORT_DATE_DESC,
                            .limit = LIST_MAX};
    struct store_result r = {0};
    struct access_read_result res;
    int rc = access_read(s, &c->p, AUDIT_READ, c->ss.person_id, &q, &r, &res);
    if (rc != 0) {
        store_result_clear(&r);
        return rc;
    }
    html_raw(b, "<h2 id=\"h-added\">What you have added</h2>");
    int shown = 0;
    for (int i = 0; i < r.nrows; i++) {
        const struct store_row *row = &r.rows[i];
        if (row->deleted || strcmp(row->type, "Patient") == 0)
            continue;
        json_t *j = json_loadb(row->json, row->json_len, 0, NULL);
        if (!j)
            continue;
        if (shown++ == 0)
            html_raw(b, "<table class=\"nhsuk-table\" id=\"added\"><caption "
                        "class=\"nhsuk-table__caption nhsuk-u-visually-hidden\">What you have "
                        "added, newest first</caption><thead class=\"nhsuk-table__head\"><tr>"
                        "<th scope=\"col\">Date</th><th scope=\"col\">What</th>"
                        "<th scope=\"col\">Value</th></tr></thead><tbody "
                        "class=\"nhsuk-table__body\">");
        struct buf t = BUF_INIT, v = BUF_INIT, d = BUF_INIT;
        fmt_resource_title(&t, j);
        const char *vs = json_string_value(json_object_get(j, "valueString"));
        const char *desc =
            json_string_value(json_object_get(json_object_get(j, "description"), "text"));
        if (vs)
            buf_adds(&v, vs);
        else if (desc)
            buf_adds(&v, desc);
        else
            fmt_obs_value(&v, j);
        const char *iso = fmt_resource_date(j);
        if (iso)
            fmt_date(&d, iso, strlen(iso) > 10);
        html_addf(b,
                  "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">%s</td><td "
                  "class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
                  "</tr>",
                  d.len ? d.data : "", t.data, v.data ? v.data : "");
        buf_release(&t);
        buf_release(&v);
        buf_release(&d);
        json_decref(j);
    }
    if (shown)
        html_raw(b, "</tbody></table>");
    else
        html_raw(b, "<p id=\"added-none\">You have not added anything yet.</p>");
    store_result_clear(&r);
    return 0;
}

/* A contribution's load as a unit of work (store_txn_run, store/txn.h):
 * rolled back whole and done again once when it met another writer; the
 * loader rewrites the Bundle in place, so each attempt loads a fresh copy. */
struct contrib_unit {
    const json_t *bundle;
    const struct load_ctx *lc;
};

static int contrib_work(struct store *s, void *arg, int attempt)
{
    (void)attempt;
    const struct contrib_unit *u = arg;
    json_t *b = json_deep_copy(u->bundle);
    if (!b)
        return WEFT_ENOMEM;
    struct load_report rep;
    load_report_init(&rep);
    int rc = fhir_load_bundle(s, b, u->lc, &rep, NULL);
    if (rc == 0 && rep.rejected > 0)
        rc = WEFT_EINVAL;
    load_report_free(&rep);
    json_decref(b);
    return rc;
}

/* Store res (taken) through the loading pipeline with the person as source,
 * and audit it (after the unit: once, whatever the retries).  0, or an
 * error (nothing stored). */
static int store_contribution(struct store *s, const struct my_citizen *c, json_t *res,
                              const char *id)
{
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    char url[96];
    snprintf(url, sizeof url, "%s/%s", type, id);
    json_t *bundle =
        json_pack("{s:s, s:s, s:[{s:o, s:{s:s, s:s}}]}", "resourceType", "Bundle", "type",
                  "transaction", "entry", "resource", res, "request", "method", "PUT", "url", url);
    struct load_ctx lc = {.org = CONTRIB_SOURCE, .feed = CONTRIB_FEED, .nested = true};
    struct contrib_unit u = {.bundle = bundle, .lc = &lc};
    int rc = store_txn_run(s, "contribution", contrib_work, &u);
    json_decref(bundle);
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, &c->p);
    ev.action = AUDIT_WRITE;
    ev.outcome = rc == 0 ? AUDIT_OK : AUDIT_FAILED;
    ev.person_id = c->ss.person_id;
    struct buf what = BUF_INIT;
    buf_addf(&what, "entered by the patient: %s", url);
    ev.what = what.data;
    ev.count = rc == 0 ? 1 : 0;
    int arc = audit_record(s, &ev, true);
    buf_release(&what);
    return rc ? rc : arc;
}

int my_contribute_page(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct my_citizen c;
    if (!s || my_citizen_get(req, s, &c) != 0)
        return my_unavailable(req);
    if (!c.p9) {
        my_need_p9(req, s, &c);
        my_citizen_clear(&c);
        return 0;
    }
    if (c.proxy) {
        /* a person's own contributions are theirs alone: no proxy scope covers adding to
         * someone else's record, so a proxy is refused (audited) and sent back */
        struct audit_event ev = {0};
        audit_event_from_principal(&ev, &c.p);
        ev.action = AUDIT_WRITE;
        ev.outcome = AUDIT_DENIED;
        ev.person_id = c.p.person_id;
        ev.what = "entered by the patient";
        ev.reason = "a proxy may not add to the person's own contributions";
        audit_record(s, &ev, true);
        struct buf body = BUF_INIT;
        html_raw(&body, "<h1>You cannot do this as a proxy</h1><p id=\"proxy-refused\">Only the "
                        "person can add their own readings, preferences and what matters to "
                        "them. Switch back to your own record to add to it.</p>"
                        "<p><a href=\"/my\">Go to the home page</a></p>");
        my_page(req, 403, "You cannot do this", &c, &body);
        buf_release(&body);
        my_citizen_clear(&c);
        return 0;
    }
    char now[32], today[11];
    audit_now(now);
    snprintf(today, sizeof today, "%.10s", now);
    const char *error = NULL;
    int status = 200;
    struct url_kv *kv = NULL;
    int n = 0;
    struct typed t = {.kind = -1};
    if (strcmp(req->method, "POST") == 0) {
        if (!my_form_ok(req, s, &c, &kv, &n)) {
            url_kv_free(kv, n);
            my_citizen_clear(&c);
            return 0;
        }
        t = (struct typed){.kind = contrib_kind_parse(my_kv_get(kv, n, "kind")),
                           .value = my_kv_get(kv, n, "value"),
                           .value2 = my_kv_get(kv, n, "value2"),
                           .when = my_kv_get(kv, n, "when"),
                           .text = my_kv_get(kv, n, "text")};
        char pref[128];
        int rc = patient_ref(s, &c, pref);
        if (rc == WEFT_ENOTFOUND) {
            error = "there is no record of you here yet to add to";
            status = 409;
        } else if (rc) {
            url_kv_free(kv, n);
            my_citizen_clear(&c);
            return my_unavailable(req);
        } else {
            unsigned char rnd[8];
            char id[24];
            RAND_bytes(rnd, sizeof rnd);
            snprintf(id, sizeof id, "c-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                     rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
            struct contrib_input in = {.kind = (enum contrib_kind)t.kind,
                                       .value = t.value,
                                       .value2 = t.value2,
                                       .when = t.when,
                                       .text = t.text};
            json_t *res = t.kind >= 0 ? contrib_build(&in, id, pref, now, &error) : NULL;
            if (t.kind < 0)
                error = "choose what you are adding";
            if (!res) {
                status = 400;
            } else if (store_contribution(s, &c, res, id) != 0) {
                error = "it could not be saved just now: try again";
                status = 500;
            } else {
                char to[64];
                snprintf(to, sizeof to, "/my/contribute?added=%s", my_kv_get(kv, n, "kind"));
                http_reply_header(req, "Location", to);
                http_reply(req, 303, "text/plain", "", 0);
                url_kv_free(kv, n);
                my_citizen_clear(&c);
                return 0;
            }
        }
    }
    struct buf body = BUF_INIT;
    html_raw(&body, "<h1>Add to your record</h1>");
    if (error)
        html_addf(&body,
                  "<div class=\"nhsuk-error-summary\" role=\"alert\" tabindex=\"-1\" "
                  "id=\"contrib-error\"><h2 class=\"nhsuk-error-summary__title\">There is a "
                  "problem</h2><div class=\"nhsuk-error-summary__body\"><p>Nothing was added: "
                  "%s.</p></div></div>",
                  error);
    else if (http_req_arg(req, "added"))
        html_raw(&body, "<div class=\"nhsuk-inset-text\" id=\"contrib-added\" role=\"status\">"
                        "<p>Added to your record. The people caring for you see it marked "
                        "\"entered by the patient\".</p></div>");
    html_raw(&body, "<p>What you add here is kept in your shared record with your own name as its "
                    "source. Doctors, nurses and carers who look at your record see it marked "
                    "<strong>entered by the patient</strong>, never mixed with test results. "
                    "If a reading worries you, contact your GP practice or call 111; in an "
                    "emergency call 999.</p>");
    forms(&body, &c, status == 200 ? NULL : &t, today);
    int rc = added_list(s, &c, &body);
    url_kv_free(kv, n);
    if (rc != 0) {
        buf_release(&body);
        my_citizen_clear(&c);
        return my_unavailable(req);
    }
    my_page(req, status, "Add to your record", &c, &body);
    buf_release(&body);
    my_citizen_clear(&c);
    return 0;
}
