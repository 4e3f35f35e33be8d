/*
 * read_standby.c - which callers' record reads may go to the read standby
 * (weft serve --db-read; access/read.h, struct access_read, data).
 *
 * The rule (docs/OPERATIONS.md, "A hot standby for reads"): what a caller
 * reads may lag only when it cannot be something that caller wrote.  Staff
 * (launched sessions, SMART app tokens) and API clients without write
 * access write no records through Weft, so the rows of a record they read
 * may come from the standby; a client that may write (a feed, a GP system
 * sending bundles) reads from the primary always - on whichever node it
 * wrote, so no node needs to remember who wrote what - and so do citizens,
 * who add their own readings.  Every decision (sessions, tokens, launch,
 * agreements, objections, break-glass, policy), every audit entry and every
 * write is the primary's in any case: this only chooses where the rows of
 * an already decided, person-scoped read come from.
 */
#include "access/authz.h"
#include "access/read.h"
#include "http/server.h"

struct store *access_read_standby(struct http_req *req)
{
    const struct principal *p = &req->principal;
    if (p->kind != PRINCIPAL_USER && p->kind != PRINCIPAL_CLIENT)
        return NULL;
    if (authz_may_write(p))
        return NULL;
    return http_req_store_read(req);
}
