/*
 * admin.h - the data-quality pages (admin_dq.c) and the governance console
 * (admin_gov.c): server-rendered pages under /admin for staff signed in the
 * same way as for a record (a launched session), authorised by the policy's
 * capabilities (audit-review: every organisation and the console;
 * dq-review: the data-quality pages of the user's own organisation).
 *
 *   GET  /admin/dq                           organisations' scores (newest runs)
 *   GET  /admin/dq/{ods}                     one organisation's report: scores,
 *                                            trend chart, checks, feed lag, failures
 *   GET  /admin/dq/{ods}/failures.csv        its failing records (the CLI's CSV)
 *   GET  /admin/governance                   the console's index and audit chain
 *   GET  /admin/governance/access?nhs=N      who viewed a record
 *   GET  /admin/governance/breakglass        break-glass reviews (overdue flagged)
 *   POST /admin/governance/breakglass/{id}   record a review's outcome
 *   GET  /admin/governance/agreements        agreements, expiring, sending without
 *   GET  /admin/governance/feeds             feeds health
 *   GET  /admin/governance/policy            role x category matrix and history
 *   POST /admin/governance/audit/verify      verify the chain now
 *   GET  /analytics/risk-list[?format=csv]   the GP practice's risk list
 *                                            (analytics_risk.c; authz_risk_list)
 *   GET  /analytics/flow[?format=csv]        patient flow, secondary use
 *                                            (analytics_flow.c; authz_secondary_use)
 *   GET  /analytics/service[?format=csv]     service management, secondary use
 *                                            (analytics_service.c; authz_secondary_use)
 */
#ifndef WEFT_WEB_ADMIN_H
#define WEFT_WEB_ADMIN_H

#include <stdbool.h>

struct http_server;
struct http_req;
struct web;
struct buf;
struct store;

int web_admin_dq_routes_add(struct http_server *srv, struct web *w);
int web_admin_gov_routes_add(struct http_server *srv, struct web *w);
/* GET /analytics/risk-list (analytics_risk.c). */
int web_analytics_routes_add(struct http_server *srv, struct web *w);
/* GET /analytics/flow[?format=csv&from=&as-of=] (analytics_flow.c; authz_secondary_use). */
int web_analytics_flow_routes_add(struct http_server *srv, struct web *w);
/* GET /analytics/service[?format=csv&from=&as-of=] (analytics_service.c; authz_secondary_use). */
int web_analytics_service_routes_add(struct http_server *srv, struct web *w);
/* The identity review pages (admin_identity.c), for roles with the policy
 * capability identity-decide:
 *   GET  /admin/identity         the open reviews
 *   GET  /admin/identity/{id}    a pair side by side, with the decision form
 *   POST /admin/identity/{id}    decision=same|not-same|defer, note, csrf */
int web_admin_identity_routes_add(struct http_server *srv, struct web *w);
/* The staff pages of the objection workflow (admin_objection.c):
 *   GET/POST /admin/objections/lodge   lodge for a person (any launched staff)
 *   GET  /admin/objections             the review queue (objection-decide)
 *   GET  /admin/objections/{id}        the case, the person's record context
 *   POST /admin/objections/{id}        decision=upheld|not-upheld, rationale */
int web_admin_objection_routes_add(struct http_server *srv, struct web *w);
/* Subject access requests in the governance console (admin_sar.c), for
 * roles with audit-review:
 *   GET/POST /admin/governance/sar            the requests; log one
 *   GET  /admin/governance/sar/{id}           one request, its package's files
 *   POST /admin/governance/sar/{id}/extend    months=1|2, reason
 *   POST /admin/governance/sar/{id}/produce   write the package (--sar-dir)
 *   GET  /admin/governance/sar/{id}/{file}    a file of the package */
int web_admin_sar_routes_add(struct http_server *srv, struct web *w);

/* The feeds console (admin_feeds.c): the HTML of GET /admin/feeds,
 * /admin/feeds/{name}/messages and /admin/feeds/messages/{id} for browsers
 * (registered with feeds_console_set; the JSON stays for other callers), and
 *   POST /admin/feeds/messages/{id}/replay     apply a message again
 *   POST /admin/feeds/messages/{id}/resubmit   message=corrected copy (HL7 v2)
 * for roles with the policy capability feeds-admin (lists and status also
 * for audit-review). */
int web_admin_feeds_routes_add(struct http_server *srv, struct web *w);

/* Shared by the admin pages (admin_dq.c). */
/* The caller must be launched staff: false after replying 401/403. */
bool web_admin_user(struct http_req *req);
/* Reply with the page in b (taken) and the pages' security headers. */
void web_admin_reply(struct http_req *req, int status, struct buf *b);
/* The admin navigation; current is the path of the page shown. */
void web_admin_nav(struct buf *b, const char *current, bool governance);

/* Forms on staff pages (admin_form.c): the hidden CSRF field of the
 * session; the 303 to `to` after a POST; a posted form parsed into *kv
 * (caller frees with url_kv_free) with its CSRF token checked - false after
 * replying (400 unreadable, 403 CSRF), with nothing to free. */
struct url_kv;
void web_admin_csrf_field(struct buf *b, struct http_req *req);
void web_admin_redirect(struct http_req *req, const char *to);
bool web_admin_form_read(struct http_req *req, struct url_kv **kv, int *n);

#endif
