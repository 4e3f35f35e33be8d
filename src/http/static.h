/*
 * static.h - serving files from a directory (web assets: CSS, JS, images).
 *
 *     http_static_route(srv, "/assets", "/usr/share/weft/assets");
 *
 * registers GET /assets/... answering with the file under the directory.
 * Path traversal is refused at three levels: the router rejects encoded '/'
 * and NUL in a segment; this module refuses any segment that is empty, "."
 * or ".." or starts with '.'; and the resolved real path (symlinks followed)
 * must stay inside the directory's real path.  Only regular files are served.
 */
#ifndef WEFT_HTTP_STATIC_H
#define WEFT_HTTP_STATIC_H

#include "http/server.h"

/* Register GET url_prefix/ * for the files under dir (copied).  The
 * directory is resolved now: WEFT_ENOTFOUND when it does not exist. */
int http_static_route(struct http_server *srv, const char *url_prefix, const char *dir);

/* Serve rel (a '/'-separated path relative to root) as the reply of req:
 * 200 with the file, 404 when absent or refused.  root must be a real path
 * (no symlinks, no trailing '/'). */
void http_static_serve(struct http_req *req, const char *root, const char *rel);

/* The Content-Type for a file name by its extension. */
const char *http_static_content_type(const char *name);

#endif
