/*
 * accept_journal.c - the accept journal of enhanced acknowledgement mode
 * (accept_journal.h has the format and the promises).
 *
 * Workload: one writer appending batches of a few hundred to a few thousand
 * ~600-byte records (one write(2) of the whole batch, one fdatasync), and
 * one mover reading them back a moment later, usually from the page cache.
 * Reading the file, not a copy in memory, keeps the mover the same code at
 * start (records left by a crash) and while serving, and bounds memory
 * whatever the backlog.  The checksum is CRC-32C, with the CPU's instruction
 * where there is one: at 100,000 messages a second it is 60 MB/s of
 * checksumming.
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/powerloss.h"
#include "feeds/accept_journal.h"
#include "store/feeds.h"
#include "store/store.h"
#include "store/txn.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define AJ_MAGIC 0x314a4157u /* "WAJ1" */
#define AJ_HDR 24
#define AJ_FIXED 20 /* feed id + 5 lengths + 2 zero bytes */
#define AJ_MAX_PAYLOAD ((64u << 20) + 65536u)

/* ---- CRC-32C ------------------------------------------------------------------------- */

static uint32_t crc_table[256];

static void crc_table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
                                                         size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}
#endif

static uint32_t (*crc_fn)(uint32_t, const unsigned char *, size_t);

static void crc_init_once(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        crc_fn = crc_hw;
        return;
    }
#endif
    crc_table_init();
    crc_fn = crc_sw;
}

static uint32_t rec_crc(uint64_t seq, const char *payload, size_t n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init_once);
    uint32_t c = crc_fn(0xffffffffu, (const unsigned char *)&seq, sizeof seq);
    return ~crc_fn(c, (const unsigned char *)payload, n);
}

/* ---- segments ------------------------------------------------------------------------ */

static void seg_path(const char *dir, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/seg-%020" PRIu64 ".waj", dir, first);
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first sequence numbers of dir's segments, ascending (caller frees). */
static int seg_list(const char *dir, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long v;
        char tail[8];
        if (strlen(e->d_name) != 28 || sscanf(e->d_name, "seg-%20llu%7s", &v, tail) != 2 ||
            strcmp(tail, ".waj") != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = v;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, u64_cmp);
    return 0;
}

/* Encode rec (with seq) into b. */
static void rec_encode(struct buf *b, const struct accept_rec *r)
{
    const char *s[5] = {r->arrived, r->peer, r->facility, r->control, r->mtype};
    uint16_t l[5];
    size_t plen = AJ_FIXED + r->body_len;
    for (int i = 0; i < 5; i++) {
        size_t k = s[i] ? strlen(s[i]) : 0;
        l[i] = (uint16_t)(k > 4000 ? 4000 : k);
        plen += l[i] + 1u;
    }
    size_t at = b->len;
    buf_grow(b, AJ_HDR + plen);
    char *h = b->data + at, *p = h + AJ_HDR;
    memcpy(p, &r->feed_id, 8);
    memcpy(p + 8, l, sizeof l);
    memset(p + 18, 0, 2);
    char *q = p + AJ_FIXED;
    for (int i = 0; i < 5; i++) {
        if (l[i])
            memcpy(q, s[i], l[i]);
        q[l[i]] = 0;
        q += l[i] + 1u;
    }
    if (r->body_len)
        memcpy(q, r->body, r->body_len);
    uint32_t magic = AJ_MAGIC, len = (uint32_t)plen, crc = rec_crc(r->seq, p, plen), zero = 0;
    memcpy(h, &magic, 4);
    memcpy(h + 4, &len, 4);
    memcpy(h + 8, &r->seq, 8);
    memcpy(h + 16, &crc, 4);
    memcpy(h + 20, &zero, 4);
    b->len = at + AJ_HDR + plen;
    b->data[b->len] = 0;
}

/* Decode the record at p (n bytes available).  Returns the record's whole
 * length, 0 when it is not whole in n bytes, -1 when the header is not a
 * record's; *crc_ok says whether its checksum holds. */
static long rec_decode(const char *p, size_t n, struct accept_rec *r, bool *crc_ok)
{
    if (n < AJ_HDR)
        return 0;
    uint32_t magic, len, crc;
    memcpy(&magic, p, 4);
    memcpy(&len, p + 4, 4);
    memcpy(&r->seq, p + 8, 8);
    memcpy(&crc, p + 16, 4);
    if (magic != AJ_MAGIC || len < AJ_FIXED || len > AJ_MAX_PAYLOAD)
        return -1;
    if (n < AJ_HDR + (size_t)len)
        return 0;
    const char *q = p + AJ_HDR;
    *crc_ok = rec_crc(r->seq, q, len) == crc;
    if (!*crc_ok)
        return (long)(AJ_HDR + len);
    uint16_t l[5];
    memcpy(&r->feed_id, q, 8);
    memcpy(l, q + 8, sizeof l);
    size_t off = AJ_FIXED;
    const char **s[5] = {&r->arrived, &r->peer, &r->facility, &r->control, &r->mtype};
    for (int i = 0; i < 5; i++) {
        if (off + l[i] + 1u > len || q[off + l[i]] != 0) {
            *crc_ok = false; /* a checksum that holds over a malformed payload */
            return (long)(AJ_HDR + len);
        }
        *s[i] = q + off;
        off += l[i] + 1u;
    }
    r->body = q + off;
    r->body_len = len - off;
    return (long)(AJ_HDR + len);
}

/* ---- the writer ---------------------------------------------------------------------- */

struct accept_journal {
    char *dir;
    char id[33];
    int lock_fd;
    int fd;          /* the active segment */
    char path[4096]; /* its path */
    off_t size;      /* its length: where the next batch goes */
    uint64_t next;   /* next sequence number */
    bool broken;     /* a failed batch could not be cut back */
    struct buf b;    /* the batch being written */
};

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
#ifdef WEFT_FAILPOINTS
    uint64_t ps = powerloss_sync_begin();
#endif
    int rc = fsync(fd);
#ifdef WEFT_FAILPOINTS
    if (rc == 0)
        powerloss_dir_synced(dir, ps);
#endif
    close(fd);
    return rc;
}

int accept_journal_read_id(const char *dir, char out[33])
{
    char p[4096];
    snprintf(p, sizeof p, "%s/id", dir);
    FILE *f = fopen(p, "r");
    if (!f)
        return errno == ENOENT ? WEFT_ENOTFOUND : WEFT_EIO;
    char line[64] = "";
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    if (!ok || !hex_is_lower(line, 32))
        return WEFT_EIO;
    memcpy(out, line, 33);
    return 0;
}

static int make_id(const char *dir, char out[33])
{
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    hex_encode(raw, sizeof raw, out);
    char tmp[4096], p[4096];
    snprintf(tmp, sizeof tmp, "%s/id.tmp", dir);
    snprintf(p, sizeof p, "%s/id", dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return WEFT_EIO;
    bool ok = fprintf(f, "%s\n", out) > 0;
    ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok || rename(tmp, p) != 0 || fsync_dir(dir) != 0)
        return WEFT_EIO;
    return 0;
}

/* "WHAT 'DIR': the system's reason" into *errmsg. */
static int fail(char **errmsg, int rc, const char *what, const char *dir)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s '%s': %s", what, dir, strerror(errno));
    *errmsg = buf_detach(&b, NULL);
    return rc;
}

/* The last segment of j opened for appending, its torn tail cut off. */
static int open_active(struct accept_journal *j, uint64_t first, int64_t *dropped,
                       uint64_t *last_seq)
{
    seg_path(j->dir, first, j->path, sizeof j->path);
    j->fd = open(j->path, O_RDWR | O_CLOEXEC);
    if (j->fd < 0)
        return WEFT_EIO;
    struct stat st;
    if (fstat(j->fd, &st) != 0)
        return WEFT_EIO;
    size_t n = (size_t)st.st_size;
    char *data = n ? xmalloc(n) : NULL;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(j->fd, data + got, n - got, (off_t)got);
        if (r <= 0) {
            free(data);
            return WEFT_EIO;
        }
        got += (size_t)r;
    }
    size_t off = 0;
    *last_seq = 0;
    while (off < n) {
        struct accept_rec r;
        bool ok = false;
        long k = rec_decode(data + off, n - off, &r, &ok);
        if (k <= 0 || !ok)
            break; /* the torn tail: never acknowledged */
        *last_seq = r.seq;
        off += (size_t)k;
    }
    free(data);
    *dropped = (int64_t)(n - off);
    if (off < n) {
#ifdef WEFT_FAILPOINTS
        powerloss_truncate_begin(j->path, (int64_t)off);
#endif
        int trc = ftruncate(j->fd, (off_t)off);
#ifdef WEFT_FAILPOINTS
        powerloss_end();
        uint64_t ps = powerloss_sync_begin();
#endif
        if (trc != 0 || fdatasync(j->fd) != 0)
            return WEFT_EIO;
#ifdef WEFT_FAILPOINTS
        powerloss_synced(j->path, ps);
#endif
    }
    j->size = (off_t)off;
    return 0;
}

static int new_segment(struct accept_journal *j)
{
    char p[4096];
    seg_path(j->dir, j->next, p, sizeof p);
    int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return WEFT_EIO;
    powerloss_created(p);
    if (fsync_dir(j->dir) != 0) {
        close(fd);
        unlink(p);
        return WEFT_EIO;
    }
    if (j->fd >= 0)
        close(j->fd);
    j->fd = fd;
    snprintf(j->path, sizeof j->path, "%s", p);
    j->size = 0;
    return 0;
}

int accept_journal_open(struct accept_journal **out, const char *dir, uint64_t min_next_seq,
                        int64_t *dropped_bytes, char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    if (dropped_bytes)
        *dropped_bytes = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fail(errmsg, WEFT_EIO, "cannot make the accept journal directory", dir);
    struct accept_journal *j = xcalloc(1, sizeof *j);
    j->dir = xstrdup(dir);
    j->fd = -1;
    buf_init(&j->b);
    char p[4096];
    snprintf(p, sizeof p, "%s/lock", dir);
    j->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int rc = 0;
    if (j->lock_fd < 0)
        rc = fail(errmsg, WEFT_EIO, "cannot open the accept journal lock in", dir);
    else if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0)
        rc = fail(errmsg, WEFT_EBUSY,
                  "the accept journal is in use by another weft serve (its lock is held)", dir);
    if (rc == 0) {
        rc = accept_journal_read_id(dir, j->id);
        if (rc == WEFT_ENOTFOUND)
            rc = make_id(dir, j->id);
        if (rc != 0)
            rc = fail(errmsg, WEFT_EIO, "cannot read or make the accept journal id in", dir);
    }
    uint64_t *segs = NULL;
    size_t nseg = 0;
    if (rc == 0 && seg_list(dir, &segs, &nseg) != 0)
        rc = fail(errmsg, WEFT_EIO, "cannot list the accept journal", dir);
    j->next = min_next_seq ? min_next_seq : 1;
    if (rc == 0 && nseg) {
        uint64_t last = 0;
        int64_t dropped = 0;
        if (open_active(j, segs[nseg - 1], &dropped, &last) != 0)
            rc = fail(errmsg, WEFT_EIO, "cannot recover the accept journal", dir);
        if (dropped_bytes)
            *dropped_bytes = dropped;
        uint64_t after = last ? last + 1 : segs[nseg - 1];
        if (after > j->next)
            j->next = after;
        /* numbers are never used twice: a segment that starts below next
         * (an empty one, when min_next_seq is higher) is replaced */
        if (rc == 0 && j->size == 0 && segs[nseg - 1] != j->next) {
            char old[4096];
            snprintf(old, sizeof old, "%s", j->path);
            if (new_segment(j) != 0)
                rc = fail(errmsg, WEFT_EIO, "cannot start an accept journal segment in", dir);
            else
                unlink(old);
        }
    } else if (rc == 0 && new_segment(j) != 0) {
        rc = fail(errmsg, WEFT_EIO, "cannot start an accept journal segment in", dir);
    }
    free(segs);
    if (rc != 0) {
        accept_journal_close(j);
        return rc;
    }
    *out = j;
    return 0;
}

const char *accept_journal_id(const struct accept_journal *j)
{
    return j->id;
}

uint64_t accept_journal_next_seq(const struct accept_journal *j)
{
    return j->next;
}

int accept_journal_append(struct accept_journal *j, struct accept_rec *recs, size_t n)
{
    if (j->broken)
        return WEFT_EIO;
    if (n == 0)
        return 0;
    if (j->size >= (off_t)ACCEPT_JOURNAL_SEGMENT_BYTES && new_segment(j) != 0)
        return WEFT_EIO;
    buf_reset(&j->b);
    for (size_t i = 0; i < n; i++) {
        recs[i].seq = j->next + i;
        rec_encode(&j->b, &recs[i]);
    }
    j->next += n; /* used, whatever happens below */
    off_t at = j->size;
    size_t done = 0;
    int rc = 0;
#ifdef WEFT_FAILPOINTS
    powerloss_write_begin(j->path, (int64_t)at, (int64_t)j->b.len);
#endif
    while (done < j->b.len) {
        ssize_t w = pwrite(j->fd, j->b.data + done, j->b.len - done, at + (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = WEFT_EIO;
            break;
        }
        done += (size_t)w;
    }
#ifdef WEFT_FAILPOINTS
    powerloss_end();
    uint64_t ps = powerloss_sync_begin();
#endif
    if (rc == 0 && fdatasync(j->fd) != 0)
        rc = WEFT_EIO;
#ifdef WEFT_FAILPOINTS
    if (rc == 0)
        powerloss_synced(j->path, ps);
#endif
    if (rc == 0) {
        j->size = at + (off_t)j->b.len;
        return 0;
    }
    /* nothing of the batch may stay: its senders are told CE */
    int e = errno;
#ifdef WEFT_FAILPOINTS
    powerloss_truncate_begin(j->path, (int64_t)at);
#endif
    bool cut = ftruncate(j->fd, at) == 0;
#ifdef WEFT_FAILPOINTS
    powerloss_end();
#endif
    if (!cut || fdatasync(j->fd) != 0)
        j->broken = true;
    errno = e;
    return WEFT_EIO;
}

void accept_journal_close(struct accept_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    if (j->lock_fd >= 0)
        close(j->lock_fd); /* releases the flock */
    buf_release(&j->b);
    free(j->dir);
    free(j);
}

int accept_journal_prune(const char *dir, uint64_t moved_seq)
{
    uint64_t *segs = NULL;
    size_t n = 0;
    if (seg_list(dir, &segs, &n) != 0)
        return 0;
    int removed = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (segs[i + 1] - 1 > moved_seq)
            break;
        char p[4096];
        seg_path(dir, segs[i], p, sizeof p);
#ifdef WEFT_FAILPOINTS
        if (powerloss_unlink(p) == 0)
#else
        if (unlink(p) == 0)
#endif
            removed++;
    }
    free(segs);
    /* not synced: a removal the disk forgets brings back a segment whose
     * records are all in the inbox already (moved again: stored once) */
    return removed;
}

char *accept_journal_default_dir(const char *db_url)
{
    struct store_url u;
    if (store_url_parse(db_url, &u) != 0 || u.kind != STORE_KIND_SQLITE || !u.path)
        return NULL;
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s.accepts", u.path);
    return buf_detach(&b, NULL);
}

/* ---- reading ------------------------------------------------------------------------- */

struct accept_cursor {
    char *dir;
    uint64_t after; /* records up to this are skipped */
    uint64_t seg;   /* the segment being read (its first seq); 0: none yet */
    int fd;
    off_t off;    /* file offset of b's first byte */
    struct buf b; /* bytes read, from off; pos: where the next record starts */
    size_t pos;
};

int accept_cursor_open(struct accept_cursor **out, const char *dir, uint64_t after_seq)
{
    *out = NULL;
    uint64_t *segs = NULL;
    size_t n = 0;
    int rc = seg_list(dir, &segs, &n);
    if (rc != 0)
        return rc;
    struct accept_cursor *c = xcalloc(1, sizeof *c);
    c->dir = xstrdup(dir);
    c->after = after_seq;
    c->fd = -1;
    buf_init(&c->b);
    /* the last segment whose first record is at most after+1 */
    for (size_t i = 0; i < n; i++)
        if (i == 0 || segs[i] <= after_seq + 1)
            c->seg = segs[i];
    free(segs);
    *out = c;
    return 0;
}

static bool cursor_open_seg(struct accept_cursor *c)
{
    if (c->fd >= 0)
        return true;
    if (!c->seg) {
        uint64_t *segs = NULL;
        size_t n = 0;
        if (seg_list(c->dir, &segs, &n) != 0 || n == 0) {
            free(segs);
            return false;
        }
        c->seg = segs[0];
        free(segs);
    }
    for (;;) {
        char p[4096];
        seg_path(c->dir, c->seg, p, sizeof p);
        c->fd = open(p, O_RDONLY | O_CLOEXEC);
        c->off = 0;
        buf_reset(&c->b);
        c->pos = 0;
        if (c->fd >= 0 || errno != ENOENT)
            return c->fd >= 0;
        /* pruned meanwhile (all of it moved): the one after it */
        uint64_t *segs = NULL;
        size_t n = 0;
        uint64_t next = 0;
        if (seg_list(c->dir, &segs, &n) == 0)
            for (size_t i = 0; i < n && !next; i++)
                if (segs[i] > c->seg)
                    next = segs[i];
        free(segs);
        if (!next)
            return false;
        c->seg = next;
    }
}

/* The segment after c's, if there is one. */
static bool cursor_next_seg(struct accept_cursor *c)
{
    uint64_t *segs = NULL;
    size_t n = 0;
    if (seg_list(c->dir, &segs, &n) != 0) {
        free(segs);
        return false;
    }
    uint64_t next = 0;
    for (size_t i = 0; i < n && !next; i++)
        if (segs[i] > c->seg)
            next = segs[i];
    free(segs);
    if (!next)
        return false;
    close(c->fd);
    c->fd = -1;
    c->seg = next;
    return cursor_open_seg(c);
}

/* Drop what is unconsumed: the next call reads the file again from there. */
static void cursor_rewind(struct accept_cursor *c)
{
    c->off += (off_t)c->pos;
    buf_reset(&c->b);
    c->pos = 0;
}

/* Read more of the segment; bytes read, 0 at its end, -1 on error. */
static ssize_t cursor_fill(struct accept_cursor *c)
{
    if (c->pos > 0 && c->pos == c->b.len) {
        c->off += (off_t)c->pos;
        buf_reset(&c->b);
        c->pos = 0;
    } else if (c->pos > (1u << 20)) {
        memmove(c->b.data, c->b.data + c->pos, c->b.len - c->pos);
        c->off += (off_t)c->pos;
        buf_truncate(&c->b, c->b.len - c->pos);
        c->pos = 0;
    }
    size_t want = 1u << 20;
    buf_grow(&c->b, want);
    ssize_t r;
    do
        r = pread(c->fd, c->b.data + c->b.len, want, c->off + (off_t)c->b.len);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        c->b.len += (size_t)r;
        c->b.data[c->b.len] = 0;
    }
    return r;
}

int accept_cursor_next(struct accept_cursor *c, uint64_t max_seq, struct accept_rec *rec)
{
    if (!cursor_open_seg(c))
        return 0;
    for (;;) {
        bool ok = false;
        long k = rec_decode(c->b.data + c->pos, c->b.len - c->pos, rec, &ok);
        if (k < 0) {
            if (max_seq != UINT64_MAX)
                return WEFT_EIO; /* not a record where one must be */
            cursor_rewind(c);
            return 0;
        }
        if (k > 0 && rec->seq > max_seq) {
            cursor_rewind(c);
            return 0;
        }
        if (k > 0 && !ok) {
            if (max_seq != UINT64_MAX)
                return WEFT_EIO;
            cursor_rewind(c);
            return 0; /* being written, or torn */
        }
        if (k > 0) {
            c->pos += (size_t)k;
            if (rec->seq <= c->after)
                continue;
            return 1;
        }
        /* not whole in the buffer: read on */
        size_t had = c->b.len - c->pos;
        ssize_t r = cursor_fill(c);
        if (r < 0)
            return WEFT_EIO;
        if (r > 0)
            continue;
        if (had > 0) { /* a record not whole at the end of the file */
            cursor_rewind(c);
            return 0;
        }
        if (!cursor_next_seg(c))
            return 0;
    }
}

void accept_cursor_close(struct accept_cursor *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    buf_release(&c->b);
    free(c->dir);
    free(c);
}

/* ---- with the store ------------------------------------------------------------------ */

int accept_journal_move(struct store *s, struct accept_cursor *c, const char *journal_id,
                        uint64_t max_seq, size_t limit, int64_t *ids, uint64_t *seqs, size_t *n)
{
    *n = 0;
    struct accept_rec r;
    int got = accept_cursor_next(c, max_seq, &r);
    if (got <= 0)
        return got;
    struct store_txn txn;
    int rc = store_txn_begin(&txn, s);
    size_t k = 0;
    while (rc == 0 && got == 1) {
        struct store_inbox_msg in = {.feed_id = r.feed_id,
                                     .arrived = (char *)r.arrived,
                                     .sender = r.facility[0] ? (char *)r.facility : NULL,
                                     .peer = (char *)r.peer,
                                     .control_id = r.control[0] ? (char *)r.control : NULL,
                                     .msg_type = r.mtype[0] ? (char *)r.mtype : NULL,
                                     .body = (char *)r.body,
                                     .body_len = r.body_len};
        bool added = false;
        rc = store_inbox_add_journaled(s, &in, journal_id, (int64_t)r.seq, &ids[k], &added);
        if (rc != 0)
            break;
        seqs[k++] = r.seq;
        if (k == limit)
            break;
        got = accept_cursor_next(c, max_seq, &r);
        if (got < 0)
            rc = got;
    }
    if (rc == 0)
        rc = store_txn_commit(&txn);
    else
        store_txn_rollback(&txn);
    if (rc == 0)
        *n = k;
    return rc;
}

int accept_journal_move_all(struct store *s, const char *dir, int64_t *moved)
{
    if (moved)
        *moved = 0;
    char id[33];
    int rc = accept_journal_read_id(dir, id);
    if (rc == WEFT_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    int64_t done = 0;
    if ((rc = store_inbox_journal_moved(s, id, &done)) != 0)
        return rc;
    struct accept_cursor *c = NULL;
    if ((rc = accept_cursor_open(&c, dir, (uint64_t)done)) != 0)
        return rc == WEFT_ENOTFOUND ? 0 : rc;
    enum { CHUNK = 4096 };
    int64_t *ids = xmalloc(sizeof *ids * CHUNK);
    uint64_t *seqs = xmalloc(sizeof *seqs * CHUNK);
    for (;;) {
        size_t k = 0;
        rc = accept_journal_move(s, c, id, UINT64_MAX, CHUNK, ids, seqs, &k);
        if (rc != 0 || k == 0)
            break;
        if (moved)
            *moved += (int64_t)k;
    }
    free(ids);
    free(seqs);
    accept_cursor_close(c);
    return rc;
}

int accept_journal_backlog(struct store *s, const char *dir, struct accept_backlog **out, int *n)
{
    *out = NULL;
    *n = 0;
    char id[33];
    int rc = accept_journal_read_id(dir, id);
    if (rc == WEFT_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    int64_t done = 0;
    if ((rc = store_inbox_journal_moved(s, id, &done)) != 0)
        return rc;
    struct accept_cursor *c = NULL;
    if ((rc = accept_cursor_open(&c, dir, (uint64_t)done)) != 0)
        return rc == WEFT_ENOTFOUND ? 0 : rc;
    struct accept_rec r;
    int cap = 0;
    while ((rc = accept_cursor_next(c, UINT64_MAX, &r)) == 1) {
        int i = 0;
        while (i < *n && (*out)[i].feed_id != r.feed_id)
            i++;
        if (i == *n) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                *out = xrealloc(*out, sizeof **out * (size_t)cap);
            }
            (*out)[(*n)++] = (struct accept_backlog){r.feed_id, 0};
        }
        (*out)[i].n++;
    }
    accept_cursor_close(c);
    return rc < 0 ? rc : 0;
}
