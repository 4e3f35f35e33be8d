/*
 * bench_analytics.c - the direct-care risk list's computation for one GP
 * practice (risk_list_build: the practice's persons, their records read,
 * eFI and unplanned care, ranked), the work behind /analytics/risk-list.
 * Issue 18's target: analytics pages under 100 ms.
 *
 *   bench_analytics DB PRACTICE [RUNS]
 *
 * Prints: practice, patients listed, runs, median and worst wall milliseconds,
 * median CPU milliseconds (the machine may be shared).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "analytics/day.h"
#include "analytics/efi.h"
#include "analytics/risklist.h"
#include "store/store.h"

static double now_ms(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_analytics DB PRACTICE [RUNS]\n");
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 20;
    if (runs < 1 || runs > 1000)
        runs = 20;
    struct store *s = NULL;
    char *err = NULL;
    if (store_open(&s, argv[1], false, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", argv[1], err ? err : "?");
        return 1;
    }
    struct efi_codes *efi = NULL;
    char e[512];
    if (efi_codes_load(NULL, &efi, e, sizeof e) != 0) {
        fprintf(stderr, "%s\n", e);
        return 1;
    }
    double *ms = calloc((size_t)runs, sizeof *ms), *cpu = calloc((size_t)runs, sizeof *cpu);
    int n = 0;
    for (int i = 0; i < runs; i++) {
        struct risk_list l;
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (risk_list_build(s, efi, argv[2], day_today(), &l) != 0) {
            fprintf(stderr, "risk_list_build failed: %s\n", store_errmsg(s));
            return 1;
        }
        ms[i] = now_ms(CLOCK_MONOTONIC) - t0;
        cpu[i] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        n = l.n;
        risk_list_free(&l);
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_d);
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_d);
    printf("%-24s %10d %6d %10.1f %10.1f %10.1f\n", argv[2], n, runs, ms[runs / 2], ms[runs - 1],
           cpu[runs / 2]);
    free(ms);
    free(cpu);
    efi_codes_free(efi);
    store_close(s);
    return 0;
}
