/*
 * bench_csv.c - social care CSV extracts: rows per second for
 *   read      the RFC 4180 reader alone (feeds/csv.h),
 *   map       read + validate + map to FHIR Bundles (feeds/socialcare.h, no sink),
 *   load      read + validate + map + load into a fresh SQLite store through
 *             the loading pipeline (socialcare_store_sink -> fhir_load_bundle),
 * over a generated people extract and a services extract of the same size
 * (one service per person; people are loaded first so services link).
 *
 *   bench_csv [--rows N] [--runs R] [--dir DIR] [--batch B] [--bundle U] [--no-load] [--bulk]
 *
 * --bundle U splits every batch of B rows into Bundles of U rows; when
 * loading, they are loaded nested in one durable commit per batch (the
 * grouped socialcare_store_sink, as the drop-folder ingest does with
 * B = 2000, U = 100).  Without it, one Bundle and one commit per batch.
 *
 * --bulk loads with store_bulk(s, true) (commits stop waiting for the disk,
 * made durable once at the end, as `weft load` does) instead of one durable
 * commit per Bundle; the final store_bulk(s, false) is inside the timing.
 *
 * Writes people_bench.csv and services_bench.csv into DIR (default $BENCH_TMP
 * or /tmp), then prints one line per run and measurement, and finally
 *   median <measure> <kind> <rows/s>
 * lines that bench_csv.sh turns into the table.  The generated data is
 * synthetic (test NHS numbers starting 999, made-up names).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "feeds/csv.h"
#include "feeds/socialcare.h"
#include "fhir/load.h"
#include "store/store.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: on a shared machine, rows per CPU second
 * shows the work apart from waiting for a core or for fsync. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* The next valid test NHS number (999 + 6 digits + check digit), each
 * returned once: about 909,000 of them before they repeat. */
static void nhs_number(char out[11])
{
    static unsigned long next;
    for (;;) {
        snprintf(out, 11, "999%06lu0", next++ % 1000000ul);
        int sum = 0;
        for (int i = 0; i < 9; i++)
            sum += (out[i] - '0') * (10 - i);
        int c = 11 - sum % 11;
        if (c == 11)
            c = 0;
        if (c != 10) {
            out[9] = (char)('0' + c);
            return;
        }
    }
}

static const char *families[] = {"Smith",   "Jones",  "Taylor", "Brown",   "Williams", "Wilson",
                                 "Johnson", "Davies", "Patel",  "O'Brien", "Robinson", "Wright"};
static const char *givens[] = {"Jane",  "John",  "Mary Ann",    "Ravi",  "Sean", "Margaret",
                               "David", "Susan", "Peter James", "Aisha", "Tom",  "Elizabeth"};
static const char *towns[] = {"Maidstone", "Ashford",   "Canterbury", "Dover",
                              "Margate",   "Tonbridge", "Sevenoaks",  "Folkestone"};
static const char *services[] = {"home-care", "day-care",         "meals",    "reablement",
                                 "equipment", "Residential care", "telecare", "respite"};

static int generate(const char *dir, long rows)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/people_bench.csv", dir);
    FILE *p = fopen(path, "w");
    snprintf(path, sizeof path, "%s/services_bench.csv", dir);
    FILE *s = fopen(path, "w");
    if (!p || !s) {
        perror("bench_csv: create");
        return -1;
    }
    fputs("\xEF\xBB\xBFperson_id,nhs_number,nhs_number_verified,title,family_name,given_names,"
          "date_of_birth,sex,address_line_1,address_line_2,town,postcode,phone,gp_practice_ods,"
          "date_recorded\r\n",
          p);
    fputs("service_id,person_id,service_type,provider_name,provider_ods,start_date,end_date,"
          "hours_per_week,status\r\n",
          s);
    for (long i = 0; i < rows; i++) {
        char nhs[11] = "";
        unsigned k = rnd(10);
        if (k < 7)
            nhs_number(nhs);
        fprintf(p,
                "KP%07ld,%s,%s,%s,%s,%s,%04u-%02u-%02u,%s,\"%u, %s Road\",,%s,CT%u %uAB,01227 "
                "%06u,G8%04u,2026-0%u-1%u\r\n",
                i, k < 7 ? nhs : "", k < 4 ? "Y" : (k < 7 ? "N" : ""), rnd(3) ? "" : "Mrs",
                families[rnd(12)], givens[rnd(12)], 1920 + rnd(80), 1 + rnd(12), 1 + rnd(28),
                rnd(2) ? "F" : "M", 1 + rnd(200), rnd(2) ? "Station" : "Church", towns[rnd(8)],
                1 + rnd(20), rnd(10), rnd(999999), rnd(9999), 1 + rnd(9), rnd(10));
        unsigned st = rnd(8);
        int ended = rnd(4) == 0;
        fprintf(s, "KS%07ld,KP%07ld,%s,%s,%s,2025-%02u-%02u,%s,%s,%s\n", i, i, services[st],
                rnd(2) ? "Kent Care Ltd" : "\"Care, Support & Co\"", rnd(2) ? "AB123" : "",
                1 + rnd(12), 1 + rnd(28), ended ? "2026-01-31" : "", st == 0 ? "12.5" : "",
                ended ? "ended" : "active");
    }
    int rc = (fclose(p) == 0 && fclose(s) == 0) ? 0 : -1;
    return rc;
}

static long read_only(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    struct csv_reader *r;
    csv_reader_open(&r, fp, NULL);
    struct csv_row row;
    long n = 0;
    size_t bytes = 0;
    while (csv_reader_next(r, &row) == 1) {
        n++;
        if (!row.err)
            bytes += row.nfields;
    }
    csv_reader_close(r);
    fclose(fp);
    return bytes ? n - 1 : -1; /* data rows */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    long rows = 100000;
    int runs = 3, do_load = 1, bulk = 0;
    size_t batch = 0, bundle = 0;
    const char *dir = getenv("BENCH_TMP");
    if (!dir)
        dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = atol(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--bundle") && i + 1 < argc)
            bundle = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--no-load"))
            do_load = 0;
        else if (!strcmp(argv[i], "--bulk"))
            bulk = 1;
        else {
            fprintf(stderr, "usage: bench_csv [--rows N] [--runs R] [--dir DIR] [--batch B] "
                            "[--bundle U] [--no-load] [--bulk]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 50 || rows < 1)
        return 2;
    log_set_level(LOG_WARN);
    if (generate(dir, rows) != 0)
        return 1;
    char people[1024], svc[1024];
    snprintf(people, sizeof people, "%s/people_bench.csv", dir);
    snprintf(svc, sizeof svc, "%s/services_bench.csv", dir);
    const char *files[2] = {people, svc};
    const char *kinds[2] = {"people", "services"};
    printf("rows %ld per file, runs %d, batch %zu, bundle %zu%s\n", rows, runs,
           batch ? batch : (size_t)SOCIALCARE_DEFAULT_BATCH,
           bundle ? bundle : (batch ? batch : (size_t)SOCIALCARE_DEFAULT_BATCH),
           bulk ? ", bulk commits" : "");

    double rd[2][50], mp[2][50], mpcpu[2][50], ld[2][50], ldall[50], ldcpu[2][50];
    for (int r = 0; r < runs; r++) {
        for (int f = 0; f < 2; f++) {
            double t = now();
            long n = read_only(files[f]);
            t = now() - t;
            if (n != rows) {
                fprintf(stderr, "bench_csv: read %ld rows of %s, want %ld\n", n, files[f], rows);
                return 1;
            }
            rd[f][r] = (double)rows / t;
            printf("run %d read %s %.0f rows/s\n", r + 1, kinds[f], rd[f][r]);

            struct socialcare_opts o = {
                .ods = "KENTCC", .feed = "bench", .batch_rows = batch, .bundle_rows = bundle};
            struct socialcare_report *rep;
            t = now();
            double c = cpu_now();
            int rc = socialcare_process_file(files[f], &o, NULL, NULL, &rep);
            t = now() - t;
            c = cpu_now() - c;
            mpcpu[f][r] = (double)rows / c;
            if (rc != 0 || rep->rows_mapped != (size_t)rows) {
                fprintf(stderr, "bench_csv: mapped %zu of %ld (%s)\n", rep->rows_mapped, rows,
                        rep->nerrors ? rep->errors[0].reason : "");
                return 1;
            }
            socialcare_report_free(rep);
            mp[f][r] = (double)rows / t;
            printf("run %d map %s %.0f rows/s (%.0f rows per CPU second)\n", r + 1, kinds[f],
                   mp[f][r], mpcpu[f][r]);
        }
        if (!do_load)
            continue;
        char db[1100];
        snprintf(db, sizeof db, "%s/bench_csv_%d.db", dir, (int)getpid());
        unlink(db);
        struct store *st;
        char *err = NULL;
        int from, to;
        if (store_open(&st, db, true, &err) != 0 || store_migrate(st, &from, &to) != 0) {
            fprintf(stderr, "bench_csv: store: %s\n", err ? err : "?");
            return 1;
        }
        if (bulk && store_bulk(st, true) != 0) {
            fprintf(stderr, "bench_csv: store_bulk: %s\n", store_errmsg(st));
            return 1;
        }
        double all = 0;
        for (int f = 0; f < 2; f++) {
            struct socialcare_opts o = {.ods = "KENTCC",
                                        .feed = "bench",
                                        .batch_rows = batch,
                                        .bundle_rows = bundle,
                                        .commit = bundle ? socialcare_store_commit : NULL};
            struct socialcare_store_sink ss = {.store = st,
                                               .org = "KENTCC",
                                               .feed = "bench",
                                               .file = files[f],
                                               .grouped = bundle != 0};
            struct socialcare_report *rep;
            double t = now(), c = cpu_now();
            int rc = socialcare_process_file(files[f], &o, socialcare_store_sink, &ss, &rep);
            t = now() - t;
            c = cpu_now() - c;
            ldcpu[f][r] = (double)rows / c;
            if (rc != 0 || rep->rows_loaded != (size_t)rows) {
                fprintf(stderr, "bench_csv: loaded %zu of %ld (%s)\n", rep->rows_loaded, rows,
                        rep->nerrors ? rep->errors[0].reason : "");
                return 1;
            }
            socialcare_report_free(rep);
            all += t;
            ld[f][r] = (double)rows / t;
            printf("run %d load %s %.0f rows/s (%.0f rows per CPU second)\n", r + 1, kinds[f],
                   ld[f][r], ldcpu[f][r]);
        }
        if (bulk) {
            double t = now();
            if (store_bulk(st, false) != 0) {
                fprintf(stderr, "bench_csv: store_bulk off: %s\n", store_errmsg(st));
                return 1;
            }
            all += now() - t;
        }
        ldall[r] = 2.0 * (double)rows / all;
        store_close(st);
        char side[1200];
        unlink(db);
        snprintf(side, sizeof side, "%s-wal", db);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", db);
        unlink(side);
    }
    for (int f = 0; f < 2; f++) {
        printf("median read %s %.0f\n", kinds[f], median(rd[f], runs));
        printf("median map %s %.0f\n", kinds[f], median(mp[f], runs));
        printf("median mapcpu %s %.0f\n", kinds[f], median(mpcpu[f], runs));
        if (do_load) {
            printf("median load %s %.0f\n", kinds[f], median(ld[f], runs));
            printf("median loadcpu %s %.0f\n", kinds[f], median(ldcpu[f], runs));
        }
    }
    if (do_load)
        printf("median load both %.0f\n", median(ldall, runs));
    return 0;
}
