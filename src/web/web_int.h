/*
 * web_int.h - shared between the files of src/web/ only (not an API).
 *
 * A page is rendered by one struct web_ctx: it holds the request, the store
 * handle of the calling thread, the principal and the authorisation scope
 * decided once per request, and the output buffer.  Every read of record
 * data goes through web_fetch()/web_get_item(), which apply the scope to the
 * store query itself (categories and organisations), so a withheld item is
 * never fetched and cannot show in any list, count, chart or paging link.
 */
#ifndef WEFT_WEB_WEB_INT_H
#define WEFT_WEB_WEB_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "access/authz.h"
#include "access/read.h"
#include "core/buf.h"
#include "store/records.h"
#include "web/web.h"

struct http_req;
struct http_server;

#define WEB_CACHE_ENTRIES_DEFAULT 1024
#define WEB_CACHE_BYTES_DEFAULT (32u << 20)

struct web_cache;

/* store_person_version() results remembered per store snapshot: while the
 * store has not changed at all, a person's version cannot have changed. */
#define WEB_VERSION_SLOTS 256
struct web_version_slot {
    char person[65];
    int64_t snapshot, seq, count;
};

struct web {
    struct web_cache *cache;
    pthread_mutex_t version_mu;
    struct web_version_slot versions[WEB_VERSION_SLOTS];
    char *assets_dir;
    char *break_glass_action;
    char *service_name;
    int breakglass_hours;
    char *sar_dir; /* serve --sar-dir: subject access packages; NULL: none */
};

/* One stored row with its parsed resource. */
struct web_item {
    struct store_row row;
    json_t *res; /* never NULL after web_fetch unless rows_only (rows that fail to parse
                    are skipped) */
};

struct web_list {
    struct web_item *items;
    int n, cap;
    int64_t snapshot; /* snapshot of the last query (for paging links) */
    char *next;       /* cursor of the next page, NULL when none */
};
void web_list_clear(struct web_list *l);

enum web_cat_kind { WEB_CAT_GENERIC = 0, WEB_CAT_RESULTS, WEB_CAT_DOCUMENTS };

struct web_category {
    const char *name;  /* record category (BRIEF §2) */
    const char *label; /* heading and navigation text */
    enum web_cat_kind kind;
    enum store_sort sort;
};
/* The table of categories in navigation order; *n gets the count. */
const struct web_category *web_categories(int *n);
const struct web_category *web_category_find(const char *name);

#define WEB_ORG_CACHE 32

struct web_ctx {
    struct web *w;
    struct http_req *req;
    struct store *store;
    const struct principal *p;
    const char *person_id;
    struct access_read rd; /* the decision (rd.scope) and the one scoped-read path */
    char today[11];
    struct buf out;
    json_t *patient;         /* the demographics resource shown in the banner, owned */
    const char *patient_org; /* its source organisation (borrowed from patient_row) */
    struct store_row patient_row;
    const char *page; /* current page name for navigation */
    struct buf what;  /* audit: what was returned */
    int64_t count;    /* audit: how many items */
    int norgs;
    struct {
        char *ods, *name;
    } orgs[WEB_ORG_CACHE];
    bool nav_has[32];                   /* per web_categories() index: has visible data */
    int64_t snapshot;                   /* store snapshot every query of the page reads at */
    int64_t version_seq, version_count; /* store_person_version(): the cache key */
    struct web_list all;                /* web_all(): the visible record, index columns only */
    bool all_loaded, all_complete;
    bool glass;                 /* break-glass in effect (shown in the banner) */
    bool under_review;          /* a record of the person is in an open identity review */
    struct authz_hidden hidden; /* what the scope hides of this record (set before render) */
};

/* What to fetch.  categories NULL: every category the scope allows. */
struct web_fetch {
    const char *const *categories;
    int ncategories;
    const char *type;
    const char *const *codes;
    int ncodes;
    const char *org; /* only this source organisation, NULL: any allowed */
    const char *date_ge, *date_lt;
    enum store_sort sort;
    int limit;
    const char *after;
    int64_t snapshot; /* 0: the page's snapshot (web_ctx.snapshot) */
    bool rows_only;   /* skip parsing the JSON (items' res stays NULL) */
};

/* Run f against the store with the scope applied; items appended to out.
 * Returns 0 (possibly with no rows: nothing allowed) or a negative error. */
int web_fetch(struct web_ctx *c, const struct web_fetch *f, struct web_list *out);
/* True when the scope lets the category be seen at all. */
bool web_scope_category(const struct web_ctx *c, const char *category);
/* Read one item of this person that the scope allows; WEFT_ENOTFOUND when
 * absent, not this person's or not allowed (indistinguishable on purpose). */
int web_get_item(struct web_ctx *c, const char *type, const char *id, struct web_item *out);
void web_item_clear(struct web_item *it);

/* Display name of an organisation (cached per request); never NULL. */
const char *web_org_name(struct web_ctx *c, const char *ods);

/* Layout (layout.c). */
void web_page_begin(struct web_ctx *c, const char *title);
void web_page_end(struct web_ctx *c);
/* The page frame without a patient (header, main, footer): the admin and
 * governance pages (admin_*.c). */
void web_frame_begin(struct buf *out, const char *service, const char *title);
void web_frame_end(struct buf *out);
/* The general, non-revealing notice that access rules may hide items, with
 * the way to break-glass; written when the scope is restricted. */
void web_withheld_notice(struct web_ctx *c);
/* What an empty list says (issue 11): "None recorded" text only when the
 * scope covers cats (NULL: every category) and every source organisation;
 * otherwise what the viewer cannot see, without revealing any withheld
 * item.  none_recorded: the exact statement for a complete view, e.g. "No
 * allergies or intolerances recorded."  Written as a <p id="id"> (id may be
 * NULL). */
void web_empty(struct web_ctx *c, const char *const *cats, int ncats, const char *none_recorded,
               const char *id);
/* True when the scope covers cats (NULL: every category) and every source
 * organisation, so an empty list means none recorded. */
bool web_scope_complete(const struct web_ctx *c, const char *const *cats, int ncats);
/* "<td>" cells: date, source organisation.  A missing date reads "Date not
 * recorded". */
void web_cell_date(struct web_ctx *c, const char *iso, bool with_time);
/* The date cell of an item: its clinical date, or "Date not recorded" with
 * the time Weft received it, labelled "received" (never as the date). */
void web_cell_item_date(struct web_ctx *c, const struct web_item *it, bool with_time);
/* The title of an item as lists show it: fmt_resource_title, and for an
 * encounter the organisation it was with. */
void web_item_title(struct web_ctx *c, struct buf *b, const struct web_item *it);
void web_cell_source(struct web_ctx *c, const struct store_row *row);
/* What a person entered themself (domain/contrib.h: source CONTRIB_SOURCE):
 * every list shows it with WEB_PATIENT_TAG (web_cell_source does), and the
 * results pages and charts keep it apart from the clinical values. */
bool web_row_patient_entered(const struct store_row *row);
#define WEB_PATIENT_TAG                                                                            \
    "<strong class=\"nhsuk-tag nhsuk-tag--purple weft-patient-tag\">Entered by the "               \
    "patient</strong>"
/* Link to an item page. */
void web_item_href(struct web_ctx *c, struct buf *b, const struct store_row *row);
/* Record what the page showed for the audit entry. */
void web_audit_note(struct web_ctx *c, const struct store_row *row);
/* Everything of the person the scope lets this page see, newest first, as
 * rows (JSON not parsed), read once per page with one query: the summary,
 * banner flags and navigation are cut from it.  Returns 0 and *out; when the
 * person has more than WEB_ALL_ROWS items, c->all_complete is false and
 * callers fall back to their own queries. */
#define WEB_ALL_ROWS 3000
int web_all(struct web_ctx *c, struct web_list **out);
/* Parse a row of a rows-only list in place (once); false when it does not
 * parse. */
bool web_item_parse(struct web_item *it);
/* Scan which categories have visible data (for navigation). */
int web_nav_scan(struct web_ctx *c);

/* Pages.  Each renders into c->out and returns the HTTP status, or a
 * negative error (the caller shows the error page). */
int web_page_summary(struct web_ctx *c);
int web_page_timeline(struct web_ctx *c);
int web_page_category(struct web_ctx *c, const struct web_category *cat);
int web_page_results(struct web_ctx *c, const struct web_category *cat);
int web_page_chart(struct web_ctx *c);
int web_page_item(struct web_ctx *c, const char *type, const char *id);
/* The break-glass form (GET) or request (POST) of the record page
 * (clinician_breakglass.c); 0 when it replied itself. */
int web_page_break_glass(struct web_ctx *c, bool post);
/* GET/POST /breakglass: the same form and request (clinician_breakglass.c). */
int web_breakglass_routes_add(struct http_server *srv, struct web *w);
/* Shared by the page files (web.c): response headers of every page, the
 * "your session has ended" page (401), releasing a page's context. */
void web_security_headers(struct http_req *req);
void web_session_ended(struct http_req *req);
void web_ctx_release(struct web_ctx *c);
/* The error page of the server's own errors under /patient (web.c). */
void web_render_error(struct http_req *req, int status, const char *message);
/* The handler of every /patient/... route (clinician_view.c). */
int web_patient_page(struct http_req *req, void *arg);
/* Register the access module's pages (access_pages.c). */
void web_access_pages_register(void);

/* Key measures: a name, the codes (any system) that mean it, and for blood
 * pressure the component codes of the two series (results.c). */
struct web_measure {
    const char *key;   /* URL key, e.g. "hba1c", "bp" */
    const char *label; /* "HbA1c" */
    const char *codes[8];
    const char *component[2]; /* systolic, diastolic LOINC; NULL otherwise */
};
const struct web_measure *web_measures(int *n);
const struct web_measure *web_measure_find(const char *key);
/* True when a stored code ("system|code" or "code") is one of m's codes. */
bool web_measure_has_code(const struct web_measure *m, const char *code);
/* Number of codes in m->codes. */
int web_measure_ncodes(const struct web_measure *m);

/* Standalone error page body into b (no banner). */
void web_error_html(struct buf *b, const char *service, const char *title, const char *what,
                    const char *next_step);
/* The same with a link (href, text) under "what to do next". */
void web_error_html_link(struct buf *b, const char *service, const char *title, const char *what,
                         const char *next_step, const char *href, const char *link_text);

/* Sort key for "newest first" lists: the row's effective date, else the
 * resource's own date. */
const char *web_item_date(const struct web_item *it);

#endif
