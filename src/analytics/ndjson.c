/*
 * ndjson.c - NDJSON output files for FHIR Bulk Data exports (ndjson.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/ndjson.h"
#include "core/err.h"

#define FLUSH_AT (1u << 20)

int ndjson_writer_open(struct ndjson_writer *w, const char *path)
{
    memset(w, 0, sizeof *w);
    w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0)
        return errno == EEXIST ? WEFT_EEXIST : WEFT_EIO;
    w->path = xstrdup(path);
    buf_init(&w->buf);
    return WEFT_OK;
}

static int flush(struct ndjson_writer *w)
{
    size_t off = 0;
    while (off < w->buf.len) {
        ssize_t n = write(w->fd, w->buf.data + off, w->buf.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return WEFT_EIO;
        off += (size_t)n;
    }
    buf_reset(&w->buf);
    return WEFT_OK;
}

int ndjson_writer_add(struct ndjson_writer *w, const char *json, size_t len)
{
    size_t i = 0;
    while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
        i++;
    if (i == len || json[i] != '{')
        return WEFT_EINVAL;
    size_t start = w->buf.len;
    buf_add(&w->buf, json + i, len - i);
    /* raw line breaks can only be white space between tokens */
    char *p = w->buf.data + start;
    for (char *e = w->buf.data + w->buf.len; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        *p = ' ';
    p = w->buf.data + start;
    for (char *e = w->buf.data + w->buf.len; (p = memchr(p, '\r', (size_t)(e - p))) != NULL; p++)
        *p = ' ';
    buf_addc(&w->buf, '\n');
    w->lines++;
    w->bytes += (int64_t)(len - i + 1);
    return w->buf.len >= FLUSH_AT ? flush(w) : WEFT_OK;
}

int ndjson_writer_close(struct ndjson_writer *w)
{
    if (w->fd < 0)
        return WEFT_OK;
    int rc = flush(w);
    if (rc == 0 && fsync(w->fd) != 0)
        rc = WEFT_EIO;
    if (close(w->fd) != 0 && rc == 0)
        rc = WEFT_EIO;
    w->fd = -1;
    if (rc != 0)
        unlink(w->path);
    buf_release(&w->buf);
    free(w->path);
    w->path = NULL;
    return rc;
}

void ndjson_writer_abort(struct ndjson_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        unlink(w->path);
    }
    buf_release(&w->buf);
    free(w->path);
    w->path = NULL;
}
