/*
 * web.h - the clinician's view of the joined-up record: server-rendered HTML
 * pages under /patient/{person id}, styled with nhsuk-frontend, no
 * JavaScript needed to read them (BRIEF §1, issue 5).
 *
 * `weft serve` creates one struct web and registers its routes:
 *
 *     struct web_config wc = {.assets_dir = NULL};
 *     struct web *web;
 *     web_init(&web, &wc);
 *     web_routes_add(srv, web);      before http_server_start()
 *     ...
 *     web_free(web);                  after http_server_free()
 *
 * Routes (all GET; every page view asks the authorisation point
 * authz_scope_for_person() and applies its scope to every store query, and is
 * audited; docs/ARCHITECTURE.md "Web" has the page list):
 *   /patient/{id}                         summary (the launch lands here)
 *   /patient/{id}/{page}                  timeline, a record category
 *                                         (allergies, results ...), chart,
 *                                         break-glass (the request form)
 *   /patient/{id}/item/{type}/{rid}       one item: document reader, report
 *   POST /patient/{id}/break-glass,       emergency access: one form, one handler
 *   GET/POST /breakglass                  (clinician_breakglass.c)
 *   /assets/weft.css                      Weft's few extra styles (built in)
 *   /assets/...                           nhsuk-frontend's built CSS/JS/images
 *                                         served from assets_dir (http/static.h
 *                                         refuses path traversal)
 *
 * Page views are audited through audit_record(): the one audit writer that
 * `weft serve`'s audit part installs (audit_serve.c), or a synchronous
 * append when none is installed (commands, tests).
 *
 * Error pages (expired or missing session, no permission, patient not found,
 * store unavailable) are HTML pages that say what to do next; other modules
 * that answer browsers (the /launch endpoint) can render the same page with
 * web_error_page().
 */
#ifndef WEFT_WEB_WEB_H
#define WEFT_WEB_WEB_H

struct http_server;
struct http_req;

struct web_config {
    /* Directory holding nhsuk-frontend's built files (the package's
     * dist/nhsuk folder).  NULL: $WEFT_ASSETS, else
     * ./node_modules/nhsuk-frontend/dist/nhsuk, else that path beside the
     * executable or two levels above it (the repository).  When it does not exist the
     * pages still work, unstyled, and a warning is logged. */
    const char *assets_dir;
    /* Where the break-glass form posts (the access module's endpoint);
     * NULL: "/break-glass". */
    const char *break_glass_action;
    /* Title in the header; NULL: "Weft shared care record". */
    const char *service_name;
    /* Rendered pages kept per store snapshot (web/cache.h): 0 = default
     * (1024 pages, at most 32 MiB); negative = no cache. */
    long cache_entries;
    /* How long break-glass started from the web form lasts (serve's
     * --breakglass-hours); 0: BREAKGLASS_HOURS_DEFAULT. */
    int breakglass_hours;
    /* Where the governance pages write subject access packages (serve's
     * --sar-dir; one folder sar-ID per request).  NULL: they offer only the
     * packages `weft sar export` wrote. */
    const char *sar_dir;
};

struct web;

/* Copy cfg into a new struct web (free with web_free). */
int web_init(struct web **out, const struct web_config *cfg);
void web_free(struct web *w);

/* Register the routes above on srv (before http_server_start).  w must
 * outlive the server. */
int web_routes_add(struct http_server *srv, struct web *w);

/* The page of req (route parameters id, page / type, rid and query arguments
 * already parsed; req->principal set) rendered with store handle s: the
 * authorisation check, the page or its error page into out (replaced), and
 * the audit entry.  Returns the HTTP status.  It neither replies nor reads
 * headers, so benchmarks and tests can call it with a struct http_req they
 * filled themselves.  (The route handler adds session and break-glass
 * handling around it.) */
struct store;
struct buf;
int web_view(struct web *w, struct http_req *req, struct store *s, struct buf *out);

/* Reply to req with a complete HTML error page: status, a heading, what
 * happened (plain text, escaped here) and what to do next (plain text). */
void web_error_page(struct http_req *req, int status, const char *title, const char *what,
                    const char *next_step);

#endif
