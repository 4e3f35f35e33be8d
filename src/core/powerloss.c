/*
 * powerloss.c - the power-loss journal (powerloss.h).  Only
 * powerloss_sync_parent is in builds without -DWEFT_FAILPOINTS.
 *
 * Journal format (read by tests/e2e/lib/powercut.py): records of one header
 * line of tab-separated fields, the path last, optionally followed by raw
 * bytes:
 *   W seq off oldsize n path \n <n bytes>  before a write or truncate at off:
 *                                          the n bytes it overwrites, and the
 *                                          file's size before it
 *   S seq from path                        path fsynced; covers records < from
 *   D seq from dir                         directory fsynced; likewise
 *   C seq path                             path created
 *   R seq saved from \t to                 rename; saved: a hard link to what
 *                                          `to` named before ("-": nothing)
 *   U seq saved path                       unlink; saved: a hard link to it
 *   K seq what                             the power cut (WEFT_POWERCUT)
 * Sequence numbers grow through the file, also across processes that
 * journal to it one after another.  Records are appended under one lock, and a write journalled is
 * performed before the lock is released, so "records < from" were all performed when the fsync
 * began.
 */
#include "core/powerloss.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"

int powerloss_sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    struct buf dir = BUF_INIT;
    if (!slash)
        buf_adds(&dir, ".");
    else if (slash == path)
        buf_adds(&dir, "/");
    else
        buf_add(&dir, path, (size_t)(slash - path));
#ifdef WEFT_FAILPOINTS
    uint64_t seq = powerloss_sync_begin();
#endif
    int fd = open(dir.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
#ifdef WEFT_FAILPOINTS
    if (rc == 0)
        powerloss_dir_synced(dir.data, seq);
#endif
    buf_release(&dir);
    errno = e;
    return rc;
}

int powerloss_sync_file(const char *path)
{
#ifdef WEFT_FAILPOINTS
    uint64_t seq = powerloss_sync_begin();
#endif
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
#ifdef WEFT_FAILPOINTS
    if (rc == 0)
        powerloss_synced(path, seq);
#endif
    errno = e;
    return rc;
}

#ifdef WEFT_FAILPOINTS
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static char *saved_dir; /* WEFT_POWERLOG.saved/ */
static uint64_t seq, n_writes, n_syncs;
static uint64_t cut_write, cut_sync; /* WEFT_POWERCUT (0: none) */

static void init(void)
{
    const char *p = getenv("WEFT_POWERLOG");
    if (!p || !*p)
        return;
    log_fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        fprintf(stderr, "weft: cannot open WEFT_POWERLOG %s: %s\n", p, strerror(errno));
        abort();
    }
    /* sequence numbers go on from those of earlier processes journalling
     * to the same file: each of their records took at least one byte */
    struct stat st;
    if (fstat(log_fd, &st) == 0)
        seq = (uint64_t)st.st_size;
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s.saved", p);
    mkdir(b.data, 0700);
    saved_dir = buf_detach(&b, NULL);
    const char *c = getenv("WEFT_POWERCUT");
    if (c && strncmp(c, "write:", 6) == 0)
        cut_write = strtoull(c + 6, NULL, 10);
    else if (c && strncmp(c, "sync:", 5) == 0)
        cut_sync = strtoull(c + 5, NULL, 10);
}

bool powerloss_enabled(void)
{
    pthread_once(&once, init);
    return log_fd >= 0;
}

/* An absolute form of path (the journal outlives the working directory). */
static void abs_path(const char *path, struct buf *out)
{
    if (path[0] != '/') {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd))
            buf_addf(out, "%s/", cwd);
    }
    buf_adds(out, path);
}

static void put(const struct buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(log_fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "weft: cannot write WEFT_POWERLOG: %s\n", strerror(errno));
            abort();
        }
        off += (size_t)w;
    }
}

/* The power cut: journalled, then SIGKILL (mu held). */
static void cut(const char *what)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "K\t%llu\t%s\n", (unsigned long long)seq++, what);
    put(&b);
    buf_release(&b);
    fprintf(stderr, "weft: power cut (WEFT_POWERCUT) before %s\n", what);
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

static void count_write(const char *what)
{
    if (++n_writes == cut_write)
        cut(what);
}

/* W record: the bytes of path in [from, to) and its size; mu held. */
static void journal_preimage(const char *path, int64_t from, int64_t to)
{
    struct buf p = BUF_INIT, b = BUF_INIT;
    abs_path(path, &p);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int64_t size = fd >= 0 && fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
    int64_t end = to < size ? to : size;
    int64_t n = end > from ? end - from : 0;
    buf_addf(&b, "W\t%llu\t%lld\t%lld\t%lld\t%s\n", (unsigned long long)seq++, (long long)from,
             (long long)size, (long long)n, p.data);
    if (n > 0) {
        size_t at = b.len;
        buf_grow(&b, (size_t)n);
        ssize_t got = pread(fd, b.data + at, (size_t)n, from);
        if (got != n) {
            fprintf(stderr, "weft: powerloss: cannot read %s\n", p.data);
            abort();
        }
        b.len += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    put(&b);
    buf_release(&b);
    buf_release(&p);
}

void powerloss_write_begin(const char *path, int64_t off, int64_t len)
{
    if (!powerloss_enabled())
        return;
    pthread_mutex_lock(&mu);
    count_write("a write");
    journal_preimage(path, off, off + len);
}

void powerloss_truncate_begin(const char *path, int64_t size)
{
    if (!powerloss_enabled())
        return;
    pthread_mutex_lock(&mu);
    count_write("a truncate");
    journal_preimage(path, size, INT64_MAX);
}

void powerloss_end(void)
{
    if (powerloss_enabled())
        pthread_mutex_unlock(&mu);
}

uint64_t powerloss_sync_begin(void)
{
    if (!powerloss_enabled())
        return 0;
    pthread_mutex_lock(&mu);
    if (++n_syncs == cut_sync)
        cut("an fsync");
    uint64_t s = seq;
    pthread_mutex_unlock(&mu);
    return s;
}

static void mark(char kind, const char *path, uint64_t from)
{
    struct buf p = BUF_INIT, b = BUF_INIT;
    abs_path(path, &p);
    pthread_mutex_lock(&mu);
    buf_addf(&b, "%c\t%llu\t%llu\t%s\n", kind, (unsigned long long)seq++, (unsigned long long)from,
             p.data);
    put(&b);
    pthread_mutex_unlock(&mu);
    buf_release(&b);
    buf_release(&p);
}

void powerloss_synced(const char *path, uint64_t from)
{
    if (powerloss_enabled())
        mark('S', path, from);
}

void powerloss_dir_synced(const char *dir, uint64_t from)
{
    if (powerloss_enabled())
        mark('D', dir, from);
}

void powerloss_created(const char *path)
{
    if (!powerloss_enabled())
        return;
    struct buf p = BUF_INIT, b = BUF_INIT;
    abs_path(path, &p);
    pthread_mutex_lock(&mu);
    count_write("a create");
    buf_addf(&b, "C\t%llu\t%s\n", (unsigned long long)seq++, p.data);
    put(&b);
    pthread_mutex_unlock(&mu);
    buf_release(&b);
    buf_release(&p);
}

/* A hard link to path kept aside (its name in *out), or "-" when path does
 * not exist; mu held. */
static void keep_aside(const char *path, struct buf *out)
{
    buf_reset(out);
    buf_addf(out, "%s/%llu", saved_dir, (unsigned long long)seq);
    if (link(path, out->data) != 0) {
        buf_reset(out);
        buf_adds(out, "-");
    }
}

int powerloss_rename(const char *from, const char *to)
{
    if (!powerloss_enabled())
        return rename(from, to);
    struct buf f = BUF_INIT, t = BUF_INIT, saved = BUF_INIT, b = BUF_INIT;
    abs_path(from, &f);
    abs_path(to, &t);
    pthread_mutex_lock(&mu);
    count_write("a rename");
    keep_aside(to, &saved);
    buf_addf(&b, "R\t%llu\t%s\t%s\t%s\n", (unsigned long long)seq++, saved.data, f.data, t.data);
    put(&b);
    int rc = rename(from, to);
    int e = errno;
    pthread_mutex_unlock(&mu);
    buf_release(&b);
    buf_release(&saved);
    buf_release(&t);
    buf_release(&f);
    errno = e;
    return rc;
}

int powerloss_unlink(const char *path)
{
    if (!powerloss_enabled())
        return unlink(path);
    struct buf p = BUF_INIT, saved = BUF_INIT, b = BUF_INIT;
    abs_path(path, &p);
    pthread_mutex_lock(&mu);
    count_write("an unlink");
    keep_aside(path, &saved);
    buf_addf(&b, "U\t%llu\t%s\t%s\n", (unsigned long long)seq++, saved.data, p.data);
    put(&b);
    int rc = unlink(path);
    int e = errno;
    pthread_mutex_unlock(&mu);
    buf_release(&b);
    buf_release(&saved);
    buf_release(&p);
    errno = e;
    return rc;
}
#endif
