/*
 * static.c - files from a directory, with path traversal protection (see
 * static.h).  Files are sent with sendfile by libmicrohttpd (http_reply_file),
 * so a large asset costs no copy in user space.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/static.h"

/* Roots registered, freed at exit of the process (a handful of short strings
 * that live as long as the server; the server has no per-route destructor). */
struct static_root {
    char *dir;
    struct static_root *next;
};

const char *http_static_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static bool rel_is_safe(const char *rel)
{
    if (!*rel)
        return false;
    const char *p = rel;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || p[0] == '.' || memchr(p, '\\', n))
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

void http_static_serve(struct http_req *req, const char *root, const char *rel)
{
    if (!rel_is_safe(rel)) {
        http_reply_error(req, 404, "no such file");
        return;
    }
    struct buf path = BUF_INIT;
    buf_addf(&path, "%s/%s", root, rel);
    char *real = realpath(path.data, NULL);
    buf_release(&path);
    size_t rootlen = strlen(root);
    if (!real || strncmp(real, root, rootlen) != 0 || real[rootlen] != '/') {
        free(real);
        http_reply_error(req, 404, "no such file");
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        free(real);
        http_reply_error(req, 404, "no such file");
        return;
    }
    http_reply_header(req, "Cache-Control", "public, max-age=300");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_file(req, 200, http_static_content_type(real), fd, (uint64_t)st.st_size);
    free(real);
}

static int static_handler(struct http_req *req, void *ctx)
{
    const struct static_root *r = ctx;
    const char *rel = http_req_param(req, "*");
    http_static_serve(req, r->dir, rel && *rel ? rel : "index.html");
    return 0;
}

static struct static_root *roots;

static void roots_free(void)
{
    while (roots) {
        struct static_root *r = roots;
        roots = r->next;
        free(r->dir);
        free(r);
    }
}

int http_static_route(struct http_server *srv, const char *url_prefix, const char *dir)
{
    char *real = realpath(dir, NULL);
    if (!real)
        return errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO;
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(real);
        return WEFT_ENOTFOUND;
    }
    struct static_root *r = xcalloc(1, sizeof *r);
    r->dir = real;
    if (!roots)
        atexit(roots_free);
    r->next = roots;
    roots = r;
    struct buf pat = BUF_INIT;
    buf_adds(&pat, url_prefix);
    if (pat.len == 0 || pat.data[pat.len - 1] != '/')
        buf_addc(&pat, '/');
    buf_addc(&pat, '*');
    int rc = http_route_add(srv, "GET", pat.data, static_handler, r, 0);
    buf_release(&pat);
    return rc;
}
