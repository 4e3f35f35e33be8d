/*
 * send.c - replay a generated region through the real feed paths (see
 * send.h).
 *
 * Threads: `connections` workers take whole feeds from a shared index (so a
 * feed's order is kept), plus one progress thread when stderr is a terminal.
 * The counters a worker updates belong to its feed alone; the progress
 * counter is atomic.  Clients are minimal on purpose and speak only what
 * Weft's listeners speak: MLLP frames (feeds/mllp_frame.h) and HTTP/1.1 with
 * Content-Length or chunked responses.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "feeds/mllp_frame.h"
#include "synth/send.h"

enum { K_HL7, K_FHIR, K_CSV };

struct feed {
    char name[80], ods[16], facility[32];
    int kind;
    char **files;
    int nfiles;
    long records;
    char *token;
    char *folder;
    /* results */
    long sent, aa, ae, ar, other, errors, skipped;
    long csv_ok, csv_partial, csv_failed, csv_timeout;
    char last_error[160];
};

struct run {
    const struct synth_send_opts *o;
    struct feed *feeds;
    int nfeeds;
    atomic_int next;
    atomic_long done;
    long total;
    atomic_int finished;
    char host[256], port[16];   /* MLLP */
    char hhost[256], hport[16]; /* HTTP */
    char hpath[256];
};

/* ---- sockets -------------------------------------------------------------- */

static int split_hostport(const char *s, char *host, size_t hl, char *port, size_t pl)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return WEFT_EINVAL;
    size_t n = (size_t)(colon - s);
    if (*s == '[' && colon[-1] == ']') { /* [::1]:2575 */
        s++;
        n -= 2;
    }
    if (n >= hl || strlen(colon + 1) >= pl)
        return WEFT_EINVAL;
    memcpy(host, s, n);
    host[n] = 0;
    snprintf(port, pl, "%s", colon + 1);
    return 0;
}

static int dial(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
        return -1;
    }
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_add(&b, tmp, n);
    fclose(f);
    return buf_detach(&b, len);
}

/* ---- MLLP ----------------------------------------------------------------- */

/* Send one message and wait for its ACK; returns the MSA-1 code ("AA", ...)
 * in code, or -1 on a connection failure (the caller reconnects). */
static int mllp_exchange(int fd, struct mllp_decoder *d, const char *msg, size_t len, char code[3])
{
    struct buf out = BUF_INIT;
    mllp_encode(msg, len, &out);
    int rc = send_all(fd, out.data, out.len);
    buf_release(&out);
    if (rc)
        return -1;
    for (;;) {
        const char *frame;
        size_t flen;
        int n = mllp_decoder_next(d, &frame, &flen);
        if (n == 1) {
            /* MSA-1: after "MSA" and the field separator */
            code[0] = code[1] = '?';
            code[2] = 0;
            for (size_t i = 0; i + 6 < flen; i++) {
                if ((i == 0 || frame[i - 1] == '\r' || frame[i - 1] == '\n') &&
                    memcmp(frame + i, "MSA", 3) == 0) {
                    code[0] = frame[i + 4];
                    code[1] = frame[i + 5];
                    break;
                }
            }
            return 0;
        }
        if (n < 0)
            continue; /* junk between frames: keep reading */
        char tmp[8192];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        mllp_decoder_feed(d, tmp, (size_t)r);
    }
}

static void send_hl7(struct run *run, struct feed *f)
{
    int fd = -1;
    bool dead = false;
    struct mllp_decoder d;
    mllp_decoder_init(&d, 0);
    for (int i = 0; i < f->nfiles; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", run->o->dir, f->files[i]);
        size_t len;
        char *data = slurp(path, &len);
        if (!data) {
            snprintf(f->last_error, sizeof f->last_error, "cannot read %s", f->files[i]);
            f->errors++;
            continue;
        }
        struct mllp_decoder fd_in;
        mllp_decoder_init(&fd_in, 0);
        mllp_decoder_feed(&fd_in, data, len);
        const char *msg;
        size_t mlen;
        int n;
        while ((n = mllp_decoder_next(&fd_in, &msg, &mlen)) != 0) {
            if (n < 0)
                continue;
            if (dead) { /* the listener is gone: do not wait 3 s per message */
                f->skipped++;
                atomic_fetch_add(&run->done, 1);
                continue;
            }
            char code[3];
            int tries = 0, rc = -1;
            while (tries++ < 3) {
                if (fd < 0) {
                    mllp_decoder_release(&d);
                    mllp_decoder_init(&d, 0);
                    fd = dial(run->host, run->port, f->last_error, sizeof f->last_error);
                    if (fd < 0) {
                        sleep(1);
                        continue;
                    }
                }
                rc = mllp_exchange(fd, &d, msg, mlen, code);
                if (rc == 0)
                    break;
                close(fd);
                fd = -1;
                snprintf(f->last_error, sizeof f->last_error,
                         "connection lost waiting for an ACK; resent");
            }
            f->sent++;
            if (rc) {
                f->errors++;
                dead = true; /* three tries failed: give up on this feed */
            } else if (!strcmp(code, "AA") || !strcmp(code, "CA")) {
                f->aa++;
            } else if (!strcmp(code, "AE") || !strcmp(code, "CE")) {
                f->ae++;
            } else if (!strcmp(code, "AR") || !strcmp(code, "CR")) {
                f->ar++;
            } else {
                f->other++;
            }
            atomic_fetch_add(&run->done, 1);
        }
        mllp_decoder_release(&fd_in);
        free(data);
    }
    if (fd >= 0)
        close(fd);
    mllp_decoder_release(&d);
}

/* ---- HTTP ----------------------------------------------------------------- */

struct http_conn {
    int fd;
    struct buf in; /* received, not yet consumed */
};

static int fill(struct http_conn *c)
{
    char tmp[16384];
    for (;;) {
        ssize_t r = recv(c->fd, tmp, sizeof tmp, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        buf_add(&c->in, tmp, (size_t)r);
        return 0;
    }
}

static void consume(struct http_conn *c, size_t n)
{
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    buf_truncate(&c->in, c->in.len - n);
}

static bool header_has(const char *hdrs, const char *name, const char *value)
{
    size_t nl = strlen(name);
    for (const char *p = hdrs; (p = strchr(p, '\n')) != NULL;) {
        p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            if (!value)
                return true;
            const char *e = strpbrk(v, "\r\n");
            size_t vl = e ? (size_t)(e - v) : strlen(v);
            for (size_t i = 0; i + strlen(value) <= vl; i++)
                if (strncasecmp(v + i, value, strlen(value)) == 0)
                    return true;
        }
    }
    return false;
}

static long header_long(const char *hdrs, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = hdrs; (p = strchr(p, '\n')) != NULL;) {
        p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return strtol(p + nl + 1, NULL, 10);
    }
    return -1;
}

/* POST body; returns the HTTP status, or -1 on a connection failure.  The
 * response body is read and dropped (its first bytes go to note). */
static int http_post(struct run *run, struct http_conn *c, const char *token, const char *body,
                     size_t len, bool *close_after)
{
    struct buf req = BUF_INIT;
    buf_addf(&req,
             "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/fhir+json\r\n"
             "Accept: application/fhir+json\r\nContent-Length: %zu\r\n",
             run->hpath, run->hhost, run->hport, len);
    if (token)
        buf_addf(&req, "Authorization: Bearer %s\r\n", token);
    buf_adds(&req, "\r\n");
    buf_add(&req, body, len);
    int rc = send_all(c->fd, req.data, req.len);
    buf_release(&req);
    if (rc)
        return -1;
    char *end;
    while (!(end = strstr(c->in.data, "\r\n\r\n")))
        if (fill(c))
            return -1;
    size_t hlen = (size_t)(end - c->in.data) + 4;
    char *hdrs = xstrndup(c->in.data, hlen);
    int status = 0;
    if (sscanf(hdrs, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    *close_after = header_has(hdrs, "Connection", "close");
    long clen = header_long(hdrs, "Content-Length");
    bool chunked = header_has(hdrs, "Transfer-Encoding", "chunked");
    free(hdrs);
    consume(c, hlen);
    if (chunked) {
        for (;;) {
            char *crlf;
            while (!(crlf = strstr(c->in.data, "\r\n")))
                if (fill(c))
                    return -1;
            long sz = strtol(c->in.data, NULL, 16);
            size_t need = (size_t)(crlf - c->in.data) + 2 + (size_t)sz + 2;
            while (c->in.len < need)
                if (fill(c))
                    return -1;
            consume(c, need);
            if (sz == 0)
                break;
        }
    } else if (clen > 0) {
        while (c->in.len < (size_t)clen)
            if (fill(c))
                return -1;
        consume(c, (size_t)clen);
    } else if (clen < 0 && !chunked) {
        /* no length: body runs to the close */
        while (fill(c) == 0)
            ;
        *close_after = true;
        buf_reset(&c->in);
    }
    return status;
}

static void send_fhir(struct run *run, struct feed *f)
{
    bool dead = false;
    struct http_conn c = {.fd = -1};
    buf_init(&c.in);
    const char *token = f->token ? f->token : run->o->token;
    if (!token) {
        snprintf(f->last_error, sizeof f->last_error,
                 "no bearer token for this feed (credentials.json or --token)");
    }
    for (int i = 0; i < f->nfiles; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", run->o->dir, f->files[i]);
        size_t len;
        char *data = slurp(path, &len);
        if (!data) {
            snprintf(f->last_error, sizeof f->last_error, "cannot read %s", f->files[i]);
            f->errors++;
            continue;
        }
        char *line = data, *nl;
        while ((nl = memchr(line, '\n', (size_t)(data + len - line))) != NULL) {
            size_t ll = (size_t)(nl - line);
            if (dead) { /* the server is gone: do not wait 3 s per bundle */
                f->skipped++;
                atomic_fetch_add(&run->done, 1);
                line = nl + 1;
                continue;
            }
            int status = -1, tries = 0;
            while (tries++ < 3) {
                if (c.fd < 0) {
                    buf_reset(&c.in);
                    c.fd = dial(run->hhost, run->hport, f->last_error, sizeof f->last_error);
                    if (c.fd < 0) {
                        sleep(1);
                        continue;
                    }
                }
                bool close_after = false;
                status = http_post(run, &c, token, line, ll, &close_after);
                if (status < 0 || close_after) {
                    close(c.fd);
                    c.fd = -1;
                }
                if (status >= 0)
                    break;
            }
            f->sent++;
            if (status < 0) {
                f->errors++;
                dead = true; /* three tries failed: give up on this feed */
            } else if (status >= 200 && status < 300) {
                f->aa++;
            } else {
                if (status >= 500)
                    f->ae++;
                else
                    f->ar++;
                snprintf(f->last_error, sizeof f->last_error, "HTTP %d from %.100s", status,
                         run->hpath);
            }
            atomic_fetch_add(&run->done, 1);
            line = nl + 1;
        }
        free(data);
    }
    if (c.fd >= 0)
        close(c.fd);
    buf_release(&c.in);
}

/* ---- CSV drop folders ------------------------------------------------------ */

static int copy_atomic(const char *src, const char *folder, const char *base, char *err,
                       size_t errlen)
{
    size_t len;
    char *data = slurp(src, &len);
    if (!data) {
        snprintf(err, errlen, "cannot read %.100s", src);
        return -1;
    }
    char tmp[1024], dst[1024];
    snprintf(tmp, sizeof tmp, "%s/.%s.part", folder, base);
    snprintf(dst, sizeof dst, "%s/%s", folder, base);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    int rc = -1;
    if (fd >= 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, data + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off == len && fsync(fd) == 0 && close(fd) == 0) {
            fd = -1;
            rc = rename(tmp, dst);
        }
        if (fd >= 0)
            close(fd);
    }
    if (rc)
        snprintf(err, errlen, "cannot drop %.40s into %.60s: %s", base, folder, strerror(errno));
    free(data);
    return rc;
}

/* Wait for the watcher to take base away and read its report. */
static void await_csv(struct run *run, struct feed *f, const char *base)
{
    char dst[1024], rep[1024];
    snprintf(dst, sizeof dst, "%s/%s", f->folder, base);
    int waited = 0;
    while (access(dst, F_OK) == 0 && waited < run->o->csv_wait_seconds * 10) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        waited++;
    }
    if (access(dst, F_OK) == 0) {
        f->csv_timeout++;
        snprintf(f->last_error, sizeof f->last_error,
                 "%.60s not picked up within %ds (is the folder watched?)", base,
                 run->o->csv_wait_seconds);
    } else {
        json_t *r = NULL;
        for (int attempt = 0; attempt < 20 && !r; attempt++) {
            snprintf(rep, sizeof rep, "%s/done/%s.report.json", f->folder, base);
            r = json_load_file(rep, 0, NULL);
            if (!r) {
                snprintf(rep, sizeof rep, "%s/failed/%s.report.json", f->folder, base);
                r = json_load_file(rep, 0, NULL);
            }
            if (!r) {
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        const char *st = r ? json_string_value(json_object_get(r, "status")) : NULL;
        if (st && !strcmp(st, "ok"))
            f->csv_ok++;
        else if (st && !strcmp(st, "partial"))
            f->csv_partial++;
        else
            f->csv_failed++;
        if (!st || strcmp(st, "ok"))
            snprintf(f->last_error, sizeof f->last_error, "%.60s: %s (see its report)", base,
                     st ? st : "no report");
        json_decref(r);
    }
    atomic_fetch_add(&run->done, 1);
}

/* Drop a CSV feed's files in manifest order.  Rows point at people sent
 * before them, so each people file is processed (taken away by the watcher)
 * before the files after it are dropped; the other kinds of one batch go in
 * together, since they only depend on people. */
static void send_csv(struct run *run, struct feed *f)
{
    if (!f->folder) {
        snprintf(f->last_error, sizeof f->last_error,
                 "no drop folder (credentials.json or --drop-root)");
        f->skipped += f->nfiles;
        return;
    }
    int *pending = xcalloc((size_t)f->nfiles + 1, sizeof *pending);
    int npending = 0;
    bool wait = run->o->csv_wait_seconds > 0;
    for (int i = 0; i <= f->nfiles; i++) {
        const char *base = NULL;
        if (i < f->nfiles) {
            base = strrchr(f->files[i], '/');
            base = base ? base + 1 : f->files[i];
        }
        if (i == f->nfiles || !strncmp(base, "people", 6)) {
            for (int k = 0; k < npending; k++) {
                const char *pb = strrchr(f->files[pending[k]], '/');
                await_csv(run, f, pb ? pb + 1 : f->files[pending[k]]);
            }
            npending = 0;
        }
        if (i == f->nfiles)
            break;
        char src[1024];
        snprintf(src, sizeof src, "%s/%s", run->o->dir, f->files[i]);
        f->sent++;
        if (copy_atomic(src, f->folder, base, f->last_error, sizeof f->last_error)) {
            f->errors++;
            atomic_fetch_add(&run->done, 1);
        } else if (!wait) {
            f->csv_ok++;
            atomic_fetch_add(&run->done, 1);
        } else if (!strncmp(base, "people", 6)) {
            await_csv(run, f, base);
        } else {
            pending[npending++] = i;
        }
    }
    free(pending);
}

/* ---- driver ---------------------------------------------------------------- */

static void *worker(void *arg)
{
    struct run *run = arg;
    for (;;) {
        int i = atomic_fetch_add(&run->next, 1);
        if (i >= run->nfeeds)
            break;
        struct feed *f = &run->feeds[i];
        if (f->kind == K_HL7)
            send_hl7(run, f);
        else if (f->kind == K_FHIR)
            send_fhir(run, f);
        else
            send_csv(run, f);
    }
    return NULL;
}

static void *progress(void *arg)
{
    struct run *run = arg;
    time_t t0 = time(NULL);
    while (!atomic_load(&run->finished)) {
        long d = atomic_load(&run->done);
        double frac = run->total ? (double)d / (double)run->total : 1;
        char bar[41];
        int fill_n = (int)(frac * 40);
        for (int k = 0; k < 40; k++)
            bar[k] = k < fill_n ? '#' : '.';
        bar[40] = 0;
        long secs = (long)(time(NULL) - t0);
        fprintf(stderr, "\r[%s] %5.1f%%  %ld of %ld records  %lds", bar, frac * 100, d, run->total,
                secs);
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fputc('\n', stderr);
    return NULL;
}

static json_t *find_cred(json_t *creds, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(creds, "feeds"), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && !strcmp(n, name))
            return c;
    }
    return NULL;
}

static int load_feeds(struct run *run, char *err, size_t errlen)
{
    const struct synth_send_opts *o = run->o;
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", o->dir);
    json_error_t je;
    json_t *man = json_load_file(path, 0, &je);
    if (!man) {
        snprintf(err, errlen, "cannot read '%s': %s", path, je.text);
        return WEFT_EINVAL;
    }
    json_t *creds = NULL;
    if (o->credentials) {
        creds = json_load_file(o->credentials, 0, &je);
        if (!creds) {
            snprintf(err, errlen, "cannot read '%s': %s", o->credentials, je.text);
            json_decref(man);
            return WEFT_EINVAL;
        }
    }
    size_t i, j, k;
    json_t *org, *feed, *file;
    json_array_foreach(json_object_get(man, "organisations"), i, org)
    {
        json_array_foreach(json_object_get(org, "feeds"), j, feed)
        {
            const char *kind = json_string_value(json_object_get(feed, "kind"));
            int kd = !strcmp(kind, "hl7v2") ? K_HL7 : !strcmp(kind, "fhir") ? K_FHIR : K_CSV;
            if (o->only && strcmp(o->only, kind))
                continue;
            if ((kd == K_HL7 && !o->mllp) || (kd == K_FHIR && !o->http) ||
                (kd == K_CSV && !o->drop_root && !o->credentials))
                continue;
            run->feeds = xrealloc(run->feeds, sizeof *run->feeds * (size_t)(run->nfeeds + 1));
            struct feed *f = &run->feeds[run->nfeeds++];
            memset(f, 0, sizeof *f);
            snprintf(f->name, sizeof f->name, "%s",
                     json_string_value(json_object_get(feed, "name")));
            snprintf(f->ods, sizeof f->ods, "%s", json_string_value(json_object_get(org, "ods")));
            const char *fac = json_string_value(json_object_get(feed, "facility"));
            snprintf(f->facility, sizeof f->facility, "%s", fac ? fac : "");
            f->kind = kd;
            f->records = (long)json_integer_value(json_object_get(feed, "records"));
            json_t *files = json_object_get(feed, "files");
            f->files = xcalloc(json_array_size(files) + 1, sizeof *f->files);
            json_array_foreach(files, k, file) f->files[f->nfiles++] =
                xstrdup(json_string_value(file));
            json_t *c = creds ? find_cred(creds, f->name) : NULL;
            const char *tok = c ? json_string_value(json_object_get(c, "token")) : NULL;
            const char *folder = c ? json_string_value(json_object_get(c, "folder")) : NULL;
            if (tok)
                f->token = xstrdup(tok);
            if (folder) {
                f->folder = xstrdup(folder);
            } else if (kd == K_CSV && o->drop_root) {
                struct buf b = BUF_INIT;
                buf_addf(&b, "%s/%s", o->drop_root, f->name);
                f->folder = buf_detach(&b, NULL);
            }
            run->total += kd == K_CSV ? f->nfiles : f->records;
        }
    }
    json_decref(creds);
    json_decref(man);
    return 0;
}

static void free_feeds(struct run *run)
{
    for (int i = 0; i < run->nfeeds; i++) {
        for (int k = 0; k < run->feeds[i].nfiles; k++)
            free(run->feeds[i].files[k]);
        free(run->feeds[i].files);
        free(run->feeds[i].token);
        free(run->feeds[i].folder);
    }
    free(run->feeds);
}

int synth_send(const struct synth_send_opts *o, FILE *out, struct synth_send_totals *t, char *err,
               size_t errlen)
{
    memset(t, 0, sizeof *t);
    struct run run = {.o = o};
    atomic_init(&run.next, 0);
    atomic_init(&run.done, 0);
    atomic_init(&run.finished, 0);
    if (o->mllp && split_hostport(o->mllp, run.host, sizeof run.host, run.port, sizeof run.port)) {
        snprintf(err, errlen, "--mllp wants HOST:PORT, not '%s'", o->mllp);
        return WEFT_EINVAL;
    }
    if (o->http) {
        const char *u = o->http;
        if (strncmp(u, "http://", 7)) {
            snprintf(err, errlen, "--http wants http://HOST:PORT[/fhir], not '%s'", u);
            return WEFT_EINVAL;
        }
        u += 7;
        const char *slash = strchr(u, '/');
        char hp[300];
        size_t n = slash ? (size_t)(slash - u) : strlen(u);
        if (n >= sizeof hp) {
            snprintf(err, errlen, "--http URL too long");
            return WEFT_EINVAL;
        }
        memcpy(hp, u, n);
        hp[n] = 0;
        if (!strchr(hp, ':')) {
            snprintf(err, errlen, "--http wants an explicit port: http://HOST:PORT");
            return WEFT_EINVAL;
        }
        if (split_hostport(hp, run.hhost, sizeof run.hhost, run.hport, sizeof run.hport)) {
            snprintf(err, errlen, "--http: bad host:port '%s'", hp);
            return WEFT_EINVAL;
        }
        const char *path = slash ? slash : "";
        size_t pl = strlen(path);
        while (pl && path[pl - 1] == '/')
            pl--;
        if (pl >= 5 && !strncmp(path + pl - 5, "/fhir", 5))
            snprintf(run.hpath, sizeof run.hpath, "%.*s", (int)pl, path);
        else
            snprintf(run.hpath, sizeof run.hpath, "%.*s/fhir", (int)pl, path);
    }
    int rc = load_feeds(&run, err, errlen);
    if (rc) {
        free_feeds(&run);
        return rc;
    }
    if (run.nfeeds == 0) {
        snprintf(err, errlen,
                 "nothing to send: give --mllp, --http and/or --drop-root "
                 "(or --credentials)");
        free_feeds(&run);
        return WEFT_EINVAL;
    }
    int nthreads = o->connections > 0 ? o->connections : 4;
    if (nthreads > run.nfeeds)
        nthreads = run.nfeeds;
    pthread_t th[64], pt;
    if (nthreads > 64)
        nthreads = 64;
    bool bar = o->progress && isatty(2);
    if (bar)
        pthread_create(&pt, NULL, progress, &run);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, worker, &run);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&run.finished, 1);
    if (bar)
        pthread_join(pt, NULL);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

    fprintf(out, "%-16s %-6s %8s %8s %6s %6s %6s %s\n", "feed", "kind", "sent", "accepted",
            "AE/5xx", "AR/4xx", "errors", "last error");
    for (int i = 0; i < run.nfeeds; i++) {
        struct feed *f = &run.feeds[i];
        long accepted = f->kind == K_CSV ? f->csv_ok + f->csv_partial : f->aa;
        long rej = f->kind == K_CSV ? f->csv_failed : f->ae + f->ar + f->other;
        fprintf(out, "%-16s %-6s %8ld %8ld %6ld %6ld %6ld %s\n", f->name,
                f->kind == K_HL7    ? "hl7v2"
                : f->kind == K_FHIR ? "fhir"
                                    : "csv",
                f->sent, accepted, f->kind == K_CSV ? f->csv_partial : f->ae,
                f->kind == K_CSV ? f->csv_failed : f->ar + f->other,
                f->errors + f->csv_timeout + f->skipped, f->last_error);
        t->sent += f->sent;
        t->accepted += accepted;
        t->rejected += rej + (f->kind == K_CSV ? f->csv_partial : 0);
        t->errors += f->errors + f->csv_timeout;
        t->skipped += f->skipped;
    }
    fprintf(out,
            "total: %ld sent, %ld accepted, %ld rejected, %ld errors, %ld skipped in %.1fs "
            "(%.0f records/s)\n",
            t->sent, t->accepted, t->rejected, t->errors, t->skipped, secs,
            secs > 0 ? t->sent / secs : 0.0);
    free_feeds(&run);
    return t->rejected || t->errors || t->skipped ? 1 : 0;
}
