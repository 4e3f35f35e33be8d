/*
 * web.c - the web part of `weft serve` and the rendering core's frame:
 * web_init/free, routes (the clinician's /patient pages, clinician_view.c;
 * /breakglass, clinician_breakglass.c; the admin pages, admin_*.c; the
 * access module's pages, access_pages.c), the response headers and error
 * pages every page uses, Weft's own CSS and the nhsuk-frontend assets.
 * Pages are not cached by the browser (no-store) and carry a strict
 * Content-Security-Policy: no scripts at all, styles and images from self.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access/breakglass.h"
#include "access/form.h"
#include "access/org.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "http/serve.h"
#include "http/server.h"
#include "http/static.h"
#include "web/admin.h"
#include "web/cache.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/web_int.h"
#include "web/web_serve.h"
#include "store/access.h"
#include "store/records.h"

#define SERVICE_DEFAULT "Weft shared care record"

/* Weft's own styles on top of nhsuk-frontend: the banner, flags, navigation,
 * filters and charts.  Colours are from the NHS palette with WCAG 2.1 AA
 * contrast against their backgrounds. */
static const char weft_css[] =
    ".weft-pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f0f4f5;padding:12px;"
    "max-height:32em;overflow:auto;font-size:0.875rem}\n"
    ".weft-banner{background:#f0f4f5;border-bottom:4px solid #005eb8;padding:12px 0}\n"
    ".weft-banner__name{font-size:1.5rem;font-weight:600;margin:0 0 8px}\n"
    ".weft-banner__details{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0}\n"
    ".weft-banner__details div{display:flex;gap:6px}\n"
    ".weft-banner__details dt{font-weight:600}\n"
    ".weft-banner__details dd{margin:0}\n"
    ".weft-flags{list-style:none;margin:12px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:8px}\n"
    ".weft-flag{display:inline-block;padding:6px 12px;font-weight:600;text-decoration:none;"
    "border:2px solid currentColor}\n"
    ".weft-flag--eol{background:#330072;color:#fff}\n"
    ".weft-flag--eol:visited{color:#fff}\n"
    ".weft-flag--alert{background:#fff;color:#8a1538}\n"
    ".weft-flag--safeguarding{background:#fff;color:#7c2855}\n"
    ".weft-flag:focus{outline:4px solid #ffeb3b;background:#ffeb3b;color:#212b32}\n"
    ".weft-breakglass{background:#d5281b;color:#fff;padding:8px 12px;margin:12px 0 0}\n"
    ".weft-nav{background:#005eb8}\n"
    ".weft-nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap}\n"
    ".weft-nav li{margin:0}\n"
    ".weft-nav a{display:block;padding:10px 12px;color:#fff;text-decoration:none}\n"
    ".weft-nav a:visited{color:#fff}\n"
    ".weft-nav a[aria-current=page]{background:#003087;text-decoration:underline}\n"
    ".weft-nav a:hover{text-decoration:underline}\n"
    ".weft-nav a:focus{background:#ffeb3b;color:#212b32;outline:none;box-shadow:0 -2px "
    "#ffeb3b,0 4px #212b32}\n"
    ".weft-muted{color:#4c6272}\n"
    ".weft-table{font-size:1rem}\n"
    ".weft-nowrap{white-space:nowrap}\n"
    ".weft-type{color:#4c6272;font-size:.875rem}\n"
    ".weft-oor{color:#8a1538}\n"
    ".weft-row-oor th,.weft-row-oor td{background:#fdf2f4}\n"
    ".weft-filters{display:flex;flex-wrap:wrap;gap:0 16px;align-items:flex-end}\n"
    ".weft-filter{margin-bottom:16px}\n"
    ".weft-filter--button .nhsuk-button{margin-bottom:0}\n"
    ".weft-charts{display:flex;flex-wrap:wrap;gap:16px}\n"
    ".weft-chart-card{flex:1 1 420px;max-width:520px}\n"
    ".weft-figure{margin:0 0 8px}\n"
    ".weft-chart{width:100%;height:auto;border:1px solid #d8dde0}\n"
    ".weft-document__text{background:#fff;border-left:4px solid #005eb8;padding:12px 16px;"
    "margin-bottom:16px;white-space:normal}\n"
    ".weft-break{word-break:break-all}\n"
    ".weft-footer{border-top:4px solid #005eb8;padding:16px 0;margin-top:32px}\n"
    ".weft-section{margin-bottom:24px}\n"
    /* issue 11: the objection banner, undated items, and a layout whose main
     * content starts on the first screen (1280x1000 and 390x844) */
    ".weft-objection{background:#fff9c4;border-left:8px solid #ffeb3b;color:#212b32;"
    "padding:8px 12px;margin:12px 0 0}\n"
    ".weft-objection p{margin:0}\n"
    /* issue 13: a pending identity review, said neutrally */
    ".weft-identity-review{background:#e8edee;border-left:8px solid #768692;color:#212b32;"
    "padding:8px 12px;margin:12px 0 0}\n"
    ".weft-received{color:#4c6272;font-size:.875rem}\n"
    ".weft-nodate{color:#212b32}\n"
    ".weft-banner{padding:8px 0}\n"
    ".weft-banner__name{margin:0 0 4px}\n"
    ".weft-flags{margin:8px 0 0}\n"
    ".weft-flag{padding:2px 8px}\n"
    ".weft-breakglass{margin:8px 0 0;padding:6px 12px}\n"
    ".weft-nav a{padding:6px 10px;font-size:1rem}\n"
    ".nhsuk-header__container{padding-top:8px;padding-bottom:8px}\n"
    "main.nhsuk-main-wrapper{padding-top:16px}\n"
    "main .nhsuk-heading-l{margin-bottom:12px}\n"
    ".weft-filter-box{margin-bottom:12px}\n"
    ".weft-scroll{overflow-x:auto;max-width:100%}\n"
    ".weft-filter-box summary{cursor:pointer;color:#005eb8;text-decoration:underline;"
    "margin-bottom:8px}\n"
    "@media (max-width:640px){"
    ".weft-nav ul{flex-wrap:nowrap;overflow-x:auto}"
    ".weft-nav li{flex:0 0 auto}"
    ".weft-banner__name{font-size:1.25rem}"
    ".weft-banner__details{font-size:.875rem;gap:0 12px}"
    ".weft-table{display:block;overflow-x:auto}"
    ".weft-table td,.weft-table th{min-width:7em}"
    ".weft-flag{font-size:.875rem}"
    "main.nhsuk-main-wrapper{padding-top:8px}"
    "}\n";

/* nhsuk-frontend's dist folder when none was configured: under the current
 * directory, else beside the executable or two levels up from it (the
 * repository when run as ./weft or build/san/weft).  Caller frees. */
static char *default_assets(void)
{
    static const char rel[] = "node_modules/nhsuk-frontend/dist/nhsuk";
    struct stat st;
    if (stat(rel, &st) == 0 && S_ISDIR(st.st_mode))
        return xstrdup(rel);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        static const char *const ups[] = {"", "/../.."};
        for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
            struct buf b = BUF_INIT;
            buf_addf(&b, "%s%s/%s", exe, ups[i], rel);
            if (stat(b.data, &st) == 0 && S_ISDIR(st.st_mode))
                return buf_detach(&b, NULL);
            buf_release(&b);
        }
    }
    return xstrdup(rel);
}

int web_init(struct web **out, const struct web_config *cfg)
{
    struct web *w = xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->version_mu, NULL);
    const char *assets = cfg && cfg->assets_dir ? cfg->assets_dir : getenv("WEFT_ASSETS");
    w->assets_dir = assets && *assets ? xstrdup(assets) : default_assets();
    w->break_glass_action =
        cfg && cfg->break_glass_action ? xstrdup(cfg->break_glass_action) : NULL;
    w->service_name = xstrdup(cfg && cfg->service_name ? cfg->service_name : SERVICE_DEFAULT);
    w->breakglass_hours =
        cfg && cfg->breakglass_hours > 0 ? cfg->breakglass_hours : BREAKGLASS_HOURS_DEFAULT;
    w->sar_dir = cfg && cfg->sar_dir && *cfg->sar_dir ? xstrdup(cfg->sar_dir) : NULL;
    long entries = cfg && cfg->cache_entries ? cfg->cache_entries : WEB_CACHE_ENTRIES_DEFAULT;
    w->cache = web_cache_new(entries > 0 ? (size_t)entries : 0, WEB_CACHE_BYTES_DEFAULT);
    *out = w;
    return WEFT_OK;
}

void web_free(struct web *w)
{
    if (!w)
        return;
    free(w->assets_dir);
    free(w->break_glass_action);
    free(w->service_name);
    free(w->sar_dir);
    web_cache_free(w->cache);
    pthread_mutex_destroy(&w->version_mu);
    free(w);
}

void web_security_headers(struct http_req *req)
{
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_header(req, "X-Frame-Options", "DENY");
    http_reply_header(req, "Referrer-Policy",
                      "same-origin"); /* no-referrer would make form posts say Origin: null */
    http_reply_header(req, "Content-Security-Policy",
                      "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                      "font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                      "base-uri 'none'");
}

void web_error_page(struct http_req *req, int status, const char *title, const char *what,
                    const char *next_step)
{
    struct buf b = BUF_INIT;
    http_req_reason(req, title);
    web_error_html(&b, SERVICE_DEFAULT, title, what, next_step);
    web_security_headers(req);
    http_reply_buf(req, status, "text/html; charset=utf-8", &b);
}

/* Error renderer for server-made errors under /patient (no route, 405...). */
void web_render_error(struct http_req *req, int status, const char *message)
{
    if (status == 404)
        web_error_page(req, 404, "Page not found", "There is no page at this address.",
                       "Go back to the patient's summary, or open the patient again from your "
                       "own clinical system.");
    else
        web_error_page(req, status, "Sorry, there is a problem", message,
                       "Go back and try again. If it keeps happening, tell your IT service "
                       "desk the time it happened.");
}

void web_session_ended(struct http_req *req)
{
    web_error_page(req, 401, "Your session has ended",
                   "You are not signed in to the shared care record, or your session has "
                   "expired. Sessions end after a working day and when the launch link has "
                   "been used or has run out of time.",
                   "Go back to your own clinical system and open the shared care record for "
                   "the patient again from there.");
}

static int css_handler(struct http_req *req, void *arg)
{
    (void)arg;
    http_reply_header(req, "Cache-Control", "public, max-age=3600");
    http_reply(req, 200, "text/css; charset=utf-8", weft_css, sizeof weft_css - 1);
    return 0;
}

int web_routes_add(struct http_server *srv, struct web *w)
{
    static const char *const get_patterns[] = {
        "/patient/{id}",
        "/patient/{id}/{page}",
        "/patient/{id}/item/{type}/{rid}",
    };
    int rc;
    for (size_t i = 0; i < sizeof get_patterns / sizeof get_patterns[0]; i++)
        if ((rc = http_route_add(srv, "GET", get_patterns[i], web_patient_page, w, 0)) < 0)
            return rc;
    if ((rc = http_route_add(srv, "POST", "/patient/{id}/{page}", web_patient_page, w, 0)) < 0)
        return rc;
    if ((rc = http_route_add(srv, "GET", "/assets/weft.css", css_handler, w, 0)) < 0)
        return rc;
    if ((rc = web_analytics_routes_add(srv, w)) < 0) /* /analytics/risk-list */
        return rc;
    if ((rc = web_analytics_flow_routes_add(srv, w)) < 0) /* /analytics/flow */
        return rc;
    if ((rc = web_analytics_service_routes_add(srv, w)) < 0) /* /analytics/service */
        return rc;
    if ((rc = web_admin_dq_routes_add(srv, w)) < 0) /* /admin/dq, /admin/governance */
        return rc;
    if ((rc = web_breakglass_routes_add(srv, w)) < 0) /* /breakglass */
        return rc;
    if ((rc = web_admin_identity_routes_add(srv, w)) < 0) /* /admin/identity */
        return rc;
    if ((rc = web_admin_objection_routes_add(srv, w)) < 0) /* /admin/objections */
        return rc;
    if ((rc = web_admin_sar_routes_add(srv, w)) < 0) /* /admin/governance/sar */
        return rc;
    if ((rc = web_admin_feeds_routes_add(srv, w)) < 0) /* the feeds console, /admin/feeds */
        return rc;
    http_server_error_renderer(srv, "/patient", web_render_error);
    /* nhsuk-frontend's CSS refers to /assets/images/...; its images live in
     * the package's assets/images folder, everything else at the top. */
    struct buf images = BUF_INIT;
    buf_addf(&images, "%s/assets/images", w->assets_dir);
    rc = http_static_route(srv, "/assets/images", images.data);
    buf_release(&images);
    if (rc == WEFT_OK)
        rc = http_static_route(srv, "/assets", w->assets_dir);
    if (rc == WEFT_ENOTFOUND) {
        log_warn("web",
                 "nhsuk-frontend assets not found under %s (run npm install or set "
                 "--assets): pages will be unstyled",
                 w->assets_dir);
        rc = WEFT_OK;
    }
    return rc;
}

/* ---- the serve part ---------------------------------------------------------- */

struct web_part {
    struct web *web;
};

int web_serve_start(const struct serve_ctx *ctx, void **state)
{
    struct web_part *part = xcalloc(1, sizeof *part);
    int rc;
    long cache = 0;
    if (opts_get_long(ctx->opts, "web-cache", WEB_CACHE_ENTRIES_DEFAULT, &cache) != 0 ||
        cache < 0) {
        fprintf(stderr, "weft serve: --web-cache must be a number of pages (0 = off)\n");
        free(part);
        return WEFT_EINVAL;
    }
    long bg = 0; /* validated (1-72) by the access part, which owns the option */
    if (opts_get_long(ctx->opts, "breakglass-hours", BREAKGLASS_HOURS_DEFAULT, &bg) != 0 ||
        bg < 1 || bg > 72)
        bg = BREAKGLASS_HOURS_DEFAULT;
    struct web_config cfg = {.assets_dir = opts_get(ctx->opts, "assets"),
                             .cache_entries = cache == 0 ? -1 : cache,
                             .breakglass_hours = (int)bg,
                             .sar_dir = opts_get(ctx->opts, "sar-dir")};
    web_init(&part->web, &cfg);
    web_access_pages_register(); /* the access module's pages, in the shared layout */
    rc = web_routes_add(ctx->http, part->web);
    if (rc < 0) {
        fprintf(stderr, "weft serve: cannot register the web pages: %s\n", weft_strerror(rc));
        web_free(part->web);
        free(part);
        return rc;
    }
    *state = part;
    return WEFT_OK;
}

void web_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct web_part *part = state;
    if (!part)
        return;
    web_free(part->web);
    free(part);
}
