/*
 * my_int.h - inside the citizen's pages: the signed-in citizen (session),
 * page frame and the sign-in handlers (my_login.c) shared with the pages
 * (my.c).
 */
#ifndef WEFT_WEB_MY_INT_H
#define WEFT_WEB_MY_INT_H

#include <stdbool.h>

#include "core/principal.h"
#include "core/buf.h"
#include "store/citizen.h"

struct http_req;

#define MY_COOKIE "weft_citizen"
#define MY_IDLE_S (15 * 60)     /* signed out after 15 minutes without a request */
#define MY_ABSOLUTE_S (60 * 60) /* and 60 minutes after signing in, whatever */
#define MY_LEVEL_FOR_RECORD "P9"

/* The signed-in citizen of a request. */
struct my_citizen {
    struct store_citizen_session ss;
    struct principal p;
    bool signed_in;
    bool p9;             /* identity proved to P9: may see the record */
    const char *expired; /* static: why a session just ended, or NULL */
};

/* Find the session of req's cookie, end it when past its idle or absolute
 * limit, touch it otherwise; fill c.  0, or a store error. */
int my_citizen_get(struct http_req *req, struct store *s, struct my_citizen *c);
void my_citizen_clear(struct my_citizen *c);

/* The page frame (nhsuk-frontend, phone first) around body. */
void my_page(struct http_req *req, int status, const char *title, const struct my_citizen *c,
             struct buf *body);

/* Shared by the pages of other files (my_pages.c): the 503 page; the page
 * for someone not signed in or not proved to P9 (a P5 asking is audited);
 * a posted form parsed into *kv (caller frees with url_kv_free, also on
 * false) with its CSRF token and origin checked - false after replying 403
 * (audited); a form value or NULL. */
struct store;
struct url_kv;
int my_unavailable(struct http_req *req);
int my_need_p9(struct http_req *req, struct store *s, const struct my_citizen *c);
bool my_form_ok(struct http_req *req, struct store *s, const struct my_citizen *c,
                struct url_kv **kv, int *n);
const char *my_kv_get(const struct url_kv *kv, int n, const char *name);

/* The record summary of the home page (my_summary.c): counts per category,
 * newest items, through the scoped-read path, citizen-withhold applied,
 * audited; appended to body.  0 or an error (nothing useful appended). */
struct buf;
int my_summary(struct store *s, const struct my_citizen *c, struct buf *body);

/* GET/POST /my/contribute: the person's own readings, preferences and what
 * matters to them (my_contrib.c). */
int my_contribute_page(struct http_req *req, void *ctx);

/* Sign-in handlers (my_login.c). */
int my_login(struct http_req *req, void *ctx);
int my_callback(struct http_req *req, void *ctx);

#endif
