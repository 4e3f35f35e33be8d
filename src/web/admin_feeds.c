/*
 * admin_feeds.c - the feeds console for integration engineers (admin.h):
 * the browser face of /admin/feeds, registered with the feeds' routes
 * (feeds/feeds_http.h feeds_console_set), which answer everyone else with
 * the JSON as before.
 *
 *   GET  /admin/feeds                         every feed: status, lag,
 *        throughput (a chart of 14 days), backlog, recent errors, CSV rows
 *   GET  /admin/feeds/{name}/messages?control=&type=&outcome=&date=&patient=&before=
 *        a feed's messages, newest first, searched
 *   GET  /admin/feeds/messages/{id}           one message: its outcome and
 *        errors, the raw message, its segments, the FHIR it maps to
 *   POST /admin/feeds/messages/{id}/replay    apply it again
 *   POST /admin/feeds/messages/{id}/resubmit  a corrected copy (HL7 v2)
 *
 * Who: launched staff.  Status and message lists (no content) for roles with
 * feeds-admin or audit-review; a message's content, a search by NHS number
 * or local identifier, replay and resubmit for feeds-admin only (the
 * integration profile in the default policy).  Every read of a message's
 * content and every content search is audited, as are replays and
 * resubmissions; refusals are audited denials.  Forms carry the session's
 * CSRF token (access_form_check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "access/access_serve.h"
#include "access/authz.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "feeds/feeds_http.h"
#include "feeds/hl7.h"
#include "feeds/hl7_map.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "feeds/registry.h"
#include "http/server.h"
#include "store/feeds.h"
#include "store/store.h"
#include "web/admin.h"
#include "web/chart.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

#define HISTORY_DAYS 14
#define PAGE_SIZE 50
#define RECENT_ERRORS 10

static struct web *fw;

/* ---- who ----------------------------------------------------------------------------- */

/* Launched staff who may see the console (feeds-admin or audit-review);
 * *admin says whether they may see content and act.  NULL after replying. */
static struct store *console_begin(struct http_req *req, bool *admin)
{
    if (!web_admin_user(req))
        return NULL;
    struct store *s = http_req_store(req);
    if (!s) {
        web_error_page(req, 503, "The service is not available at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes.");
        return NULL;
    }
    *admin = authz_may_admin_feeds(s, &req->principal);
    if (!*admin && !authz_may_review_audit(s, &req->principal)) {
        authz_audit_denial(s, &req->principal, AUDIT_READ, NULL,
                           "feeds console: role without feeds-admin or audit-review");
        web_error_page(req, 403, "You do not have permission to view this page",
                       "The feeds console is for integration engineers and information "
                       "governance.",
                       "Ask your integration team if you need access.");
        return NULL;
    }
    return s;
}

static void page_open(struct buf *b, const char *title)
{
    web_frame_begin(b, fw->service_name, title);
    html_raw(b, "<nav class=\"weft-nav\" aria-label=\"Feeds console\"><ul class=\"weft-nav__list\">"
                "<li class=\"weft-nav__item\"><a class=\"weft-nav__link\" href=\"/admin/feeds\">"
                "All feeds</a></li></ul></nav>");
    html_addf(b, "<h1>%s</h1>", title);
}

static void day_of(char out[11], long days_ago)
{
    time_t t = time(NULL) - days_ago * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jstr(json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : dflt;
}

static void cell(struct buf *b, const char *text)
{
    html_addf(b, "<td class=\"nhsuk-table__cell\">%s</td>", text);
}

static void cell_ll(struct buf *b, long long v)
{
    html_addf(b, "<td class=\"nhsuk-table__cell\">%lld</td>", v);
}

static void table_open(struct buf *b, const char *caption, const char *const *cols, int n)
{
    html_addf(b,
              "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption\">%s</caption>"
              "<thead class=\"nhsuk-table__head\"><tr>",
              caption);
    for (int i = 0; i < n; i++)
        html_addf(b, "<th scope=\"col\">%s</th>", cols[i]);
    html_raw(b, "</tr></thead><tbody class=\"nhsuk-table__body\">");
}

/* ---- GET /admin/feeds --------------------------------------------------------------------- */

static int page_status(struct http_req *req)
{
    bool admin = false;
    struct store *s = console_begin(req, &admin);
    if (!s)
        return 0;
    json_t *st = NULL;
    if (feed_registry_status_all(s, time(NULL), &st) != 0) {
        web_error_page(req, 500, "Feed status could not be read", store_errmsg(s),
                       "Try again in a few minutes.");
        return 0;
    }
    struct buf b = BUF_INIT;
    page_open(&b, "Feeds");
    json_t *feeds = json_object_get(st, "feeds");
    size_t nf = json_array_size(feeds);
    long long backlog = 0;
    for (size_t i = 0; i < nf; i++)
        backlog += jint(json_array_get(feeds, i), "backlog");
    html_addf(&b,
              "<p id=\"backlog\">Enhanced acknowledgement backlog (accepted, not yet applied): "
              "<strong>%lld</strong> message%s.</p>",
              backlog, backlog == 1 ? "" : "s");
    static const char *const cols[] = {"Feed",
                                       "Status",
                                       "Last message",
                                       "Received today / all",
                                       "Applied today / all",
                                       "Rejected today / all",
                                       "Backlog",
                                       "Mean lag, recent events",
                                       "Last error"};
    table_open(&b, "Status of each feed", cols, 9);
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_array_get(feeds, i);
        json_t *t = json_object_get(f, "today"), *a = json_object_get(f, "total");
        const char *name = jstr(f, "name", "");
        struct buf href = BUF_INIT;
        html_url_addf(&href, "/admin/feeds/%s/messages", name);
        html_addf(&b,
                  "<tr class=\"nhsuk-table__row\"><th scope=\"row\"><a href=\"%s\">%s</a> "
                  "<span class=\"nhsuk-body-s\">%s, %s</span></th>",
                  href.data, name, jstr(f, "kind", ""), jstr(f, "org", ""));
        buf_release(&href);
        bool on = json_is_true(json_object_get(f, "enabled"));
        bool agr = json_is_true(json_object_get(f, "agreement_in_force"));
        html_addf(&b, "<td class=\"nhsuk-table__cell\">%s%s</td>", on ? "enabled" : "disabled",
                  agr ? "" : "; no agreement in force");
        cell(&b, jstr(f, "last_received", "never"));
        char pair[64];
        snprintf(pair, sizeof pair, "%lld / %lld", jint(t, "received"), jint(a, "received"));
        cell(&b, pair);
        snprintf(pair, sizeof pair, "%lld / %lld", jint(t, "applied"), jint(a, "applied"));
        cell(&b, pair);
        snprintf(pair, sizeof pair, "%lld / %lld", jint(t, "rejected"), jint(a, "rejected"));
        cell(&b, pair);
        cell_ll(&b, jint(f, "backlog"));
        json_t *lag = json_object_get(a, "lag_recent_mean_ms");
        if (json_is_number(lag)) {
            char m[32];
            snprintf(m, sizeof m, "%.1f min", json_number_value(lag) / 60000.0);
            cell(&b, m);
        } else {
            cell(&b, "-");
        }
        const char *err = jstr(f, "last_error", NULL);
        struct buf e = BUF_INIT;
        if (err)
            buf_addf(&e, "%s (%s)", err, jstr(f, "last_error_at", "-"));
        cell(&b, err ? e.data : "none");
        buf_release(&e);
        html_raw(&b, "</tr>");
    }
    html_raw(&b, "</tbody></table>");

    /* throughput: messages received and rejected per day, all feeds */
    struct store_feed *fl = NULL;
    int n = 0;
    store_feed_list(s, &fl, &n);
    char days[HISTORY_DAYS][11];
    struct chart_point rec[HISTORY_DAYS], rej[HISTORY_DAYS];
    for (int d = 0; d < HISTORY_DAYS; d++) {
        day_of(days[d], HISTORY_DAYS - 1 - d);
        rec[d] = (struct chart_point){days[d], 0};
        rej[d] = (struct chart_point){days[d], 0};
    }
    struct buf csv = BUF_INIT;
    int csv_rows = 0;
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < HISTORY_DAYS; d++) {
            struct store_feed_counts c = {0}, all = {0};
            if (store_feed_counts_get(s, fl[i].id, days[d], &c, &all) != 0)
                continue;
            rec[d].value += (double)c.received;
            rej[d].value += (double)c.rejected;
            if (strcmp(fl[i].kind, "csv") == 0 &&
                (c.rows_loaded || c.rows_rejected || c.received)) {
                html_addf(&csv,
                          "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">%s</td>"
                          "<td class=\"nhsuk-table__cell\">%s</td>",
                          fl[i].name, days[d]);
                cell_ll(&csv, (long long)c.received);
                cell_ll(&csv, (long long)c.rows_loaded);
                cell_ll(&csv, (long long)c.rows_rejected);
                html_raw(&csv, "</tr>");
                csv_rows++;
            }
        }
    }
    html_raw(&b, "<h2>Throughput</h2>");
    struct chart_series ser[2] = {{"Received", rec, HISTORY_DAYS}, {"Rejected", rej, HISTORY_DAYS}};
    struct chart_spec spec = {.id = "feeds-throughput",
                              .title = "Messages received and rejected per day, all feeds",
                              .unit = "messages",
                              .series = ser,
                              .nseries = 2};
    chart_svg(&b, &spec);

    html_raw(&b, "<h2>CSV rows per day</h2>");
    if (csv_rows) {
        static const char *const ccols[] = {"Feed", "Day", "Files", "Rows loaded", "Rows rejected"};
        table_open(&b, "CSV rows loaded and rejected per day, last 14 days", ccols, 5);
        buf_add(&b, csv.data, csv.len);
        html_raw(&b, "</tbody></table>");
    } else {
        html_raw(&b, "<p>No CSV files arrived in the last 14 days.</p>");
    }
    buf_release(&csv);

    /* recent errors, every feed */
    html_raw(&b, "<h2>Recent errors</h2>");
    struct store_inbox_filter flt = {
        .outcome = INBOX_REJECTED, .limit = RECENT_ERRORS, .newest_first = true};
    struct store_inbox_msg *ms = NULL;
    int nm = 0;
    if (store_inbox_list(s, &flt, &ms, &nm) == 0 && nm > 0) {
        static const char *const ecols[] = {"Arrived", "Feed", "Control id", "Type", "Error"};
        table_open(&b, "The newest rejected messages", ecols, 5);
        for (int i = 0; i < nm; i++) {
            const char *fname = "(unregistered)";
            for (int k = 0; k < n; k++)
                if (fl[k].id == ms[i].feed_id)
                    fname = fl[k].name;
            struct buf href = BUF_INIT;
            html_url_addf(&href, "/admin/feeds/messages/%lld", (long long)ms[i].id);
            html_addf(&b,
                      "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">"
                      "<a href=\"%s\">%s</a></td>",
                      href.data, ms[i].arrived);
            buf_release(&href);
            cell(&b, fname);
            cell(&b, ms[i].control_id ? ms[i].control_id : "-");
            cell(&b, ms[i].msg_type ? ms[i].msg_type : "-");
            cell(&b, ms[i].error ? ms[i].error : "-");
            html_raw(&b, "</tr>");
        }
        html_raw(&b, "</tbody></table>");
    } else {
        html_raw(&b, "<p>No message has been rejected.</p>");
    }
    store_inbox_msgs_free(ms, nm);
    for (int i = 0; i < n; i++)
        store_feed_clear(&fl[i]);
    free(fl);
    json_decref(st);
    web_frame_end(&b);
    web_admin_reply(req, 200, &b);
    return 0;
}

/* ---- GET /admin/feeds/{name}/messages ------------------------------------------------------ */

/* YYYY-MM-DD, a real calendar day, into *tm (midnight UTC). */
static bool parse_date(const char *d, struct tm *tm)
{
    if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
            return false;
    memset(tm, 0, sizeof *tm);
    tm->tm_year = atoi(d) - 1900;
    tm->tm_mon = atoi(d + 5) - 1;
    tm->tm_mday = atoi(d + 8);
    int y = tm->tm_year, m = tm->tm_mon, day = tm->tm_mday;
    time_t t = timegm(tm); /* normalises: 2026-02-30 becomes March */
    struct tm back;
    gmtime_r(&t, &back);
    *tm = back;
    return m >= 0 && m < 12 && day >= 1 && back.tm_year == y && back.tm_mon == m &&
           back.tm_mday == day;
}

static bool is_token(const char *v, size_t max)
{
    size_t n = strlen(v);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

static const char *arg_nonempty(struct http_req *req, const char *k)
{
    const char *v = http_req_arg(req, k);
    return v && *v ? v : NULL;
}

static void search_form(struct buf *b, const char *feed, struct http_req *req, bool admin)
{
    struct buf action = BUF_INIT;
    html_url_addf(&action, "/admin/feeds/%s/messages", feed);
    html_addf(b, "<form method=\"get\" action=\"%s\" id=\"search\">", action.data);
    buf_release(&action);
    static const struct {
        const char *name, *label, *hint;
    } fields[] = {
        {"control", "Control id", "MSH-10, a bundle id or a file name"},
        {"type", "Message type", "for example ADT or ADT^A01"},
        {"date", "Arrived on", "YYYY-MM-DD"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = http_req_arg(req, fields[i].name);
        html_addf(b,
                  "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"q-%s\">%s"
                  "</label><div class=\"nhsuk-hint\" id=\"q-%s-hint\">%s</div><input "
                  "class=\"nhsuk-input nhsuk-input--width-20\" id=\"q-%s\" name=\"%s\" "
                  "aria-describedby=\"q-%s-hint\" value=\"%s\"></div>",
                  fields[i].name, fields[i].label, fields[i].name, fields[i].hint, fields[i].name,
                  fields[i].name, fields[i].name, v ? v : "");
    }
    const char *o = http_req_arg(req, "outcome");
    html_raw(b, "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"q-outcome\">"
                "Outcome</label><select class=\"nhsuk-select\" id=\"q-outcome\" name=\"outcome\">"
                "<option value=\"\">Any</option>");
    static const char *const outs[] = {INBOX_PENDING, INBOX_APPLIED, INBOX_REJECTED,
                                       INBOX_DUPLICATE, INBOX_PARTIAL};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        html_addf(b, "<option value=\"%s\"%s>%s</option>", outs[i],
                  o && strcmp(o, outs[i]) == 0 ? " selected" : "", outs[i]);
    html_raw(b, "</select></div>");
    if (admin) {
        const char *v = http_req_arg(req, "patient");
        html_addf(b,
                  "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
                  "for=\"q-patient\">NHS number or local identifier</label><div "
                  "class=\"nhsuk-hint\" id=\"q-patient-hint\">searches the messages' content "
                  "(letters, digits and hyphens); the search is audited</div><input "
                  "class=\"nhsuk-input nhsuk-input--width-20\" id=\"q-patient\" name=\"patient\" "
                  "aria-describedby=\"q-patient-hint\" value=\"%s\"></div>",
                  v ? v : "");
    } else {
        html_raw(b, "<p>Searching by NHS number or local identifier reads the messages' content: "
                    "it is for integration engineers (policy capability feeds-admin).</p>");
    }
    html_raw(b, "<button class=\"nhsuk-button\" type=\"submit\">Search</button></form>");
}

static int page_messages(struct http_req *req, const char *name)
{
    bool admin = false;
    struct store *s = console_begin(req, &admin);
    if (!s)
        return 0;
    struct store_feed f;
    int rc = store_feed_by_name(s, name ? name : "", &f);
    if (rc != 0) {
        if (rc == WEFT_ENOTFOUND)
            web_error_page(req, 404, "No such feed", "There is no feed with this name.",
                           "Go back to the list of feeds.");
        else
            web_error_page(req, 500, "The feed could not be read", store_errmsg(s),
                           "Try again in a few minutes.");
        return 0;
    }
    struct store_inbox_filter flt = {.feed_id = f.id, .limit = PAGE_SIZE, .newest_first = true};
    const char *err = NULL;
    const char *control = arg_nonempty(req, "control"), *type = arg_nonempty(req, "type");
    const char *outcome = arg_nonempty(req, "outcome"), *date = arg_nonempty(req, "date");
    const char *patient = arg_nonempty(req, "patient"), *before = arg_nonempty(req, "before");
    char until[11] = "";
    if (control && strlen(control) > 200)
        err = "The control id is too long.";
    if (type && strlen(type) > 40)
        err = "The message type is too long.";
    if (outcome && !inbox_outcome_valid(outcome))
        err = "Choose an outcome from the list.";
    struct tm dtm;
    if (date && !parse_date(date, &dtm))
        err = "Enter the date as YYYY-MM-DD, for example 2026-12-06.";
    if (patient && !admin)
        err = "Searching by NHS number or local identifier is for integration engineers.";
    else if (patient && !is_token(patient, 40))
        err = "An NHS number or local identifier has letters, digits and hyphens only.";
    if (before && strtoll(before, NULL, 10) <= 0)
        err = "The page link is not valid.";
    if (date && !err) {
        time_t t = timegm(&dtm) + 86400;
        struct tm next;
        gmtime_r(&t, &next);
        strftime(until, sizeof until, "%Y-%m-%d", &next);
        flt.since = date;
        flt.until = until;
    }
    flt.control_id = control;
    flt.msg_type = type;
    flt.outcome = outcome;
    flt.body_contains = patient;
    flt.before_id = before ? strtoll(before, NULL, 10) : 0;

    struct buf title = BUF_INIT;
    buf_addf(&title, "Messages of %s", f.name);
    struct buf b = BUF_INIT;
    page_open(&b, title.data);
    buf_release(&title);
    html_addf(&b, "<p>%s feed of %s. Newest first, %d to a page.</p>", f.kind, f.org, PAGE_SIZE);
    if (err) {
        html_addf(&b,
                  "<div class=\"nhsuk-error-summary\" aria-labelledby=\"error-summary-title\" "
                  "role=\"alert\" tabindex=\"-1\"><h2 class=\"nhsuk-error-summary__title\" "
                  "id=\"error-summary-title\">There is a problem</h2><div "
                  "class=\"nhsuk-error-summary__body\"><p>%s</p></div></div>",
                  err);
    }
    search_form(&b, f.name, req, admin);
    int status = err ? 400 : 200;
    struct store_inbox_msg *ms = NULL;
    int n = 0;
    if (!err) {
        if (store_inbox_list(s, &flt, &ms, &n) != 0) {
            html_raw(&b, "<p>The messages could not be read. Try again in a few minutes.</p>");
            status = 500;
        } else if (patient &&
                   authz_audit_access(s, &req->principal, AUDIT_SEARCH, NULL,
                                      "feeds console: inbox search by identifier", n) != 0) {
            store_inbox_msgs_free(ms, n);
            ms = NULL;
            n = 0;
            html_raw(&b, "<p>The search could not be audited, so it was not run.</p>");
            status = 500;
        }
    }
    if (status == 200 && n == 0) {
        html_raw(&b, "<p id=\"results\">No message of this feed matches.</p>");
    } else if (n > 0) {
        static const char *const cols[] = {"Id",      "Arrived", "Control id", "Type",
                                           "Outcome", "Error",   "Attempts"};
        table_open(&b, "Messages found", cols, 7);
        for (int i = 0; i < n; i++) {
            struct buf href = BUF_INIT;
            html_url_addf(&href, "/admin/feeds/messages/%lld", (long long)ms[i].id);
            html_addf(&b,
                      "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a "
                      "href=\"%s\">%lld</a></td>",
                      href.data, (long long)ms[i].id);
            buf_release(&href);
            cell(&b, ms[i].arrived);
            cell(&b, ms[i].control_id ? ms[i].control_id : "-");
            cell(&b, ms[i].msg_type ? ms[i].msg_type : "-");
            cell(&b, ms[i].outcome);
            cell(&b, ms[i].error ? ms[i].error : "");
            cell_ll(&b, ms[i].attempts);
            html_raw(&b, "</tr>");
        }
        html_raw(&b, "</tbody></table>");
        if (n == PAGE_SIZE) {
            /* the next page: the same search, older than the last one shown */
            struct buf next = BUF_INIT;
            html_url_addf(&next,
                          "/admin/feeds/%s/messages?control=%s&type=%s&outcome=%s&date=%s&"
                          "patient=%s&before=%lld",
                          f.name, control ? control : "", type ? type : "", outcome ? outcome : "",
                          date ? date : "", patient ? patient : "", (long long)ms[n - 1].id);
            html_addf(&b, "<p><a id=\"older\" href=\"%s\">Older messages</a></p>", next.data);
            buf_release(&next);
        }
    }
    store_inbox_msgs_free(ms, n);
    store_feed_clear(&f);
    web_frame_end(&b);
    web_admin_reply(req, status, &b);
    return 0;
}

/* ---- GET /admin/feeds/messages/{id} -------------------------------------------------------- */

static void row(struct buf *b, const char *key, const char *value)
{
    html_addf(b,
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">%s"
              "</dt><dd class=\"nhsuk-summary-list__value\">%s</dd></div>",
              key, value ? value : "-");
}

static void row_link(struct buf *b, const char *key, int64_t id)
{
    struct buf href = BUF_INIT;
    html_url_addf(&href, "/admin/feeds/messages/%lld", (long long)id);
    html_addf(b,
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">%s"
              "</dt><dd class=\"nhsuk-summary-list__value\"><a href=\"%s\">message %lld</a>"
              "</dd></div>",
              key, href.data, (long long)id);
    buf_release(&href);
}

/* The message's segments, one table row per field that has a value. */
static void hl7_segments(struct buf *b, const char *data, size_t len)
{
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e = {0};
    if (hl7_msg_parse(m, data, len, 0, &e) != 0) {
        html_raw(b, "<p>The message cannot be parsed as HL7 v2, so it has no segments to show "
                    "(its error above says why).</p>");
        hl7_msg_free(m);
        return;
    }
    static const char *const cols[] = {"Field", "Value"};
    table_open(b, "Segments and fields", cols, 2);
    size_t ns = hl7_seg_count(m);
    for (size_t i = 0; i < ns; i++) {
        const char *name = hl7_seg_name(m, i);
        struct hl7_span raw = hl7_seg_raw(m, i);
        /* fields as sent, split at the field separator (MSH-1 is the
         * separator itself, MSH-2 the encoding characters) */
        char sep = hl7_msg_delims(m)->field;
        size_t start = 0, field = 0;
        bool msh = strcmp(name, "MSH") == 0;
        for (size_t k = 0; k <= raw.len; k++) {
            if (k < raw.len && raw.p[k] != sep)
                continue;
            if (field > 0 && k > start) {
                char key[16];
                snprintf(key, sizeof key, "%s-%zu", name, msh ? field + 1 : field);
                html_addf(b,
                          "<tr class=\"nhsuk-table__row\"><th scope=\"row\">%s</th>"
                          "<td class=\"nhsuk-table__cell\"><code>%.*s</code></td></tr>",
                          key, (int)(k - start), raw.p + start);
            }
            field++;
            start = k + 1;
        }
    }
    html_raw(b, "</tbody></table>");
    hl7_msg_free(m);
}

/* The FHIR the message maps to with today's mapping (nothing is written). */
static void hl7_fhir(struct buf *b, const char *data, size_t len, const char *ods)
{
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e = {0};
    if (hl7_msg_parse(m, data, len, 0, &e) != 0) {
        html_raw(b, "<p>Not parsed, so not mapped.</p>");
        hl7_msg_free(m);
        return;
    }
    struct hl7_map_opts mo = {.ods = ods};
    struct hl7_map_result r;
    int rc = hl7_map_message(m, &mo, &r);
    if (rc != 0) {
        html_addf(b, "<p>It does not map to FHIR: %s.</p>", r.reason[0] ? r.reason : "not mapped");
    } else if (r.kind == HL7_MAP_BUNDLE && r.bundle) {
        char *t = json_dumps(r.bundle, JSON_INDENT(2));
        html_addf(b, "<pre class=\"weft-pre\" id=\"fhir\" tabindex=\"0\">%s</pre>", t ? t : "");
        free(t);
    } else {
        char *sv = json_dumps(r.merge_survivor, JSON_INDENT(2));
        char *rt = json_dumps(r.merge_retired, JSON_INDENT(2));
        html_addf(b,
                  "<p>A merge or link of two patients, not a bundle.</p><pre class=\"weft-pre\" "
                  "id=\"fhir\" tabindex=\"0\">surviving: %s\nretired: %s</pre>",
                  sv ? sv : "-", rt ? rt : "-");
        free(sv);
        free(rt);
    }
    hl7_map_result_clear(&r);
    hl7_msg_free(m);
}

static int page_message(struct http_req *req, const char *idtext)
{
    bool admin = false;
    struct store *s = console_begin(req, &admin);
    if (!s)
        return 0;
    long long id = idtext ? strtoll(idtext, NULL, 10) : 0;
    struct store_inbox_msg m;
    int rc = id > 0 ? store_inbox_get(s, id, admin, &m) : WEFT_ENOTFOUND;
    if (rc != 0) {
        if (rc == WEFT_ENOTFOUND)
            web_error_page(req, 404, "No such message", "There is no inbound message with this id.",
                           "Go back to the feed's messages.");
        else
            web_error_page(req, 500, "The message could not be read", store_errmsg(s),
                           "Try again in a few minutes.");
        return 0;
    }
    struct store_feed f = {0};
    bool hf = m.feed_id && store_feed_get(s, m.feed_id, &f) == 0;
    if (admin) {
        char what[64];
        snprintf(what, sizeof what, "feeds console: inbox message %lld", id);
        if (authz_audit_access(s, &req->principal, AUDIT_READ, NULL, what, 1) != 0) {
            web_error_page(req, 500, "The message could not be shown",
                           "Reading it could not be recorded in the audit log.",
                           "Try again in a few minutes.");
            store_feed_clear(&f);
            store_inbox_msg_clear(&m);
            return 0;
        }
    }
    struct buf title = BUF_INIT;
    buf_addf(&title, "Message %lld", id);
    struct buf b = BUF_INIT;
    page_open(&b, title.data);
    buf_release(&title);
    if (hf) {
        struct buf href = BUF_INIT;
        html_url_addf(&href, "/admin/feeds/%s/messages", f.name);
        html_addf(&b, "<p><a href=\"%s\">All messages of %s</a></p>", href.data, f.name);
        buf_release(&href);
    }
    const char *done = http_req_arg(req, "done");
    if (done && strcmp(done, "replayed") == 0)
        html_addf(&b,
                  "<div class=\"nhsuk-inset-text\" id=\"done\"><p>Replayed: the outcome is now "
                  "%s.</p></div>",
                  m.outcome);
    html_raw(&b, "<h2>Outcome</h2><dl class=\"nhsuk-summary-list\" id=\"outcome\">");
    row(&b, "Outcome", m.outcome);
    row(&b, "Errors", m.error ? m.error : "none");
    char num[32];
    snprintf(num, sizeof num, "%d", m.attempts);
    row(&b, "Times applied", num);
    snprintf(num, sizeof num, "%lld", (long long)m.resources);
    row(&b, "Resources written", num);
    if (m.duplicate_of)
        row_link(&b, "Duplicate of", m.duplicate_of);
    if (m.resubmit_of) {
        row_link(&b, "Corrected copy of", m.resubmit_of);
        row(&b, "Corrected by", m.corrected_by);
    }
    html_raw(&b, "</dl><h2>Arrival</h2><dl class=\"nhsuk-summary-list\">");
    row(&b, "Feed", hf ? f.name : "(no registered feed)");
    row(&b, "Kind", m.kind);
    row(&b, "Arrived", m.arrived);
    row(&b, "Sender", m.sender);
    row(&b, "From address", m.peer);
    row(&b, "Control id", m.control_id);
    row(&b, "Type", m.msg_type);
    row(&b, "Event time", m.event_time);
    html_raw(&b, "</dl>");
    bool hl7 = strcmp(m.kind, "hl7v2") == 0;
    if (!admin) {
        html_raw(&b, "<p id=\"withheld\">The message itself holds patient data: it is shown only "
                     "to integration engineers (policy capability feeds-admin).</p>");
    } else {
        struct buf raw = BUF_INIT;
        for (size_t i = 0; i < m.body_len; i++)
            buf_addc(&raw, m.body[i] == '\r' ? '\n' : m.body[i]);
        html_raw(&b, "<h2>The message as received</h2>");
        html_addf(&b, "<pre class=\"weft-pre\" id=\"raw\" tabindex=\"0\">%.*s</pre>", (int)raw.len,
                  raw.data ? raw.data : "");
        if (hl7) {
            html_raw(&b, "<h2>Segments</h2>");
            hl7_segments(&b, m.body, m.body_len);
            html_raw(&b, "<h2>The FHIR it maps to</h2><p>Mapped now, with the current mapping; "
                         "nothing is written.</p>");
            hl7_fhir(&b, m.body, m.body_len, hf ? f.org : "UNKNOWN");
        }
        struct buf act = BUF_INIT;
        html_url_addf(&act, "/admin/feeds/messages/%lld/replay", id);
        html_addf(&b,
                  "<h2>Replay</h2><p>Apply the message again as it was received (after fixing "
                  "a mapping or registering its feed).</p><form method=\"post\" action=\"%s\" "
                  "id=\"replay\">",
                  act.data);
        web_admin_csrf_field(&b, req);
        html_raw(&b, "<button class=\"nhsuk-button\" type=\"submit\">Replay</button></form>");
        buf_release(&act);
        if (hl7) {
            html_url_addf(&act, "/admin/feeds/messages/%lld/resubmit", id);
            html_addf(&b,
                      "<h2>Correct and resubmit</h2><form method=\"post\" action=\"%s\" "
                      "id=\"resubmit\">",
                      act.data);
            web_admin_csrf_field(&b, req);
            html_addf(
                &b,
                "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
                "for=\"fixed\">The corrected message</label><div class=\"nhsuk-hint\" "
                "id=\"fixed-hint\">One segment to a line. The original is kept as it is; "
                "the copy is stored linked to it, with your name, and processed.</div>"
                "<textarea class=\"nhsuk-textarea\" id=\"fixed\" name=\"message\" rows=\"10\" "
                "aria-describedby=\"fixed-hint\">%.*s</textarea></div>",
                (int)raw.len, raw.data ? raw.data : "");
            html_raw(&b, "<button class=\"nhsuk-button\" type=\"submit\">Resubmit</button></form>");
            buf_release(&act);
        }
        buf_release(&raw);
    }
    store_feed_clear(&f);
    store_inbox_msg_clear(&m);
    web_frame_end(&b);
    web_admin_reply(req, 200, &b);
    return 0;
}

/* ---- POST replay / resubmit ------------------------------------------------------------------ */

/* Launched staff with feeds-admin and a valid form; the form's fields in
 * kv[0..n).
 * NULL after replying. */
static struct store *action_begin(struct http_req *req, struct url_kv **kv, int *n)
{
    *kv = NULL;
    *n = 0;
    if (!web_admin_user(req))
        return NULL;
    struct store *s = http_req_store(req);
    if (!s) {
        web_error_page(req, 503, "The service is not available at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes.");
        return NULL;
    }
    if (url_query_parse(req->body.data ? req->body.data : "", req->body.len, kv, n, 8) != 0) {
        web_error_page(req, 400, "Sorry, the form could not be read",
                       "The information sent was not in the expected form.",
                       "Go back and fill in the form again.");
        return NULL;
    }
    const char *csrf = NULL;
    for (int i = 0; i < *n; i++)
        if (strcmp((*kv)[i].name, "csrf") == 0)
            csrf = (*kv)[i].value;
    if (access_form_check(req, csrf) != 0)
        goto refused;
    if (!authz_may_admin_feeds(s, &req->principal)) {
        authz_audit_denial(s, &req->principal, AUDIT_ADMIN, NULL,
                           "feeds console: replay or resubmit by a role without feeds-admin");
        web_error_page(req, 403, "You do not have permission to do this",
                       "Replaying and resubmitting messages is for integration engineers.",
                       "Ask your integration team.");
        goto refused;
    }
    return s;
refused:
    url_kv_free(*kv, *n);
    *kv = NULL;
    *n = 0;
    return NULL;
}

static void audit_action(struct store *s, struct http_req *req, const char *what,
                         const char *outcome)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, &req->principal);
    ev.action = AUDIT_ADMIN;
    ev.outcome = AUDIT_OK;
    ev.what = what;
    ev.count = 1;
    ev.reason = outcome;
    if (audit_record(s, &ev, true) != 0)
        log_error("web", "audit append failed request=%s", req->request_id);
}

static int h_replay(struct http_req *req, void *arg)
{
    (void)arg;
    struct url_kv *kv;
    int n;
    struct store *s = action_begin(req, &kv, &n);
    if (!s)
        return 0;
    url_kv_free(kv, n);
    long long id = strtoll(http_req_param(req, "id"), NULL, 10);
    struct ingest *ig = ingest_new(s);
    struct ingest_result r;
    ingest_result_init(&r);
    int rc = id > 0 ? ingest_replay(ig, id, &r) : WEFT_ENOTFOUND;
    if (rc == 0) {
        char what[96], why[320];
        snprintf(what, sizeof what, "feeds console: inbox message %lld replayed", id);
        snprintf(why, sizeof why, "outcome %s%s%s", r.outcome, r.reason[0] ? ": " : "", r.reason);
        audit_action(s, req, what, why);
        log_info("feeds", "console replay request=%s inbox=%lld outcome=%s", req->request_id, id,
                 r.outcome);
        char to[96];
        snprintf(to, sizeof to, "/admin/feeds/messages/%lld?done=replayed", id);
        web_admin_redirect(req, to);
    } else if (rc == WEFT_ENOTFOUND) {
        web_error_page(req, 404, "No such message", "There is no inbound message with this id.",
                       "Go back to the feed's messages.");
    } else {
        web_error_page(req, 500, "The message could not be replayed", store_errmsg(s),
                       "Try again in a few minutes.");
    }
    ingest_result_release(&r);
    ingest_free(ig);
    return 0;
}

static int h_resubmit(struct http_req *req, void *arg)
{
    (void)arg;
    struct url_kv *kv;
    int n;
    struct store *s = action_begin(req, &kv, &n);
    if (!s)
        return 0;
    const char *text = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].name, "message") == 0)
            text = kv[i].value;
    long long id = strtoll(http_req_param(req, "id"), NULL, 10);
    /* a browser's line ends: HL7 segments end in CR */
    struct buf fixed = BUF_INIT;
    for (const char *p = text ? text : ""; *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue;
        buf_addc(&fixed, *p == '\n' ? '\r' : *p);
    }
    while (fixed.len && fixed.data[fixed.len - 1] == '\r')
        fixed.len--;
    if (fixed.len == 0) {
        web_error_page(req, 400, "The corrected message is empty",
                       "Nothing was resubmitted: the form held no message.",
                       "Go back and paste the corrected message.");
        goto out;
    }
    buf_addc(&fixed, '\r');
    struct buf by = BUF_INIT;
    buf_addf(&by, "%s (%s)", req->principal.user_id ? req->principal.user_id : "-",
             req->principal.user_name ? req->principal.user_name : "-");
    struct ingest *ig = ingest_new(s);
    struct ingest_result r;
    ingest_result_init(&r);
    int rc = id > 0 ? ingest_resubmit(ig, id, fixed.data, fixed.len, by.data, &r) : WEFT_ENOTFOUND;
    if (rc == 0) {
        char what[128], why[320];
        snprintf(what, sizeof what, "feeds console: inbox message %lld resubmitted as %lld", id,
                 (long long)r.inbox_id);
        snprintf(why, sizeof why, "corrected copy %s%s%s", r.outcome, r.reason[0] ? ": " : "",
                 r.reason);
        audit_action(s, req, what, why);
        log_info("feeds", "console resubmit request=%s inbox=%lld copy=%lld outcome=%s",
                 req->request_id, id, (long long)r.inbox_id, r.outcome);
        char to[64];
        snprintf(to, sizeof to, "/admin/feeds/messages/%lld", (long long)r.inbox_id);
        web_admin_redirect(req, to);
    } else if (rc == WEFT_ENOTFOUND) {
        web_error_page(req, 404, "No such message", "There is no inbound message with this id.",
                       "Go back to the feed's messages.");
    } else if (rc == WEFT_EUNSUPPORTED) {
        web_error_page(req, 400, "Only HL7 v2 messages can be corrected here",
                       "Send a corrected CSV file to the feed's folder, or the FHIR bundle again.",
                       "Go back to the message.");
    } else {
        web_error_page(req, 500, "The message could not be resubmitted", store_errmsg(s),
                       "Try again in a few minutes.");
    }
    ingest_result_release(&r);
    ingest_free(ig);
    buf_release(&by);
out:
    buf_release(&fixed);
    url_kv_free(kv, n);
    return 0;
}

/* ---- errors and registration ---------------------------------------------------------------- */

/* Errors the server itself gives under /admin/feeds (401 without a
 * session, 404): a page for a browser, the JSON for everyone else. */
static void render_error(struct http_req *req, int status, const char *message)
{
    if (!feeds_wants_html(req))
        return; /* the server's JSON */
    if (status == 401)
        web_error_page(req, 401, "You are not signed in",
                       "The feeds console is for staff signed in to the shared care record.",
                       "Open the shared care record from your own clinical system, then come "
                       "back to this page.");
    else
        web_render_error(req, status, message);
}

static const struct feeds_console console_pages = {
    .status = page_status,
    .messages = page_messages,
    .message = page_message,
};

int web_admin_feeds_routes_add(struct http_server *srv, struct web *w)
{
    fw = w;
    feeds_console_set(&console_pages);
    http_server_error_renderer(srv, "/admin/feeds", render_error);
    int rc = http_route_add(srv, "POST", "/admin/feeds/messages/{id}/replay", h_replay, w, 0);
    if (rc == 0)
        rc = http_route_add(srv, "POST", "/admin/feeds/messages/{id}/resubmit", h_resubmit, w, 0);
    return rc;
}
