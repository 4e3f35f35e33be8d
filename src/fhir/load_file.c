/*
 * load_file.c - files into the loading pipeline (load.h: fhir_load_file,
 * fhir_load_paths): a JSON Bundle, a single resource (a one-entry batch),
 * NDJSON in batches of LOAD_NDJSON_BATCH lines, directories walked in name
 * order, and groups of files committed together (one store transaction per
 * about LOAD_GROUP_ENTRIES entries, each bundle in a savepoint of it).  Each
 * bundle or batch goes through load.c (load_entries, fhir_load_bundle); in
 * bulk mode the arena is reset after each (load_arena.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "fhir/jload.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
#include "store/store.h"
#include "store/txn.h"

static void reject_file(struct load_report *rep, const char *file, long entry, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reject_file(struct load_report *rep, const char *file, long entry, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    add_rejection_at(rep, file, entry, entry >= 0, NULL, b.data);
    buf_release(&b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* NDJSON: LOAD_NDJSON_BATCH lines per store transaction, as batch entries. */
static int load_ndjson(struct store *s, FILE *f, const struct load_ctx *ctx,
                       struct load_report *rep, load_progress_fn progress, void *parg,
                       long long *done, long long total)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = WEFT_OK;
    json_t *entries = json_array();
    long *labels = xmalloc(sizeof *labels * LOAD_NDJSON_BATCH);
    int nb = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        *done += len;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        size_t sp = 0;
        while (sp < (size_t)len && (line[sp] == ' ' || line[sp] == '\t'))
            sp++;
        if (sp == (size_t)len)
            continue;
        rep->entries++;
        if ((size_t)len > LOAD_MAX_LINE_BYTES) {
            reject_file(rep, ctx->file, lineno, "line is %.1f MB, larger than the %u MB limit",
                        (double)len / (1024.0 * 1024.0), LOAD_MAX_LINE_BYTES >> 20);
            continue;
        }
        json_error_t err;
        json_t *res = jload_loadb(line, (size_t)len, &err);
        if (!res) {
            reject_file(rep, ctx->file, lineno, "invalid JSON at column %d: %s", err.column,
                        err.text);
            continue;
        }
        json_array_append_new(entries, json_pack("{s:o}", "resource", res));
        labels[nb++] = lineno;
        if (nb == LOAD_NDJSON_BATCH) {
            rep->entries -= nb; /* load_entries counts them */
            rc = load_entries(s, entries, false, ctx, rep, NULL, "batch-response", labels);
            load_tree_drop(entries);
            load_arena_reset();
            entries = json_array();
            nb = 0;
            if (progress)
                progress(parg, rep, *done, total);
            if (rc != 0)
                break;
        }
    }
    if (rc == 0 && nb > 0) {
        rep->entries -= nb;
        rc = load_entries(s, entries, false, ctx, rep, NULL, "batch-response", labels);
        if (progress)
            progress(parg, rep, *done, total);
    }
    if (rc == 0 && ferror(f))
        rc = WEFT_EIO;
    json_decref(entries);
    free(labels);
    free(line);
    return rc;
}

static int load_file_at(struct store *s, const char *path, const struct load_ctx *ctx0,
                        struct load_report *rep, load_progress_fn progress, void *parg,
                        long long *done, long long total)
{
    struct load_ctx ctx = *ctx0;
    ctx.file = path;
    rep->files++;
    FILE *f = fopen(path, "rb");
    if (!f) {
        reject_file(rep, path, -1, "cannot open: %s", strerror(errno));
        return WEFT_OK;
    }
    struct stat st;
    long long size = fstat(fileno(f), &st) == 0 ? (long long)st.st_size : 0;
    int rc = WEFT_OK;
    /* NDJSON resets the arena after each batch: nothing may be held then */
    bool ndjson = ends_with(path, ".ndjson") || ends_with(path, ".jsonl");
    if (ndjson && ctx.defer && (rc = load_defer_flush(ctx.defer)) != 0) {
        fclose(f);
        return rc;
    }
    if (ndjson) {
        rc = load_ndjson(s, f, &ctx, rep, progress, parg, done, total);
        fclose(f);
        return rc;
    }
    if (size > (long long)LOAD_MAX_FILE_BYTES) {
        reject_file(rep, path, -1, "file is %lld MB, larger than the %u MB limit", size >> 20,
                    LOAD_MAX_FILE_BYTES >> 20);
        fclose(f);
        *done += size;
        return WEFT_OK;
    }
    char *data = xmalloc((size_t)size + 1);
    size_t got = fread(data, 1, (size_t)size, f);
    bool ioerr = ferror(f);
    fclose(f);
    if (ioerr || got != (size_t)size) {
        free(data);
        reject_file(rep, path, -1, "read error: %s", ioerr ? strerror(errno) : "short read");
        *done += size;
        return WEFT_OK;
    }
    json_error_t err;
    json_t *doc = jload_loadb(data, got, &err);
    if (!doc) {
        /* maybe NDJSON without the extension: several objects, one per line */
        if (err.position > 0 && (size_t)err.position < got && got > 0 &&
            strstr(err.text, "end of file expected")) {
            FILE *m = fmemopen(data, got, "rb");
            if (m && ctx.defer && (rc = load_defer_flush(ctx.defer)) != 0) {
                fclose(m);
                free(data);
                return rc;
            }
            if (m) {
                long long d0 = *done;
                rc = load_ndjson(s, m, &ctx, rep, progress, parg, done, total);
                fclose(m);
                *done = d0 + size;
                free(data);
                return rc;
            }
        }
        free(data);
        reject_file(rep, path, -1, "invalid JSON at line %d, column %d: %s", err.line, err.column,
                    err.text);
        *done += size;
        return WEFT_OK;
    }
    free(data);
    const char *rt = json_string_value(json_object_get(doc, "resourceType"));
    bool held = false; /* doc is the run's queue's (load_int.h) */
    if (json_is_object(doc) && rt && strcmp(rt, "Bundle") == 0 && ctx.defer) {
        rc = load_bundle_deferred(s, doc, &ctx, rep, &held);
    } else if (json_is_object(doc) && rt && strcmp(rt, "Bundle") == 0) {
        rc = fhir_load_bundle(s, doc, &ctx, rep, NULL);
    } else if (json_is_object(doc)) {
        json_t *entries = json_pack("[{s:O}]", "resource", doc);
        rc = load_entries(s, entries, false, &ctx, rep, NULL, "batch-response", NULL);
        json_decref(entries);
    } else {
        reject_file(rep, path, -1, "not a FHIR resource or Bundle (a JSON object is expected)");
    }
    if (!held)
        load_tree_drop(doc);
    if (!ctx.defer || ctx.defer->nheld == 0) /* else held trees live in the arena */
        load_arena_reset();
    if (rc == WEFT_EINVAL) /* the reasons are in the report */
        rc = WEFT_OK;
    *done += size;
    if (progress)
        progress(parg, rep, *done, total);
    return rc;
}

int fhir_load_file(struct store *s, const char *path, const struct load_ctx *ctx,
                   struct load_report *rep)
{
    long long done = 0;
    return load_file_at(s, path, ctx, rep, NULL, NULL, &done, 0);
}

/* Collect the loadable files under path (recursively, sorted) into list. */
static int collect(const char *path, char ***list, int *n, long long *bytes, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode)) {
        *list = xrealloc(*list, sizeof **list * (size_t)(*n + 1));
        (*list)[(*n)++] = xstrdup(path);
        *bytes += st.st_size;
        return 0;
    }
    if (depth > 32)
        return 0;
    struct dirent **names = NULL;
    int k = scandir(path, &names, NULL, alphasort);
    if (k < 0)
        return -errno;
    for (int i = 0; i < k; i++) {
        const char *nm = names[i]->d_name;
        if (nm[0] != '.') {
            struct buf child = BUF_INIT;
            buf_addf(&child, "%s/%s", path, nm);
            struct stat cs;
            if (stat(child.data, &cs) == 0 && (S_ISDIR(cs.st_mode) || ends_with(nm, ".json") ||
                                               ends_with(nm, ".ndjson") || ends_with(nm, ".jsonl")))
                collect(child.data, list, n, bytes, depth + 1);
            buf_release(&child);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

void fhir_load_collect(const char *const *paths, int npaths, char ***files, int *nfiles,
                       long long *bytes, struct load_report *rep)
{
    for (int i = 0; i < npaths; i++) {
        int before = *nfiles;
        int e = collect(paths[i], files, nfiles, bytes, 0);
        if (e < 0)
            reject_file(rep, paths[i], -1, "cannot read: %s", strerror(-e));
        else if (*nfiles == before)
            reject_file(rep, paths[i], -1, "no .json, .ndjson or .jsonl files found");
    }
}

/*
 * Groups: fhir_load_paths runs several files in one store transaction, each
 * bundle (or NDJSON batch) in a savepoint of its own, and commits when the
 * group holds LOAD_GROUP_ENTRIES entries.  A bundle that fails still rolls
 * back alone (transaction semantics are per bundle); what the group saves is
 * the commit per bundle, which rewrote every index page the bundle touched.
 * The counts are snapshotted when a group opens: if its commit fails they are
 * put back and each of its files is reported as not stored, so the report
 * never counts what is not on disk.
 */
struct load_group {
    struct store_txn txn;
    bool open;
    int retries; /* times this group met another writer and was done again */
    int first;   /* index of the group's first file */
    long entries0;
    long long done0;         /* the progress's bytes at the group's start */
    struct load_report snap; /* scalars + type rows at the group's start */
};

static int group_open(struct store *s, struct load_group *g, struct load_report *rep, int first)
{
    int rc = store_txn_begin(&g->txn, s);
    if (rc != 0)
        return rc;
    g->open = true;
    g->first = first;
    g->entries0 = rep->entries;
    free(g->snap.types);
    g->snap = *rep;
    g->snap.rejections = NULL;
    g->snap.types = xmalloc(sizeof *rep->types * (size_t)(rep->ntypes ? rep->ntypes : 1));
    if (rep->ntypes)
        memcpy(g->snap.types, rep->types, sizeof *rep->types * (size_t)rep->ntypes);
    return WEFT_OK;
}

/* The counts back to the group's start; the types added since stay as rows
 * of zero. */
static void group_restore(struct load_group *g, struct load_report *rep)
{
    for (int i = 0; i < rep->ntypes; i++) {
        struct load_type_count *t = &rep->types[i];
        const struct load_type_count *was = NULL;
        for (int k = 0; k < g->snap.ntypes && !was; k++)
            if (strcmp(g->snap.types[k].type, t->type) == 0)
                was = &g->snap.types[k];
        char name[sizeof t->type];
        memcpy(name, t->type, sizeof name);
        if (was)
            *t = *was;
        else
            memset(t, 0, sizeof *t);
        memcpy(t->type, name, sizeof name);
    }
    rep->persons_linked = g->snap.persons_linked;
    rep->invalid_nhs = g->snap.invalid_nhs;
}

static int group_close(struct store *s, struct load_group *g, struct load_report *rep,
                       const char *const *files, int end)
{
    if (!g->open)
        return WEFT_OK;
    g->open = false;
    int rc = store_txn_commit(&g->txn); /* rolled back when it fails */
    if (rc == 0)
        return WEFT_OK;
    char why[256];
    snprintf(why, sizeof why, "%s", store_errmsg(s));
    group_restore(g, rep);
    for (int i = g->first; i < end; i++)
        reject_file(rep, files[i], -1, "not stored: the commit failed (%s)", why);
    return rc;
}

/* A group that met another writer (store_raced: PostgreSQL, whose writers
 * overlap - a deadlock, a unique violation, a version replaced meanwhile,
 * which may have been taken for an entry's own fault) is rolled back and
 * done again, whole: the report back to the group's start, its rejections
 * since dropped.  Up to LOAD_RACE_RETRIES times, each after race_backoff:
 * with several loaders at once (weft load --jobs) a group holds every lock
 * its bundles took until it commits - their identity keys, taken in bundle
 * order, and, for a bundle that merged persons, the audit chain's and the
 * analytics change list's locks (store/pg) - so two groups about the same
 * persons, or merging at once, can deadlock; one is refused and the other
 * goes on, but the refused one, started again at once, can meet the same
 * group still running and deadlock again (seen: twice in a row in one of
 * four loads of the 2,000-person region with three loaders, eight times
 * with four loaders in the 10,000-person region's hospital folders).
 * Waiting lets the other group commit, and the raced group's files are
 * loaded again a file a transaction (small_until in fhir_load_paths). */
/* The group holds enough to commit: LOAD_GROUP_ENTRIES entries, or
 * LOAD_GROUP_KEYS keys locked (load.h), or a lock every writer may need (a
 * bundle merged persons: the audit chain's and the analytics change
 * list's, which every other loader and every node's audited reads would
 * wait for until the group's end). */
static bool group_full(const struct store *s, const struct load_group *g,
                       const struct load_report *rep)
{
    return rep->entries - g->entries0 >= LOAD_GROUP_ENTRIES ||
           store_keys_locked(s) >= LOAD_GROUP_KEYS || store_holds_shared(s);
}

#define LOAD_RACE_RETRIES 8

/* Wait before a group's retry number n (1, 2, ...): about 2^n ms, at most
 * about 0.2 s, with jitter so that two refused groups do not restart
 * together. */
static void race_backoff(int n)
{
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)(uintptr_t)&seed ^ (unsigned)time(NULL);
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    long ms = (1L << (n < 7 ? n : 7)) + (long)(seed % 16);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
static void group_undo(struct store *s, struct load_group *g, struct load_report *rep,
                       long long *done)
{
    store_txn_rollback(&g->txn);
    g->open = false;
    group_restore(g, rep);
    rep->files = g->snap.files;
    rep->bundles = g->snap.bundles;
    rep->entries = g->snap.entries;
    rep->rejected = g->snap.rejected;
    for (int i = g->snap.nrejections; i < rep->nrejections; i++) {
        free(rep->rejections[i].file);
        free(rep->rejections[i].type);
        free(rep->rejections[i].reason);
    }
    if (rep->nrejections > g->snap.nrejections)
        rep->nrejections = g->snap.nrejections;
    *done = g->done0;
    log_info("load", "a group of files met another writer (%s); loading it again", store_errmsg(s));
    store_race_clear(s);
}

static void group_release(struct load_group *g)
{
    free(g->snap.types);
    g->snap.types = NULL;
}

int fhir_load_paths(struct store *s, const char *const *paths, int npaths,
                    const struct load_ctx *ctx, struct load_report *rep, load_progress_fn progress,
                    void *progress_arg)
{
    char **files = NULL;
    int nfiles = 0;
    long long total = 0, done = 0;
    fhir_load_collect(paths, npaths, &files, &nfiles, &total, rep);
    int rc = WEFT_OK;
    struct load_group g = {.first = 0};
    struct load_ctx gctx = *ctx;
    gctx.nested = true;
    /* Runs: the files since the queue was last empty between files, in a
     * savepoint of the group; their bundles' puts wait in the queue d and
     * go to the store together (load_int.h, struct load_defer).  When d
     * says redo, the run is rolled back and loaded again without the
     * queue. */
    struct load_defer d;
    load_defer_init(&d, s, rep);
    gctx.defer = &d;
    struct load_ctx plain = gctx; /* a run loaded again */
    plain.defer = NULL;
    bool run_open = false;
    int run_first = 0;
    long long run_done = 0;
    struct load_report run_mark = {0};
    /* after a race, the raced group's files again a file a group, up to
     * this index: a file's transaction holds only its own bundles' locks,
     * so it rarely meets the other writer again */
    int small_until = -1;
    for (int i = 0; i < nfiles && rc == 0; i++) {
        if (!g.open) {
            if ((rc = group_open(s, &g, rep, i)) != 0)
                break;
            g.done0 = done;
            store_race_clear(s);
        }
        if (!run_open) {
            if ((rc = store_txn_item(&g.txn)) != 0)
                break;
            run_open = true;
            run_first = i;
            run_done = done;
            load_report_mark_free(&run_mark);
            load_report_mark(rep, &run_mark);
        }
        struct load_report file_mark = {0};
        long long file_done = done;
        if (d.nheld > 0) /* it may have to be loaded again (retry) */
            load_report_mark(rep, &file_mark);
        rc = load_file_at(s, files[i], &gctx, rep, progress, progress_arg, &done, total);
        if (d.retry) {
            /* its bundle merged persons while bundles were held, and was
             * rolled back: the held ones stored, it is loaded again */
            d.retry = false;
            d.retries++;
            load_report_rewind(rep, &file_mark);
            done = file_done;
            rc = load_defer_flush(&d);
            if (rc == 0)
                rc = load_file_at(s, files[i], &gctx, rep, progress, progress_arg, &done, total);
        }
        load_report_mark_free(&file_mark);
        bool last = i + 1 == nfiles || rc != 0;
        bool closing = last || group_full(s, &g, rep) || i <= small_until;
        /* the run ends (the queue sent, the arena reset) at the group's end,
         * at LOAD_DEFER_PUTS held puts, or at LOAD_DEFER_BYTES of files read
         * since it began: the trees of its files live until then */
        if (rc == 0 && !d.redo &&
            (closing || d.nputs >= LOAD_DEFER_PUTS || done - run_done >= LOAD_DEFER_BYTES))
            rc = load_defer_flush(&d);
        if (d.redo) {
            /* the run again, bundle by bundle as without the queue */
            log_debug("load", "a run of %d files loaded again without batching its puts",
                      i + 1 - run_first);
            load_defer_drop(&d);
            d.redo = false;
            d.redos++;
            rc = store_txn_item_end(&g.txn, false);
            run_open = false;
            load_report_rewind(rep, &run_mark);
            done = run_done;
            if (rc == 0 && (rc = store_txn_item(&g.txn)) == 0) {
                run_open = true;
                for (int k = run_first; k <= i && rc == 0; k++)
                    rc = load_file_at(s, files[k], &plain, rep, progress, progress_arg, &done,
                                      total);
            }
            last = i + 1 == nfiles || rc != 0;
            closing = last || group_full(s, &g, rep) || i <= small_until;
        } else if (rc != 0 && d.nheld > 0) {
            /* a store error in file i (its bundle rolled back): what came
             * before it is stored, as without the queue, when the
             * transaction still stands; else the group's commit fails */
            if (!store_txn_broken(&g.txn) && load_defer_flush(&d) != 0)
                d.redo = false; /* reported as not stored by group_close */
            load_defer_drop(&d);
        }
        if (run_open && d.nheld == 0) {
            int irc = store_txn_item_end(&g.txn, true);
            run_open = false;
            if (rc == 0)
                rc = irc;
            load_arena_reset();
        }
        if (closing) {
            if (store_raced(s) && g.retries < LOAD_RACE_RETRIES) {
                /* the queue and the run went with the group's rollback */
                load_defer_drop(&d);
                run_open = false;
                load_arena_reset();
                group_undo(s, &g, rep, &done);
                g.retries++;
                race_backoff(g.retries);
                small_until = i;
                i = g.first - 1; /* the group's files again */
                rc = 0;
                continue;
            }
            g.retries = 0;
            int crc = group_close(s, &g, rep, (const char *const *)files, i + 1);
            if (rc == 0)
                rc = crc;
        }
    }
    if (run_open) /* a failure left it open: what it holds is not kept */
        store_txn_item_end(&g.txn, false);
    log_debug("load", "batched puts: %ld batches, %ld bundles retried, %ld runs loaded again",
              d.flushes, d.retries, d.redos);
    load_defer_free(&d);
    load_report_mark_free(&run_mark);
    if (g.open)
        group_close(s, &g, rep, (const char *const *)files, nfiles);
    group_release(&g);
    for (int i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    load_report_finish(rep);
    return rc;
}
