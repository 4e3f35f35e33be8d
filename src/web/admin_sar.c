/*
 * admin_sar.c - subject access requests in the governance console (admin.h),
 * for the roles the policy gives audit-review (the console's own rule):
 *
 *   GET  /admin/governance/sar                 the requests (due, status,
 *                                              overdue flagged) and the form
 *                                              to log one
 *   POST /admin/governance/sar                 nhs, received, csrf: log one
 *                                              (as `weft sar create`)
 *   GET  /admin/governance/sar/{id}            one request: status, due date,
 *                                              extension, the package's files
 *   POST /admin/governance/sar/{id}/extend     months=1|2, reason, csrf
 *   POST /admin/governance/sar/{id}/produce    csrf: write the package
 *   GET  /admin/governance/sar/{id}/{file}     record.json, record.html,
 *                                              access-log.csv and, here only,
 *                                              reviewer-note.csv
 *
 * The lifecycle is access/sar.h's and the package web/sar_export.h's, the
 * same calls as the command line, with the signed-in member of staff as the
 * actor; every step, the production and each download are audited there or
 * here.  Packages are written under the server's --sar-dir (one folder per
 * request, sar-ID); a server started without it says so and offers the
 * packages `weft sar export` made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access/access_serve.h"
#include "access/authz.h"
#include "access/org.h"
#include "access/sar.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/url.h"
#include "http/server.h"
#include "identity/nhs.h"
#include "store/citizen.h"
#include "store/records.h"
#include "web/admin.h"
#include "web/html.h"
#include "web/sar_export.h"
#include "web/web.h"
#include "web/web_int.h"

static struct web *sar_web;

static const char *const package_files[][3] = {
    {"record.html", "text/html; charset=utf-8", "the copy to read or print"},
    {"record.json", "application/fhir+json", "the copy as data (a FHIR R4 Bundle)"},
    {"access-log.csv", "text/csv; charset=utf-8", "every access to the record"},
    {"reviewer-note.csv", "text/csv; charset=utf-8",
     "for the governance reviewer only: what was withheld from the copy, and why"},
};
#define NFILES (int)(sizeof package_files / sizeof package_files[0])

/* Launched staff with audit-review; NULL after replying. */
static struct store *sar_begin(struct http_req *req)
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
    if (!authz_may_review_audit(s, &req->principal)) {
        authz_audit_denial(s, &req->principal, AUDIT_READ, NULL,
                           "subject access requests: role without audit-review");
        web_error_page(req, 403, "You do not have permission to view this page",
                       "Subject access requests are handled by privacy officers, Caldicott "
                       "guardians and information governance officers.",
                       "Ask your information governance team if you need access.");
        return NULL;
    }
    return s;
}

static void page_open(struct buf *b, const char *title)
{
    web_frame_begin(b, sar_web->service_name, title);
    web_admin_nav(b, "/admin/governance/sar", true);
    html_addf(b, "<h1>%s</h1>", title);
}

static void person_nhs(struct store *s, const char *person_id, char out[13])
{
    struct store_person pe = {0};
    snprintf(out, 13, "not known");
    if (store_person_get(s, person_id, &pe) == 0) {
        if (pe.nhs)
            nhs_number_format(pe.nhs, out);
        store_person_clear(&pe);
    }
}

static bool parse_id(struct http_req *req, int64_t *id)
{
    const char *p = http_req_param(req, "id");
    char *end = NULL;
    long long v = p ? strtoll(p, &end, 10) : 0;
    if (!p || !*p || *end || v <= 0) {
        web_error_page(req, 404, "Page not found", "There is no such subject access request.",
                       "Go back to the subject access requests.");
        return false;
    }
    *id = v;
    return true;
}

/* The request, or false after replying 404/503. */
static bool load(struct http_req *req, struct store *s, int64_t id, struct store_sar *r)
{
    int rc = store_sar_get(s, id, r);
    if (rc == 0)
        return true;
    if (rc == WEFT_ENOTFOUND)
        web_error_page(req, 404, "Page not found", "There is no such subject access request.",
                       "Go back to the subject access requests.");
    else
        web_error_page(req, 503, "The request could not be read",
                       "The shared care record's database did not answer.",
                       "Try again in a few minutes.");
    return false;
}

/* ---- the list and the form to log one --------------------------------------------------- */

static void list_page(struct http_req *req, struct store *s, int status, const char *error,
                      const char *nhs, const char *received)
{
    struct store_sar *sr = NULL;
    int n = 0;
    if (store_sar_list(s, NULL, &sr, &n) != 0) {
        web_error_page(req, 503, "The requests could not be read",
                       "The shared care record's database did not answer.",
                       "Try again in a few minutes.");
        return;
    }
    char day[11], nhsf[13];
    org_day(time(NULL), day);
    int late = 0;
    for (int i = 0; i < n; i++)
        late += sar_overdue(&sr[i], day);
    struct buf b = BUF_INIT;
    page_open(&b, "Subject access requests");
    if (error)
        html_addf(&b,
                  "<div class=\"nhsuk-error-summary\" role=\"alert\" tabindex=\"-1\" "
                  "id=\"form-error\"><h2 class=\"nhsuk-error-summary__title\">There is a "
                  "problem</h2><div class=\"nhsuk-error-summary__body\"><ul class=\"nhsuk-list "
                  "nhsuk-error-summary__list\"><li><a href=\"#nhs\">%s</a></li></ul></div></div>",
                  error);
    html_addf(&b,
              "<p id=\"sars-summary\">%d request(s), %d overdue (not completed by the due day). "
              "A request is due one calendar month after it was received; it may be extended "
              "by up to two further months with a recorded reason.</p>",
              n, late);
    if (n) {
        html_raw(&b, "<table class=\"nhsuk-table\" id=\"sars\"><caption class=\"nhsuk-table__"
                     "caption nhsuk-u-visually-hidden\">Subject access requests, newest first"
                     "</caption><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">"
                     "<th scope=\"col\">Request</th><th scope=\"col\">NHS number</th>"
                     "<th scope=\"col\">Received</th><th scope=\"col\">Due</th>"
                     "<th scope=\"col\">Status</th><th scope=\"col\">Overdue</th></tr></thead>"
                     "<tbody class=\"nhsuk-table__body\">");
        for (int i = 0; i < n; i++) {
            bool over = sar_overdue(&sr[i], day);
            person_nhs(s, sr[i].person_id, nhsf);
            html_addf(&b,
                      "<tr class=\"nhsuk-table__row%s\" id=\"sar-%lld\"><td "
                      "class=\"nhsuk-table__cell\"><a href=\"/admin/governance/sar/%lld\">Request "
                      "%lld</a></td><td class=\"nhsuk-table__cell\">%s</td><td "
                      "class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
                      "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s"
                      "</td></tr>",
                      over ? " weft-overdue" : "", (long long)sr[i].id, (long long)sr[i].id,
                      (long long)sr[i].id, nhsf, sr[i].received, sr[i].due, sr[i].status,
                      over ? "OVERDUE" : "No");
        }
        html_raw(&b, "</tbody></table>");
    }
    store_sars_free(sr, n);
    html_raw(&b, "<h2>Log a request</h2><form method=\"post\" action=\"/admin/governance/sar\" "
                 "id=\"create\">");
    web_admin_csrf_field(&b, req);
    html_addf(&b,
              "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"nhs\">The "
              "person's NHS number</label><input class=\"nhsuk-input nhsuk-input--width-10\" "
              "id=\"nhs\" name=\"nhs\" type=\"text\" inputmode=\"numeric\" autocomplete=\"off\" "
              "value=\"%s\"></div><div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
              "for=\"received\">Received on (YYYY-MM-DD)</label><input class=\"nhsuk-input "
              "nhsuk-input--width-10\" id=\"received\" name=\"received\" type=\"text\" "
              "value=\"%s\"></div><button class=\"nhsuk-button\" type=\"submit\" "
              "id=\"log\">Log the request</button></form>",
              nhs ? nhs : "", received ? received : day);
    web_frame_end(&b);
    if (authz_audit_access(s, &req->principal, AUDIT_READ, NULL, "subject-access-requests", n) !=
        0) {
        buf_release(&b);
        web_error_page(req, 503, "The service is not available at the moment",
                       "The view could not be recorded in the audit log, so it is not shown.",
                       "Try again in a few minutes.");
        return;
    }
    web_admin_reply(req, status, &b);
}

/* GET /admin/governance/sar */
static int h_list(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = sar_begin(req);
    if (s)
        list_page(req, s, 200, NULL, NULL, NULL);
    return 0;
}

/* POST /admin/governance/sar */
static int h_create(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = sar_begin(req);
    struct url_kv *kv = NULL;
    int n = 0;
    if (!s || !web_admin_form_read(req, &kv, &n))
        return 0;
    const char *nhs = url_kv_get(kv, n, "nhs"), *received = url_kv_get(kv, n, "received");
    char digits[11];
    char *person = NULL;
    int rc;
    if (!nhs || !nhs_number_valid(nhs, digits)) {
        list_page(req, s, 400, "Enter a valid NHS number (10 digits). Nothing was logged.", nhs,
                  received);
    } else if ((rc = store_person_find_nhs(s, digits, &person)) == WEFT_ENOTFOUND) {
        list_page(req, s, 400,
                  "No person in the shared record holds that NHS number. Nothing was logged.", nhs,
                  received);
    } else if (rc) {
        web_error_page(req, 503, "Sorry, the request was not logged",
                       "The shared care record's database did not answer.", "Try again.");
    } else {
        int64_t id = 0;
        const char *why = NULL;
        rc = sar_create(s, &req->principal, person, received, &id, &why);
        if (rc == 0) {
            char to[64];
            snprintf(to, sizeof to, "/admin/governance/sar/%lld", (long long)id);
            web_admin_redirect(req, to);
        } else if (rc == WEFT_EINVAL) {
            list_page(req, s, 400,
                      "The day received must be a date YYYY-MM-DD, not in the future. Nothing "
                      "was logged.",
                      nhs, received);
        } else {
            web_error_page(req, 503, "Sorry, the request was not logged",
                           "The shared care record's database did not answer.", "Try again.");
        }
    }
    free(person);
    url_kv_free(kv, n);
    return 0;
}

/* ---- one request ---------------------------------------------------------------------- */

static bool file_present(const char *dir, const char *file)
{
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s", dir, file);
    struct stat sb;
    bool ok = stat(p.data, &sb) == 0 && S_ISREG(sb.st_mode);
    buf_release(&p);
    return ok;
}

/* Months of extension already granted: 0, 1, 2 (-1: the due day is not one
 * sar_extend would set). */
static int months_granted(const struct store_sar *r)
{
    for (int m = 0; m <= 2; m++) {
        char d[11];
        org_date_add_months(r->received, 1 + m, d);
        if (strcmp(d, r->due) == 0)
            return m;
    }
    return -1;
}

/* GET /admin/governance/sar/{id} */
static int h_show(struct http_req *req, void *arg)
{
    (void)arg;
    int64_t id;
    struct store *s = sar_begin(req);
    struct store_sar r;
    if (!s || !parse_id(req, &id) || !load(req, s, id, &r))
        return 0;
    char day[11], nhsf[13], title[64];
    org_day(time(NULL), day);
    person_nhs(s, r.person_id, nhsf);
    bool over = sar_overdue(&r, day);
    snprintf(title, sizeof title, "Subject access request %lld", (long long)id);
    struct buf b = BUF_INIT;
    page_open(&b, title);
    const char *done = http_req_arg(req, "done");
    if (done)
        html_addf(&b, "<div class=\"nhsuk-inset-text\" id=\"done\" role=\"status\"><p>%s</p></div>",
                  strcmp(done, "extended") == 0   ? "The due date has been extended."
                  : strcmp(done, "produced") == 0 ? "The package has been produced."
                                                  : "Done.");
    html_addf(&b,
              "<dl class=\"nhsuk-summary-list\" id=\"request\">"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">NHS "
              "number</dt><dd class=\"nhsuk-summary-list__value\">%s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Status"
              "</dt><dd class=\"nhsuk-summary-list__value\" id=\"status\">%s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">"
              "Received</dt><dd class=\"nhsuk-summary-list__value\">%s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Due"
              "</dt><dd class=\"nhsuk-summary-list__value\" id=\"due\">%s%s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">"
              "Extended because</dt><dd class=\"nhsuk-summary-list__value\" "
              "id=\"extension\">%s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Logged"
              "</dt><dd class=\"nhsuk-summary-list__value\">%.16s by %s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">"
              "Package produced</dt><dd class=\"nhsuk-summary-list__value\" id=\"produced\">%s"
              "</dd></div></dl>",
              nhsf, r.status, r.received, r.due, over ? " - OVERDUE" : "",
              r.extension_reason ? r.extension_reason : "not extended", r.created, r.created_by,
              r.completed ? r.completed : "not yet");
    if (r.package) {
        html_raw(&b, "<h2>The package</h2><ul class=\"nhsuk-list\" id=\"files\">");
        for (int i = 0; i < NFILES; i++)
            if (file_present(r.package, package_files[i][0]))
                html_addf(&b, "<li><a href=\"/admin/governance/sar/%lld/%s\">%s</a>: %s</li>",
                          (long long)id, package_files[i][0], package_files[i][0],
                          package_files[i][2]);
        html_raw(&b, "</ul>");
    }
    int granted = months_granted(&r);
    bool completed = strcmp(r.status, "completed") == 0;
    if (!completed && granted >= 0 && granted < 2) {
        html_addf(&b,
                  "<h2>Extend the due date</h2><p>Up to two further months in all (%d granted so "
                  "far), when the request is complex or one of several from the person. The "
                  "person is told the reason.</p><form method=\"post\" "
                  "action=\"/admin/governance/sar/%lld/extend\" id=\"extend\">",
                  granted, (long long)id);
        web_admin_csrf_field(&b, req);
        html_raw(&b, "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
                     "for=\"months\">Further months</label><select class=\"nhsuk-select\" "
                     "id=\"months\" name=\"months\"><option value=\"1\">1</option>");
        if (granted == 0)
            html_raw(&b, "<option value=\"2\">2</option>");
        html_raw(&b, "</select></div><div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
                     "for=\"reason\">Why more time is needed</label><textarea "
                     "class=\"nhsuk-textarea\" id=\"reason\" name=\"reason\" rows=\"3\" "
                     "maxlength=\"2000\"></textarea></div><button class=\"nhsuk-button "
                     "nhsuk-button--secondary\" type=\"submit\">Extend</button></form>");
    }
    html_raw(&b, "<h2>Produce the package</h2>");
    if (sar_web->sar_dir) {
        html_addf(&b,
                  "<p>Writes the copy of everything held about the person (record.json, "
                  "record.html), the access log and the reviewer's note of what was withheld, "
                  "and completes the request. Producing it is audited.</p><form method=\"post\" "
                  "action=\"/admin/governance/sar/%lld/produce\" id=\"produce\">",
                  (long long)id);
        web_admin_csrf_field(&b, req);
        html_addf(&b, "<button class=\"nhsuk-button\" type=\"submit\">%s</button></form>",
                  r.package ? "Produce it again" : "Produce the package");
    } else {
        html_addf(&b,
                  "<p id=\"no-sar-dir\">This server was started without <code>--sar-dir</code>, "
                  "so it cannot write packages: produce it with <code>weft sar export --db PATH "
                  "--id %lld --out DIR</code>, and its files are offered here.</p>",
                  (long long)id);
    }
    web_frame_end(&b);
    char what[64];
    snprintf(what, sizeof what, "subject-access-request %lld", (long long)id);
    int rc = authz_audit_access(s, &req->principal, AUDIT_READ, r.person_id, what, 1);
    store_sar_clear(&r);
    if (rc != 0) {
        buf_release(&b);
        web_error_page(req, 503, "The service is not available at the moment",
                       "The view could not be recorded in the audit log, so it is not shown.",
                       "Try again in a few minutes.");
        return 0;
    }
    web_admin_reply(req, 200, &b);
    return 0;
}

/* POST /admin/governance/sar/{id}/extend */
static int h_extend(struct http_req *req, void *arg)
{
    (void)arg;
    int64_t id;
    struct store *s = sar_begin(req);
    struct url_kv *kv = NULL;
    int n = 0;
    if (!s || !parse_id(req, &id) || !web_admin_form_read(req, &kv, &n))
        return 0;
    const char *ms = url_kv_get(kv, n, "months"), *why = NULL;
    int months = ms && (strcmp(ms, "1") == 0 || strcmp(ms, "2") == 0) ? ms[0] - '0' : 0;
    int rc = sar_extend(s, &req->principal, id, months, url_kv_get(kv, n, "reason"), &why);
    url_kv_free(kv, n);
    if (rc == 0) {
        char to[80];
        snprintf(to, sizeof to, "/admin/governance/sar/%lld?done=extended", (long long)id);
        web_admin_redirect(req, to);
    } else if (rc == WEFT_EINVAL || rc == WEFT_ECONFLICT || rc == WEFT_ENOTFOUND) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "Nothing was changed: %s.",
                 why && strncmp(why, "--months", 8) == 0 ? "the further months are 1 or 2"
                 : why                                   ? why
                                                         : "the form is not complete");
        web_error_page(req,
                       rc == WEFT_ENOTFOUND   ? 404
                       : rc == WEFT_ECONFLICT ? 409
                                              : 400,
                       "The due date was not extended", m.data, "Go back to the request.");
        buf_release(&m);
    } else {
        web_error_page(req, 503, "Sorry, that was not recorded",
                       "The shared care record's database did not answer.", "Try again.");
    }
    return 0;
}

/* POST /admin/governance/sar/{id}/produce */
static int h_produce(struct http_req *req, void *arg)
{
    (void)arg;
    int64_t id;
    struct store *s = sar_begin(req);
    struct url_kv *kv = NULL;
    int n = 0;
    if (!s || !parse_id(req, &id) || !web_admin_form_read(req, &kv, &n))
        return 0;
    url_kv_free(kv, n);
    struct store_sar r;
    if (!load(req, s, id, &r))
        return 0;
    if (!sar_web->sar_dir) {
        store_sar_clear(&r);
        web_error_page(req, 409, "The package cannot be produced here",
                       "This server was started without --sar-dir, so it cannot write packages.",
                       "Produce it with weft sar export; its files are then offered here.");
        return 0;
    }
    /* the folder of packages (created once); each request's inside it */
    if (mkdir(sar_web->sar_dir, 0700) != 0 && errno != EEXIST) {
        store_sar_clear(&r);
        web_error_page(req, 500, "The package was not produced",
                       "The folder for packages (--sar-dir) cannot be created.",
                       "Ask the service's operators to check the folder.");
        return 0;
    }
    struct buf dir = BUF_INIT;
    buf_addf(&dir, "%s/sar-%lld", sar_web->sar_dir, (long long)id);
    struct sar_export_stats st = {0};
    char *err = NULL;
    int rc = sar_export_write(s, &req->principal, r.person_id, id, dir.data, &st, &err);
    if (rc == 0)
        rc = sar_complete(s, id, dir.data);
    store_sar_clear(&r);
    buf_release(&dir);
    if (rc == 0) {
        char to[80];
        snprintf(to, sizeof to, "/admin/governance/sar/%lld?done=produced", (long long)id);
        web_admin_redirect(req, to);
    } else {
        web_error_page(req, rc == WEFT_EDENIED ? 403 : 500, "The package was not produced",
                       rc == WEFT_EDENIED ? "The access check refused to read the record."
                       : err              ? err
                                          : "The shared care record's database did not answer.",
                       "Try again; if it fails again, ask the service's operators.");
    }
    free(err);
    return 0;
}

/* GET /admin/governance/sar/{id}/{file} */
static int h_file(struct http_req *req, void *arg)
{
    (void)arg;
    int64_t id;
    struct store *s = sar_begin(req);
    struct store_sar r;
    if (!s || !parse_id(req, &id) || !load(req, s, id, &r))
        return 0;
    const char *file = http_req_param(req, "file"), *type = NULL;
    for (int i = 0; i < NFILES; i++)
        if (file && strcmp(file, package_files[i][0]) == 0)
            type = package_files[i][1];
    int fd = -1;
    struct stat sb;
    if (type && r.package) {
        struct buf path = BUF_INIT;
        buf_addf(&path, "%s/%s", r.package, file);
        fd = open(path.data, O_RDONLY | O_CLOEXEC);
        buf_release(&path);
        if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        store_sar_clear(&r);
        web_error_page(req, 404, "That file is not available",
                       "The package has not been produced, or has no such file.",
                       "Go back to the request.");
        return 0;
    }
    struct buf what = BUF_INIT;
    buf_addf(&what, "subject-access-request %lld: %s downloaded", (long long)id, file);
    int rc = authz_audit_access(s, &req->principal, AUDIT_EXPORT, r.person_id, what.data, -1);
    buf_release(&what);
    store_sar_clear(&r);
    if (rc != 0) {
        close(fd);
        web_error_page(req, 503, "The service is not available at the moment",
                       "The download could not be recorded in the audit log, so it is not given.",
                       "Try again in a few minutes.");
        return 0;
    }
    if (strcmp(file, "record.html") != 0) {
        struct buf cd = BUF_INIT;
        buf_addf(&cd, "attachment; filename=\"%s\"", file);
        http_reply_header(req, "Content-Disposition", cd.data);
        buf_release(&cd);
    }
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_file(req, 200, type, fd, (uint64_t)sb.st_size);
    return 0;
}

int web_admin_sar_routes_add(struct http_server *srv, struct web *w)
{
    sar_web = w;
    static const struct http_route_def routes[] = {
        {"GET", "/admin/governance/sar", h_list, 0},
        {"POST", "/admin/governance/sar", h_create, 0},
        {"GET", "/admin/governance/sar/{id}", h_show, 0},
        {"POST", "/admin/governance/sar/{id}/extend", h_extend, 0},
        {"POST", "/admin/governance/sar/{id}/produce", h_produce, 0},
        {"GET", "/admin/governance/sar/{id}/{file}", h_file, 0},
    };
    return http_routes_add(srv, routes, sizeof routes / sizeof routes[0], w);
}
