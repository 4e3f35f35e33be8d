/*
 * bench_hl7_parse.c - HL7 v2 parse and parse+map throughput on one core.
 *
 *   build/rel/bench/bench_hl7_parse DIR [SECONDS_PER_ROUND] [ROUNDS]
 *
 * Loads every message of every *.hl7 / *.txt file directly in DIR (the
 * shared samples: $WEFT_DATA/hl7v2), each copied into its own buffer, then
 * runs ROUNDS rounds (default 5) of each measurement and prints one line per
 * round and the medians:
 *   parse      hl7_msg_parse() of every message in turn, one handle reused
 *              (a full parse: every segment and field is located; the
 *              benchmark also touches MSH-9 and MSH-10 so nothing is skipped);
 *   parse_map  parse + hl7_map_message(): wire bytes to the FHIR Bundle
 *              (jansson tree) that the loader receives;
 *   parse_map_json  the same + json_dumps() of the bundle (JSON text).
 * Rates are per CPU-second of the benchmark thread (CLOCK_THREAD_CPUTIME_ID),
 * so other load on a shared machine does not count against it.
 * Output lines: "median parse msgs_per_s=N mb_per_s=N" etc., for bench_hl7.sh.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feeds/hl7.h"
#include "feeds/hl7_map.h"

struct msgs {
    char **p;
    size_t *len;
    size_t n, cap, bytes;
};

static void load_file(const char *path, struct msgs *ms)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    struct buf b = BUF_INIT;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(&b, chunk, k);
    fclose(f);
    struct hl7_split s;
    struct hl7_span m;
    struct hl7_error e;
    hl7_split_init(&s, b.data, b.len);
    struct hl7_msg *h = hl7_msg_new();
    while (hl7_split_next(&s, &m, &e) == 1) {
        if (hl7_msg_parse(h, m.p, m.len, 0, &e))
            continue; /* the main folder parses; be safe anyway */
        if (ms->n == ms->cap) {
            ms->cap = ms->cap ? ms->cap * 2 : 64;
            ms->p = xrealloc(ms->p, ms->cap * sizeof *ms->p);
            ms->len = xrealloc(ms->len, ms->cap * sizeof *ms->len);
        }
        ms->p[ms->n] = xmalloc(m.len);
        memcpy(ms->p[ms->n], m.p, m.len);
        ms->len[ms->n] = m.len;
        ms->bytes += m.len;
        ms->n++;
    }
    hl7_msg_free(h);
    buf_release(&b);
}

/* CPU time of this thread: "per second on one core" even when the machine
 * is shared and the thread is descheduled part of the time. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile size_t sink;

/* One round: run for at least secs; returns messages per second. */
static double round_parse(const struct msgs *ms, struct hl7_msg *h, double secs, int map)
{
    size_t done = 0;
    double t0 = now(), t1;
    struct hl7_map_opts o = {.ods = "BENCH"};
    do {
        for (size_t i = 0; i < ms->n; i++) {
            struct hl7_error e;
            if (hl7_msg_parse(h, ms->p[i], ms->len[i], 0, &e) != 0)
                abort();
            struct hl7_span v;
            hl7_seg_get(h, 0, 9, 1, 1, 0, &v);
            sink += v.len + hl7_seg_count(h);
            hl7_seg_get(h, 0, 10, 0, 0, 0, &v);
            sink += v.len;
            if (map) {
                struct hl7_map_result r;
                hl7_map_message(h, &o, &r);
                sink += r.resources;
                if (map == 2 && r.bundle) {
                    char *j = json_dumps(r.bundle, JSON_COMPACT);
                    sink += strlen(j);
                    free(j);
                }
                hl7_map_result_clear(&r);
            }
        }
        done += ms->n;
        t1 = now();
    } while (t1 - t0 < secs);
    return (double)done / (t1 - t0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [SECONDS_PER_ROUND] [ROUNDS]\n", argv[0]);
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 1.0;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (rounds < 1 || rounds > 100)
        rounds = 5;
    struct msgs ms = {0};
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && (!strcmp(de->d_name + l - 4, ".hl7") || !strcmp(de->d_name + l - 4, ".txt"))) {
            names = xrealloc(names, (nn + 1) * sizeof *names);
            names[nn++] = xstrdup(de->d_name);
        }
    }
    closedir(d);
    for (size_t i = 0; i < nn; i++) { /* readdir order varies: sort for repeatability */
        for (size_t j = i + 1; j < nn; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    }
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
        load_file(path, &ms);
        free(names[i]);
    }
    free(names);
    if (ms.n == 0) {
        fprintf(stderr, "no messages in %s\n", argv[1]);
        return 2;
    }
    printf("messages %zu bytes %zu mean_bytes %zu\n", ms.n, ms.bytes, ms.bytes / ms.n);
    struct hl7_msg *h = hl7_msg_new();
    const char *names2[3] = {"parse", "parse_map", "parse_map_json"};
    for (int kind = 0; kind < 3; kind++) {
        double *r = xcalloc((size_t)rounds, sizeof *r);
        round_parse(&ms, h, secs / 4, kind); /* warm up */
        for (int i = 0; i < rounds; i++) {
            r[i] = round_parse(&ms, h, secs, kind);
            printf("round %s %d msgs_per_s=%.0f\n", names2[kind], i + 1, r[i]);
        }
        qsort(r, (size_t)rounds, sizeof *r, cmp_double);
        double med = r[rounds / 2];
        printf("median %s msgs_per_s=%.0f mb_per_s=%.1f\n", names2[kind], med,
               med * (double)ms.bytes / (double)ms.n / 1e6);
        free(r);
    }
    hl7_msg_free(h);
    for (size_t i = 0; i < ms.n; i++)
        free(ms.p[i]);
    free(ms.p);
    free(ms.len);
    return 0;
}
