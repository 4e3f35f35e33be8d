/*
 * cmd_load.c - `weft load --db PATH --org ODS FILE_OR_DIR...`: load FHIR R4
 * Bundles, single resources and NDJSON through the loading pipeline
 * (fhir/load.h), attributing every item to the organisation --org.
 *
 * Shows a progress bar on stderr when stderr is a terminal, then prints a
 * table per resource type (stored, updated, unchanged, deleted, rejected,
 * not shareable) and every rejection with its file and entry index (or
 * NDJSON line) on stdout.  Exit status 1 when anything was rejected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "fhir/load.h"
#include "store/store.h"

const struct opt_spec cmd_load_specs[] = {
    {"db", "PATH",
     "the database (file path, sqlite:PATH or postgres://USER@HOST:PORT/DB); create it with weft "
     "init"},
    {"org", "ODS", "ODS code of the organisation that sent the data (required, or --org-dirs)"},
    {"org-dirs", NULL,
     "each FILE_OR_DIR is a folder named by the ODS code of the organisation that sent what is "
     "in it (a region's extract, a folder per organisation), loaded in one command"},
    {"feed", "NAME", "feed name recorded with every item (default \"manual\")"},
    {"jobs", "N",
     "with --org-dirs: load N folders at once, each thread with its own database connection, "
     "taking the folders in order; the same counts and rejections as one when no folder refers "
     "to a resource another organisation's folder sends (such a reference finds it only if "
     "that folder was loaded first). Default 1; 2 pays on PostgreSQL, whose writers run in "
     "parallel, not on SQLite, whose writers take turns (measured slower with more). Folders "
     "of one organisation are loaded in turn"},
    {"quiet", NULL, "no progress bar, no table: only rejections and the summary line"},
    {"log-level", "LEVEL", "debug, info, warn, error or off (default warn)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft load --db PATH --org ODS [--feed NAME] FILE_OR_DIR...\n"
    "       weft load --db PATH --org-dirs [--feed NAME] ODS_DIR...\n\n"
    "Load FHIR R4 JSON Bundles (transaction, batch, collection), single resources\n"
    "and NDJSON files (.ndjson/.jsonl, one resource per line) into the record, as\n"
    "sent by the organisation --org.  Directories are read recursively (files\n"
    "ending .json, .ndjson, .jsonl).  Loading the same data again changes nothing.\n"
    "A transaction bundle is stored all or nothing; batch and collection bundles\n"
    "entry by entry.  Types outside the record (billing: Claim, ...) are counted\n"
    "as not shareable and not stored.  With --org-dirs each folder's name is the\n"
    "ODS code of the organisation that sent its files (one command for a region's\n"
    "per-organisation folders instead of one a folder).  With --org-dirs, --jobs N\n"
    "loads N folders at once, each thread with its own connection; the output is\n"
    "the same as one thread's.  A store failure stops every thread from taking\n"
    "more folders; what was committed stays, and the folders not loaded are named.\n"
    "Without --org-dirs the files are loaded in order by one thread (a file may\n"
    "refer to what an earlier one sent).\n\n"
    "Exit status: 0 all loaded, 1 something was rejected (listed with file and\n"
    "entry index) or the store failed, 2 usage error.\n";

struct progress {
    bool tty;
    struct timespec start;
    long long last_draw_ms;
};

static long long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000LL + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void draw(void *arg, const struct load_report *rep, long long done, long long total)
{
    struct progress *p = arg;
    if (!p->tty)
        return;
    long long ms = ms_since(&p->start);
    if (ms - p->last_draw_ms < 100 && done < total)
        return;
    p->last_draw_ms = ms;
    int width = 30;
    double frac = total > 0 ? (double)done / (double)total : 1.0;
    if (frac > 1)
        frac = 1;
    int fill = (int)(frac * width);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double secs = ms / 1000.0;
    fprintf(stderr, "\r[%s] %3.0f%%  %ld entries  %ld rejected  %.0f/s ", bar, frac * 100,
            rep->entries, rep->rejected, secs > 0 ? rep->entries / secs : 0.0);
    fflush(stderr);
}

static void print_table(const struct load_report *rep)
{
    printf("%-28s %9s %9s %9s %9s %9s %13s\n", "type", "stored", "updated", "unchanged", "deleted",
           "rejected", "not-shareable");
    for (int i = 0; i < rep->ntypes; i++) {
        const struct load_type_count *t = &rep->types[i];
        printf("%-28s %9ld %9ld %9ld %9ld %9ld %13ld\n", t->type, t->stored, t->updated,
               t->unchanged, t->deleted, t->rejected, t->not_shareable);
    }
    struct load_type_count sum;
    load_report_total(rep, &sum);
    printf("%-28s %9ld %9ld %9ld %9ld %9ld %13ld\n", "total", sum.stored, sum.updated,
           sum.unchanged, sum.deleted, sum.rejected, sum.not_shareable);
}

static void orgs_free(char **orgs, int n)
{
    for (int i = 0; i < n; i++)
        free(orgs[i]);
    free(orgs);
}

static bool valid_ods(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
            return false;
    return n >= 3 && n <= 16;
}

/* Threads at most for --jobs (each holds a connection and a parser's arena) */
#define LOAD_JOBS_MAX 64

/* --jobs N: the extra store handles and the units, kept for the report */
struct jobs_run {
    struct store **stores; /* [0] is the command's own handle */
    int nstores;
    struct load_unit *units;
    int nunits;
    int failed; /* the failed unit, or -1 */
    char errmsg[512];
};

static void jobs_run_free(struct jobs_run *jr)
{
    for (int i = 1; i < jr->nstores; i++)
        store_close(jr->stores[i]);
    free(jr->stores);
    for (int i = 0; i < jr->nunits; i++) {
        for (int k = 0; k < jr->units[i].nfiles; k++)
            free(jr->units[i].files[k]);
        free(jr->units[i].files);
        load_report_free(&jr->units[i].rep);
    }
    free(jr->units);
    memset(jr, 0, sizeof *jr);
    jr->failed = -1;
}

/* What a store failure left unloaded: the units no thread took, named. */
static void jobs_run_report(const struct jobs_run *jr, int rc, struct store *s)
{
    if (jr->failed < 0) { /* the failure came after the units: making it durable */
        fprintf(stderr, "weft load: stopped: %s: %s\n", weft_strerror(rc), store_errmsg(s));
        return;
    }
    fprintf(stderr,
            "weft load: stopped: %s: %s (loading %s; what the counts above show is stored)\n",
            weft_strerror(rc), jr->errmsg, jr->units[jr->failed].name);
    int left = 0, shown = 0;
    for (int i = 0; i < jr->nunits; i++)
        left += jr->units[i].state == LOAD_UNIT_NOT_LOADED;
    if (left == 0)
        return;
    fprintf(stderr,
            "weft load: not loaded (not started when the load stopped): %d of %d folders:", left,
            jr->nunits);
    for (int i = 0; i < jr->nunits && shown < 20; i++)
        if (jr->units[i].state == LOAD_UNIT_NOT_LOADED) {
            fprintf(stderr, " %s", jr->units[i].name);
            shown++;
        }
    fprintf(stderr, "%s\n", left > shown ? " ..." : "");
}

/* --org-dirs in jobs threads (fhir_load_jobs): a unit a folder.  Without
 * --org-dirs the files are one sender's, and a file may refer to what an
 * earlier one sent: they are loaded in order by one thread. */
static int load_in_jobs(const char *db, struct store *s, int jobs, char **orgs, char **pos,
                        int npos, const struct load_ctx *ctx, struct load_report *rep,
                        struct progress *pr, struct jobs_run *jr)
{
    jr->stores = xcalloc((size_t)jobs, sizeof *jr->stores);
    jr->stores[0] = s;
    jr->nstores = 1;
    for (int i = 1; i < jobs; i++) {
        if (cmd_store_open("load", db, &jr->stores[i]) != 0)
            return WEFT_EDB;
        jr->nstores++;
        store_bulk(jr->stores[i], true);
    }
    jr->units = xcalloc((size_t)npos, sizeof *jr->units);
    for (int i = 0; i < npos; i++) {
        struct load_unit *u = &jr->units[jr->nunits++];
        u->org = orgs[i];
        u->name = pos[i];
        load_report_init(&u->rep);
        fhir_load_collect((const char *const *)&pos[i], 1, &u->files, &u->nfiles, &u->bytes,
                          &u->rep);
    }
    return fhir_load_jobs(jr->stores, jr->nstores, jr->units, jr->nunits, ctx, rep, draw, pr,
                          &jr->failed, jr->errmsg, sizeof jr->errmsg);
}

int cmd_load(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_load_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_load_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db"), *org = opts_get(&o, "org");
    bool org_dirs = opts_flag(&o, "org-dirs");
    const char *problem = !db               ? "--db PATH is required"
                          : org && org_dirs ? "--org and --org-dirs exclude each other"
                          : !org && !org_dirs
                              ? "--org ODS is required (the organisation that sent the data)"
                          : o.npos == 0 ? "give at least one FILE or DIR to load"
                                        : NULL;
    if (!problem && org && !valid_ods(org))
        problem = "--org must be an ODS code (3-16 upper-case letters and digits)";
    /* --org-dirs: each folder's own name (trailing slashes dropped) */
    char **orgs = xcalloc((size_t)(o.npos ? o.npos : 1), sizeof *orgs);
    for (int i = 0; i < o.npos && !problem && org_dirs; i++) {
        size_t n = strlen(o.pos[i]);
        while (n > 1 && o.pos[i][n - 1] == '/')
            n--;
        const char *base = o.pos[i];
        for (size_t k = 0; k < n; k++)
            if (o.pos[i][k] == '/')
                base = o.pos[i] + k + 1;
        orgs[i] = xstrndup(base, n - (size_t)(base - o.pos[i]));
        if (!valid_ods(orgs[i])) {
            fprintf(stderr,
                    "weft load: --org-dirs: folder '%s' is not named by an ODS code (3-16 "
                    "upper-case letters and digits)\n",
                    o.pos[i]);
            problem = "";
        }
    }
    if (problem) {
        if (*problem)
            fprintf(stderr, "weft load: %s (see weft load --help)\n", problem);
        orgs_free(orgs, o.npos);
        opts_free(&o);
        return EXIT_USAGE;
    }
    enum log_level lvl = LOG_WARN;
    const char *ll = opts_get(&o, "log-level");
    if (ll && log_level_parse(ll, &lvl) != 0) {
        fprintf(stderr, "weft load: --log-level '%s' is not one of debug, info, warn, error, off\n",
                ll);
        orgs_free(orgs, o.npos);
        opts_free(&o);
        return EXIT_USAGE;
    }
    log_set_level(lvl);
    /* one thread unless asked: only then is the result the sequential one
     * whatever the folders refer to (--help) */
    int jobs = 1;
    const char *jv = opts_get(&o, "jobs");
    if (jv) {
        char *end = NULL;
        long n = strtol(jv, &end, 10);
        if (!*jv || *end || n < 1 || n > LOAD_JOBS_MAX) {
            fprintf(stderr, "weft load: --jobs '%s' is not a number from 1 to %d\n", jv,
                    LOAD_JOBS_MAX);
            orgs_free(orgs, o.npos);
            opts_free(&o);
            return EXIT_USAGE;
        }
        jobs = (int)n;
    }

    struct store *s;
    if (cmd_store_open("load", db, &s) != 0) {
        orgs_free(orgs, o.npos);
        opts_free(&o);
        return 1;
    }
    if (store_migrate(s, NULL, NULL) != 0) {
        fprintf(stderr, "weft load: %s: cannot upgrade the schema: %s\n", db, store_errmsg(s));
        store_close(s);
        orgs_free(orgs, o.npos);
        opts_free(&o);
        return 1;
    }

    bool quiet = opts_flag(&o, "quiet");
    struct progress pr = {.tty = !quiet && isatty(STDERR_FILENO)};
    clock_gettime(CLOCK_MONOTONIC, &pr.start);
    struct load_ctx ctx = {.org = org, .feed = opts_get(&o, "feed")};
    struct load_report rep;
    load_report_init(&rep);
    fhir_load_bulk_begin();
    store_bulk(s, true);
    struct jobs_run jr = {.failed = -1};
    if (jobs > 1 && org_dirs) {
        rc = load_in_jobs(db, s, jobs, orgs, o.pos, o.npos, &ctx, &rep, &pr, &jr);
    } else if (!org_dirs) {
        rc = fhir_load_paths(s, (const char *const *)o.pos, o.npos, &ctx, &rep, draw, &pr);
    } else { /* a folder at a time, as its organisation's */
        rc = 0;
        for (int i = 0; i < o.npos && rc == 0; i++) {
            ctx.org = orgs[i];
            rc = fhir_load_paths(s, (const char *const *)&o.pos[i], 1, &ctx, &rep, draw, &pr);
        }
    }
    int sync_rc = store_bulk(s, false); /* durable before we report anything */
    for (int i = 1; i < jr.nstores; i++) {
        int src = store_bulk(jr.stores[i], false);
        if (sync_rc == 0)
            sync_rc = src;
    }
    fhir_load_bulk_end();
    if (rc == 0 && sync_rc != 0)
        rc = sync_rc;
    double secs = ms_since(&pr.start) / 1000.0;
    if (pr.tty)
        fprintf(stderr, "\n");
    if (!quiet)
        print_table(&rep);
    for (int i = 0; i < rep.nrejections; i++) {
        const struct load_rejection *j = &rep.rejections[i];
        if (j->entry >= 0)
            printf("rejected: %s: %s %ld%s%s%s: %s\n", j->file ? j->file : "(input)",
                   j->line ? "line" : "entry", j->entry, j->type ? " (" : "",
                   j->type ? j->type : "", j->type ? ")" : "", j->reason);
        else
            printf("rejected: %s: %s\n", j->file ? j->file : "(input)", j->reason);
    }
    if (rep.rejected > rep.nrejections)
        printf("... and %ld more rejections\n", rep.rejected - rep.nrejections);
    struct load_type_count sum;
    load_report_total(&rep, &sum);
    long stored = sum.stored + sum.updated + sum.unchanged + sum.deleted;
    printf("%ld files, %ld entries in %.2f s (%.0f/s): %ld stored, %ld updated, %ld unchanged, "
           "%ld rejected, %ld not shareable; %ld persons linked, %ld invalid NHS numbers\n",
           rep.files, rep.entries, secs, secs > 0 ? rep.entries / secs : 0.0, sum.stored,
           sum.updated, sum.unchanged, rep.rejected, sum.not_shareable, rep.persons_linked,
           rep.invalid_nhs);
    (void)stored;
    log_info("load", "done files=%ld entries=%ld rejected=%ld ms=%.0f", rep.files, rep.entries,
             rep.rejected, secs * 1000);
    if (rc != 0 && jobs > 1 && org_dirs)
        jobs_run_report(&jr, rc, s);
    else if (rc != 0)
        fprintf(stderr, "weft load: stopped: %s: %s (everything before is stored)\n",
                weft_strerror(rc), store_errmsg(s));
    int status = (rc != 0 || rep.rejected > 0) ? 1 : 0;
    load_report_free(&rep);
    jobs_run_free(&jr);
    store_close(s);
    orgs_free(orgs, o.npos);
    opts_free(&o);
    return status;
}
