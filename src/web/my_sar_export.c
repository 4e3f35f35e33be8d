/*
 * my_sar_export.c - writes the subject access package (see sar_export.h).
 *
 * Two passes over the person's items, both paged through the store at one
 * snapshot so they agree: the first writes record.json and the reviewer's
 * note in store order and learns which (category, organisation) pairs
 * exist; the second writes record.html one pair at a time, in the order the
 * clinician's pages list categories, newest first within a pair.  Items are
 * rendered with the clinician view's formatting functions (web/fmt.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "access/authz.h"
#include "access/policy.h"
#include "core/principal.h"
#include "access/read.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "domain/category.h"
#include "domain/systems.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/records.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/sar_export.h"
#include "web/web_int.h"

#define PAGE 256

struct pair {
    char category[40];
    char org[16];
};

struct exp {
    struct store *s;
    struct access_read *rd; /* the one scoped-read path (access/read.h) */
    const struct policy *pol;
    const char *person_id;
    int64_t snapshot;
    FILE *json, *html, *csv, *note;
    bool first_entry;
    struct pair *pairs;
    int npairs, cap;
    struct sar_export_stats st;
};

/* The labels ("system|code") of res's meta.security and meta.tag into
 * b (NUL-separated) and pointers into labels; returns the count. */
static int item_labels(const json_t *res, struct buf *b, const char **labels, int max)
{
    const json_t *meta = json_object_get(res, "meta");
    static const char *const keys[] = {"security", "tag"};
    size_t offs[64];
    int n = 0;
    for (int k = 0; k < 2; k++) {
        const json_t *arr = json_object_get(meta, keys[k]);
        size_t i;
        const json_t *c;
        json_array_foreach(arr, i, c)
        {
            const char *sys = json_string_value(json_object_get(c, "system"));
            const char *code = json_string_value(json_object_get(c, "code"));
            if (!code || n >= max || n >= 64)
                continue;
            offs[n++] = b->len;
            buf_addf(b, "%s|%s", sys ? sys : "", code);
            buf_addc(b, 0);
        }
    }
    for (int i = 0; i < n; i++)
        labels[i] = b->data + offs[i];
    return n;
}

/* The policy's reason to withhold row (parsed as res) from the person, or NULL. */
static const char *withhold_reason(const struct exp *e, const struct store_row *row,
                                   const json_t *res)
{
    struct buf b = BUF_INIT;
    const char *labels[32];
    int n = item_labels(res, &b, labels, 32);
    const char *why = policy_citizen_withhold(e->pol, row->category, labels, n);
    buf_release(&b);
    return why;
}

static void csv_field(FILE *f, const char *v, bool last)
{
    fputc('"', f);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
    }
    fputc('"', f);
    fputc(last ? '\n' : ',', f);
}

static void note_pair(struct exp *e, const char *cat, const char *org)
{
    for (int i = 0; i < e->npairs; i++)
        if (strcmp(e->pairs[i].category, cat) == 0 && strcmp(e->pairs[i].org, org) == 0)
            return;
    if (e->npairs == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 32;
        e->pairs = xrealloc(e->pairs, sizeof *e->pairs * (size_t)e->cap);
    }
    struct pair *p = &e->pairs[e->npairs++];
    snprintf(p->category, sizeof p->category, "%s", cat);
    snprintf(p->org, sizeof p->org, "%s", org);
}

/* Page through the person's current items (categories/orgs: NULL = all),
 * calling fn for each with its parsed resource. */
static int each_item(struct exp *e, const char *cat, const char *org, enum store_sort sort,
                     int (*fn)(struct exp *, const struct store_row *, json_t *))
{
    const char *cats[1] = {cat}, *orgs[1] = {org};
    struct store_query q = {.person_id = e->person_id,
                            .categories = cat ? cats : NULL,
                            .ncategories = cat ? 1 : 0,
                            .source_orgs = org ? orgs : NULL,
                            .nsource_orgs = org ? 1 : 0,
                            .sort = sort,
                            .snapshot = e->snapshot,
                            .limit = PAGE};
    char *after = NULL;
    int rc = 0;
    do {
        q.after = after;
        struct store_result r = {0};
        if ((rc = access_read_search(e->rd, &q, &r)) != 0) {
            free(after);
            return rc;
        }
        e->snapshot = q.snapshot = r.snapshot;
        free(after);
        after = r.next ? xstrdup(r.next) : NULL;
        for (int i = 0; rc == 0 && i < r.nrows; i++) {
            const struct store_row *row = &r.rows[i];
            if (row->deleted)
                continue;
            json_t *res = json_loadb(row->json, row->json_len, 0, NULL);
            if (json_is_object(res))
                rc = fn(e, row, res);
            json_decref(res);
        }
        store_result_clear(&r);
    } while (rc == 0 && after);
    free(after);
    return rc;
}

static int json_item(struct exp *e, const struct store_row *row, json_t *res)
{
    const char *why = withhold_reason(e, row, res);
    if (why) {
        e->st.withheld++;
        struct buf ref = BUF_INIT;
        buf_addf(&ref, "%s/%s", row->type, row->id);
        csv_field(e->note, ref.data, false);
        csv_field(e->note, row->category, false);
        csv_field(e->note, row->source_org, false);
        csv_field(e->note, row->effective, false);
        csv_field(e->note, why, true);
        buf_release(&ref);
        return 0;
    }
    e->st.items++;
    fprintf(e->json,
            "%s\n  {\"extension\": [{\"url\": \"" SOURCE_ORG_EXTENSION "\", \"valueIdentifier\": "
            "{\"system\": \"" ODS_SYSTEM "\", \"value\": ",
            e->first_entry ? "" : ",");
    json_t *ods = json_string(row->source_org ? row->source_org : "");
    json_dumpf(ods, e->json, JSON_ENCODE_ANY);
    json_decref(ods);
    fputs("}}],\n   \"resource\": ", e->json);
    fwrite(row->json, 1, row->json_len, e->json);
    fputc('}', e->json);
    e->first_entry = false;
    note_pair(e, row->category, row->source_org ? row->source_org : "");
    return 0;
}

static int html_item(struct exp *e, const struct store_row *row, json_t *res)
{
    if (withhold_reason(e, row, res))
        return 0;
    struct buf b = BUF_INIT, title = BUF_INIT, detail = BUF_INIT, date = BUF_INIT;
    fmt_resource_title(&title, res);
    fmt_resource_detail(&detail, res);
    const char *d = fmt_resource_date(res);
    if (d)
        fmt_date(&date, d, false);
    const char *status = fmt_resource_status(res);
    html_addf(&b, "<tr><td>%s</td><td>%s<br><small>%s</small></td><td>%s</td><td>%s</td></tr>\n",
              date.len ? date.data : "-", title.data, fmt_type_label(row->type),
              detail.len ? detail.data : "", status ? status : "");
    fwrite(b.data, 1, b.len, e->html);
    buf_release(&b);
    buf_release(&title);
    buf_release(&detail);
    buf_release(&date);
    return 0;
}

static int cmp_pair_org(const void *a, const void *b)
{
    return strcmp(((const struct pair *)a)->org, ((const struct pair *)b)->org);
}

static void html_begin(struct exp *e, const char *nhs, const char *today)
{
    struct buf b = BUF_INIT, nhsf = BUF_INIT;
    if (nhs)
        fmt_nhs_number(&nhsf, nhs);
    html_raw(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>A copy of your health and care record</title>\n<style>\n"
                 "body{font-family:Arial,sans-serif;color:#212b32;margin:1rem auto;"
                 "max-width:60rem;padding:0 1rem;line-height:1.5}\n"
                 "table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}\n"
                 "th,td{border-bottom:1px solid #d8dde0;padding:.4rem;text-align:left;"
                 "vertical-align:top}\nh2{border-top:4px solid #005eb8;padding-top:.5rem}\n"
                 ".notice{border-left:8px solid #ffeb3b;padding:.5rem 1rem;background:#fff9c4}\n"
                 "@media print{h2{break-before:auto}tr{break-inside:avoid}a{color:inherit}}\n"
                 "</style></head><body>\n<main>\n");
    html_addf(&b,
              "<h1>A copy of your health and care record</h1>\n"
              "<p>NHS number: <strong>%s</strong>. Made on %s in answer to your request for "
              "a copy of your information.</p>\n"
              "<p>This copy holds everything the shared care record keeps about you, from every "
              "organisation that sends information to it, grouped by the kind of information "
              "and then by where it came from.</p>\n",
              nhsf.len ? nhsf.data : "not recorded", today);
    fwrite(b.data, 1, b.len, e->html);
    buf_release(&b);
    buf_release(&nhsf);
}

/* One category's sections, one per source organisation, in org order. */
static int html_category(struct exp *e, const char *cat, const char *label)
{
    int rc = 0;
    bool heading = false;
    for (int k = 0; rc == 0 && k < e->npairs; k++) {
        if (strcmp(e->pairs[k].category, cat) != 0)
            continue;
        struct buf b = BUF_INIT;
        if (!heading)
            html_addf(&b, "<h2>%s</h2>\n", label);
        heading = true;
        struct store_org o = {0};
        const char *name =
            store_org_get(e->s, e->pairs[k].org, &o) == 0 && o.name ? o.name : e->pairs[k].org;
        html_addf(&b,
                  "<h3>From %s (%s)</h3>\n<table><thead><tr><th scope=\"col\">Date</th>"
                  "<th scope=\"col\">What</th><th scope=\"col\">Details</th>"
                  "<th scope=\"col\">Status</th></tr></thead><tbody>\n",
                  name, e->pairs[k].org);
        store_org_clear(&o);
        fwrite(b.data, 1, b.len, e->html);
        buf_release(&b);
        rc = each_item(e, cat, e->pairs[k].org, STORE_SORT_DATE_DESC, html_item);
        fputs("</tbody></table>\n", e->html);
    }
    return rc;
}

static int write_html(struct exp *e)
{
    qsort(e->pairs, (size_t)e->npairs, sizeof *e->pairs, cmp_pair_org);
    int ncat;
    const struct web_category *cats = web_categories(&ncat);
    int rc = 0;
    /* the clinician view's order, then any category it does not list */
    for (int i = 0; rc == 0 && i < ncat; i++)
        rc = html_category(e, cats[i].name, cats[i].label);
    for (int i = 0; rc == 0 && category_names[i]; i++)
        if (!web_category_find(category_names[i]))
            rc = html_category(e, category_names[i], category_names[i]);
    return rc;
}

/* Break-glass windows seen so far in the person's log (seq order): a view
 * by the same user and organisation inside one is emergency access, whatever
 * purpose the view itself recorded. */
#define MAX_GLASS 64
struct access_ctx {
    FILE *f;
    int64_t n;
    int nglass;
    struct glass {
        char user[96], org[16], until[32], code[48];
    } glass[MAX_GLASS];
};

/* The reason category of a break-glass entry ("CODE: text (until T)"). */
static void glass_note(struct access_ctx *a, const struct store_audit_row *r)
{
    struct glass *g = &a->glass[a->nglass < MAX_GLASS ? a->nglass++ : MAX_GLASS - 1];
    const char *reason = r->reason ? r->reason : "";
    size_t n = strcspn(reason, ":");
    snprintf(g->user, sizeof g->user, "%s", r->user_id ? r->user_id : "");
    snprintf(g->org, sizeof g->org, "%s", r->org ? r->org : "");
    snprintf(g->code, sizeof g->code, "%.*s", (int)(n < 47 ? n : 47), reason);
    const char *u = strstr(reason, "(until ");
    snprintf(g->until, sizeof g->until, "%.24s", u ? u + 7 : "");
}

static const char *glass_code(const struct access_ctx *a, const struct store_audit_row *r)
{
    for (int i = a->nglass - 1; i >= 0; i--) {
        const struct glass *g = &a->glass[i];
        if (r->user_id && r->org && strcmp(g->user, r->user_id) == 0 &&
            strcmp(g->org, r->org) == 0 && r->time && strcmp(r->time, g->until) < 0)
            return g->code;
    }
    return NULL;
}

static int access_row(const struct store_audit_row *r, void *ctx)
{
    struct access_ctx *a = ctx;
    bool is_glass = r->action && strcmp(r->action, AUDIT_BREAK_GLASS) == 0;
    if (is_glass && r->outcome && strcmp(r->outcome, AUDIT_OK) == 0)
        glass_note(a, r);
    const char *code = glass_code(a, r);
    bool emergency = code || (r->purpose && strcmp(r->purpose, "ETREAT") == 0);
    char em[64] = "";
    if (emergency)
        snprintf(em, sizeof em, "yes%s%s", code && *code ? ": " : "", code ? code : "");
    char count[24] = "";
    if (r->count >= 0)
        snprintf(count, sizeof count, "%lld", (long long)r->count);
    csv_field(a->f, r->time, false);
    csv_field(a->f, r->action, false);
    csv_field(a->f, r->outcome, false);
    csv_field(a->f, r->org ? r->org : (r->client ? r->client : ""), false);
    csv_field(a->f, r->role, false);
    csv_field(a->f, r->purpose, false);
    csv_field(a->f, r->what, false);
    csv_field(a->f, count, false);
    csv_field(a->f, em, true);
    a->n++;
    return 0;
}

static FILE *open_out(const char *dir, const char *name, char **errmsg)
{
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s", dir, name);
    FILE *f = fopen(p.data, "w");
    if (!f && errmsg) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "cannot write '%s': %s", p.data, strerror(errno));
        *errmsg = buf_detach(&m, NULL);
    }
    buf_release(&p);
    return f;
}

int sar_export_write(struct store *s, const struct principal *who, const char *person_id,
                     int64_t sar_id, const char *dir, struct sar_export_stats *stats, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    /* the read is the person's own: the one authorisation point decides */
    struct principal self = *who;
    self.kind = PRINCIPAL_CITIZEN;
    self.person_id = person_id;
    if (!self.purpose)
        self.purpose = "PATRQT";
    struct access_read rd;
    int rc = access_read_open(&rd, s, &self, AUDIT_EXPORT, person_id);
    bool allowed = rc == 0 && rd.scope.allowed;
    if (rc || !allowed) {
        access_read_close(&rd);
        return rc ? rc : WEFT_EDENIED;
    }
    struct exp e = {.s = s, .rd = &rd, .person_id = person_id, .first_entry = true};
    if ((rc = policy_current(s, &e.pol, NULL)) != 0 && rc != WEFT_ENOTFOUND) {
        access_read_close(&rd);
        return rc;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        if (errmsg) {
            struct buf m = BUF_INIT;
            buf_addf(&m, "cannot create '%s': %s", dir, strerror(errno));
            *errmsg = buf_detach(&m, NULL);
        }
        access_read_close(&rd);
        return WEFT_EIO;
    }
    e.json = open_out(dir, "record.json", errmsg);
    e.html = e.json ? open_out(dir, "record.html", errmsg) : NULL;
    e.csv = e.html ? open_out(dir, "access-log.csv", errmsg) : NULL;
    e.note = e.csv ? open_out(dir, "reviewer-note.csv", errmsg) : NULL;
    rc = e.note ? 0 : WEFT_EIO;
    char now[32], today[11];
    audit_now(now);
    memcpy(today, now, 10);
    today[10] = 0;
    struct store_person person = {0};
    if (rc == 0)
        rc = store_person_get(s, person_id, &person);
    if (rc == 0) {
        fprintf(e.json,
                "{\"resourceType\": \"Bundle\", \"type\": \"collection\", \"timestamp\": \"%s\","
                "\n \"entry\": [",
                now);
        fputs("\"item\",\"category\",\"source_org\",\"date\",\"why withheld\"\n", e.note);
        rc = each_item(&e, NULL, NULL, STORE_SORT_ID, json_item);
        fputs("\n]}\n", e.json);
    }
    if (rc == 0) {
        html_begin(&e, person.nhs, today);
        if (e.st.withheld > 0)
            fputs("<p class=\"notice\">Some information has not been included in this copy. "
                  "The law allows information to be withheld, for example when it is about "
                  "someone else or when sharing it could cause serious harm. The person who "
                  "dealt with your request has a note of what was withheld and why; you can "
                  "ask them about it.</p>\n",
                  e.html);
        if (e.npairs == 0)
            fputs("<p>The record holds no information about you that can be shown here.</p>\n",
                  e.html);
        rc = write_html(&e);
        fputs("<h2>Who has looked at your record</h2>\n<p>The file access-log.csv in this copy "
              "lists every time your record was opened or searched: when, by which "
              "organisation, in which job role, for what purpose, and what they saw. "
              "Emergency access is marked.</p>\n</main></body></html>\n",
              e.html);
    }
    if (rc == 0) {
        fputs("\"time\",\"action\",\"outcome\",\"organisation\",\"role\",\"purpose\","
              "\"what\",\"count\",\"emergency\"\n",
              e.csv);
        struct access_ctx *a = xcalloc(1, sizeof *a);
        a->f = e.csv;
        rc = store_audit_person(s, person_id, access_row, a);
        e.st.accesses = a->n;
        free(a);
    }
    FILE *files[] = {e.json, e.html, e.csv, e.note};
    for (int i = 0; i < 4; i++)
        if (files[i] && (ferror(files[i]) | fclose(files[i])) && rc == 0) {
            rc = WEFT_EIO;
            if (errmsg && !*errmsg)
                *errmsg = xstrdup("writing the package failed (disk full?)");
        }
    store_person_clear(&person);
    free(e.pairs);
    access_read_close(&rd);
    if (rc)
        return rc;
    /* producing the package is itself an access: audited as an export */
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, &self);
    struct buf what = BUF_INIT, reason = BUF_INIT;
    buf_addf(&what, "subject-access-request %lld: record.json record.html access-log.csv",
             (long long)sar_id);
    buf_addf(&reason, "subject access package: %lld items, %lld withheld", (long long)e.st.items,
             (long long)e.st.withheld);
    ev.action = AUDIT_EXPORT;
    ev.outcome = AUDIT_OK;
    ev.person_id = person_id;
    ev.what = what.data;
    ev.count = e.st.items;
    ev.reason = reason.data;
    rc = audit_record(s, &ev, true);
    buf_release(&what);
    buf_release(&reason);
    if (stats)
        *stats = e.st;
    return rc;
}
