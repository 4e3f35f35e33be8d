/*
 * bench_access.c - benchmarks of the access and audit parts, run by
 * bench/bench_access.sh:
 *
 *   bench_access reads DB PERSONS ITEMS SECONDS THREADS
 *       Creates PERSONS people with ITEMS resources each (spread over every
 *       record category and three organisations), then for SECONDS each runs,
 *       on THREADS threads, (a) plain reads: store_search of one person's
 *       record, no authorisation, no audit; (b) the same reads as a launched
 *       nurse: authz_scope_for_person() applied to the query and every
 *       returned item audited through the group-commit writer.  Prints both
 *       rates and the overhead.
 *   bench_access append DB N THREADS
 *       N audit appends through the group-commit writer from THREADS threads
 *       (none waiting), then a flush; prints entries/s.
 *
 * Timing is wall clock; each figure is one run (the script repeats).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access/authz.h"
#include "access/policy.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/access.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct store *open_db(const char *db)
{
    struct store *s = NULL;
    char *err = NULL;
    if (store_open(&s, db, true, &err) != 0) {
        fprintf(stderr, "bench_access: %s\n", err ? err : "cannot open");
        exit(1);
    }
    return s;
}

static const char *const orgs[] = {"RVV", "G82001", "KENTCC"};

static void populate(const char *db, int persons, int items, char ***ids_out)
{
    struct store *s = open_db(db);
    int from, to;
    if (store_migrate(s, &from, &to) != 0) {
        fprintf(stderr, "migrate: %s\n", store_errmsg(s));
        exit(1);
    }
    char *perr = NULL;
    if (policy_ensure_default(s, NULL, &perr) != 0) {
        fprintf(stderr, "policy: %s\n", perr ? perr : "?");
        exit(1);
    }
    store_org_put(s, "RVV", "East Kent", "acute");
    store_agreement_add(s, "RVV", "jca", "2020-01-01", NULL, NULL);
    int ncat;
    const char *const *cats = policy_categories(&ncat);
    char **ids = calloc((size_t)persons, sizeof *ids);
    store_begin(s);
    for (int p = 0; p < persons; p++) {
        char nhs[16];
        /* 999 test range; the store does not re-check digits here */
        snprintf(nhs, sizeof nhs, "999%07d", p);
        if (store_person_by_nhs(s, nhs, &ids[p]) != 0) {
            fprintf(stderr, "person: %s\n", store_errmsg(s));
            exit(1);
        }
        for (int i = 0; i < items; i++) {
            char sid[64], json[256];
            snprintf(sid, sizeof sid, "p%d-i%d", p, i);
            int n = snprintf(json, sizeof json,
                             "{\"resourceType\":\"Observation\",\"id\":\"%s\",\"status\":\"final\","
                             "\"code\":{\"text\":\"bench item %d\"}}",
                             sid, i);
            struct store_put put = {.type = "Observation",
                                    .source_org = orgs[i % 3],
                                    .source_id = sid,
                                    .person_id = ids[p],
                                    .category = cats[i % ncat],
                                    .effective = "2024-01-01",
                                    .json = json,
                                    .json_len = (size_t)n};
            enum store_put_outcome oc;
            char id[STORE_ID_LEN + 1];
            int ver;
            if (store_resource_put(s, &put, &oc, id, &ver) != 0) {
                fprintf(stderr, "put: %s\n", store_errmsg(s));
                exit(1);
            }
        }
    }
    store_commit(s);
    store_close(s);
    *ids_out = ids;
}

struct reader {
    const char *db;
    char **ids;
    int persons;
    double seconds;
    bool authz;
    long done;
    long items;
    unsigned seed;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct store *s = open_db(r->db);
    double end = now_s() + r->seconds;
    while (now_s() < end) {
        for (int k = 0; k < 50; k++) {
            const char *pid = r->ids[rand_r(&r->seed) % (unsigned)r->persons];
            struct store_query q = {.person_id = pid, .limit = 100};
            struct authz_scope sc = {0};
            struct principal p = {.kind = PRINCIPAL_USER,
                                  .user_id = "bench-nurse",
                                  .role = "R8001",
                                  .org = "RVV",
                                  .launcher = "bench",
                                  .purpose = "TREAT",
                                  .person_id = pid};
            if (r->authz) {
                if (authz_scope_for_person(s, &p, pid, &sc) != 0 || !sc.allowed) {
                    fprintf(stderr, "authz refused the bench nurse\n");
                    exit(1);
                }
                q.categories = (const char *const *)sc.categories;
                q.ncategories = sc.ncategories;
                if (sc.norgs >= 0) {
                    q.source_orgs = (const char *const *)sc.orgs;
                    q.nsource_orgs = sc.norgs;
                }
            }
            struct store_result res = {0};
            if (store_search(s, &q, &res) != 0) {
                fprintf(stderr, "search: %s\n", store_errmsg(s));
                exit(1);
            }
            if (r->authz && !getenv("BENCH_NO_AUDIT"))
                authz_audit_rows(s, &p, AUDIT_SEARCH, res.rows, res.nrows, NULL);
            authz_scope_clear(&sc);
            r->items += res.nrows;
            store_result_clear(&res);
            r->done++;
        }
    }
    store_close(s);
    return NULL;
}

static double run_readers(const char *db, char **ids, int persons, double secs, int threads,
                          bool authz, long *items)
{
    struct reader rd[16];
    pthread_t th[16];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        rd[i] = (struct reader){db, ids, persons, secs, authz, 0, 0, (unsigned)(i * 7919 + 1)};
        pthread_create(&th[i], NULL, reader_main, &rd[i]);
    }
    long done = 0;
    *items = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        done += rd[i].done;
        *items += rd[i].items;
    }
    return (double)done / (now_s() - t0);
}

static int bench_reads(const char *db, int persons, int items, double secs, int threads)
{
    char **ids;
    unlink(db);
    populate(db, persons, items, &ids);
    struct audit_log *log = NULL;
    /* BENCH_AUDIT_DB: write the audit log to another file (experiment: how
     * much of the cost is the readers' page caches being invalidated by the
     * writer's commits to the same file) */
    const char *adb = getenv("BENCH_AUDIT_DB");
    if (adb) {
        struct store *as = open_db(adb);
        int f, t;
        store_migrate(as, &f, &t);
        store_close(as);
    }
    if (audit_log_open(&log, adb ? adb : db) != 0)
        return 1;
    audit_set_log(log);
    long it_plain, it_auth;
    /* warm up both paths (page cache, statement caches) */
    run_readers(db, ids, persons, 0.5, threads, false, &it_plain);
    run_readers(db, ids, persons, 0.5, threads, true, &it_auth);
    audit_log_flush(log);
    /* Alternate short rounds so that load from elsewhere on a shared machine
     * falls on both modes alike; count wall-clock throughput and the process's
     * CPU time per read (all threads, the audit writer included). */
    double ops[2] = {0, 0}, wall[2] = {0, 0}, cpu[2] = {0, 0};
    int rounds = secs < 2 ? 2 : (int)secs;
    for (int r = 0; r < 2 * rounds; r++) {
        int mode = r % 2;
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double t0 = now_s();
        double rate = run_readers(db, ids, persons, 1.0, threads, mode == 1, &it_auth);
        if (mode == 1)
            audit_log_flush(log); /* the writer's work is part of the cost */
        double dt = now_s() - t0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        ops[mode] += rate * 1.0;
        wall[mode] += dt;
        cpu[mode] += (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    }
    audit_set_log(NULL);
    audit_log_close(log);
    double plain = ops[0] / wall[0], auth = ops[1] / wall[1];
    double cpu_plain = cpu[0] / ops[0] * 1e6, cpu_auth = cpu[1] / ops[1] * 1e6;
    printf("| reads of one person's record (%d items, %d persons, %d threads) | %.0f/s | %.0f/s "
           "| %.1f%% | %.0f us | %.0f us | %.1f%% |\n",
           items, persons, threads, plain, auth, 100.0 * (plain - auth) / plain, cpu_plain,
           cpu_auth, 100.0 * (cpu_auth - cpu_plain) / cpu_plain);
    for (int i = 0; i < persons; i++)
        free(ids[i]);
    free(ids);
    policy_cache_release();
    return 0;
}

struct appender {
    struct audit_log *log;
    long n;
    int id;
};

static void *append_main(void *arg)
{
    struct appender *a = arg;
    char user[32], what[64];
    snprintf(user, sizeof user, "bench-user-%d", a->id);
    for (long i = 0; i < a->n; i++) {
        snprintf(what, sizeof what, "Observation/%032lx", (unsigned long)i);
        struct audit_event ev = {.action = AUDIT_READ,
                                 .outcome = AUDIT_OK,
                                 .user_id = user,
                                 .user_name = "Bench User",
                                 .role = "R8001",
                                 .org = "RVV",
                                 .launcher = "bench-epr",
                                 .purpose = "TREAT",
                                 .person_id = "0123456789abcdef0123456789abcdef",
                                 .session_id = "bench-session",
                                 .what = what,
                                 .count = 1};
        audit_log_append(a->log, &ev, false);
    }
    return NULL;
}

static int bench_append(const char *db, long n, int threads)
{
    struct store *s = open_db(db);
    int from, to;
    store_migrate(s, &from, &to);
    store_close(s);
    struct audit_log *log = NULL;
    if (audit_log_open(&log, db) != 0)
        return 1;
    double t0 = now_s();
    struct appender ap[16];
    pthread_t th[16];
    for (int i = 0; i < threads; i++) {
        ap[i] = (struct appender){log, n / threads + (i < n % threads), i};
        pthread_create(&th[i], NULL, append_main, &ap[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    audit_log_flush(log);
    double dt = now_s() - t0;
    audit_log_close(log);
    printf("| audit appends, group commit (%ld entries, %d threads) | %.0f entries/s | %.1f s "
           "|\n",
           n, threads, (double)n / dt, dt);
    return 0;
}

/* Micro-benchmark: the decision alone (µs per authz_scope_for_person). */
static int bench_decide(const char *db, int n)
{
    char **ids;
    unlink(db);
    populate(db, 100, 1, &ids);
    struct store *s = open_db(db);
    struct principal p = {
        .kind = PRINCIPAL_USER, .user_id = "u", .role = "R8001", .org = "RVV", .purpose = "TREAT"};
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        p.person_id = ids[i % 100];
        struct authz_scope sc;
        if (authz_scope_for_person(s, &p, ids[i % 100], &sc) != 0 || !sc.allowed)
            return 1;
        authz_scope_clear(&sc);
    }
    double dt = now_s() - t0;
    printf("| authz_scope_for_person, launched nurse | %.1f us per decision |\n", dt / n * 1e6);
    store_close(s);
    for (int i = 0; i < 100; i++)
        free(ids[i]);
    free(ids);
    policy_cache_release();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "decide") == 0)
        return bench_decide(argv[2], atoi(argv[3]));
    if (argc >= 7 && strcmp(argv[1], "reads") == 0)
        return bench_reads(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]),
                           atoi(argv[6]) > 16 ? 16 : atoi(argv[6]));
    if (argc >= 5 && strcmp(argv[1], "append") == 0)
        return bench_append(argv[2], atol(argv[3]), atoi(argv[4]) > 16 ? 16 : atoi(argv[4]));
    fprintf(stderr, "usage: bench_access reads DB PERSONS ITEMS SECONDS THREADS\n"
                    "       bench_access append DB N THREADS\n");
    return 2;
}
