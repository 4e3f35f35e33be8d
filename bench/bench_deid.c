/*
 * bench_deid.c - the de-identification of a secondary-use export alone
 * (analytics/deid.h), without the store or the files: every resource of the
 * shared Synthea bundles (DIR, e.g. $WEFT_DATA/synthea-r4), references
 * resolved and written in canonical form as the store holds them, then
 * de-identified ROUNDS times (default 5) by the tree (deid_json_tree: parse,
 * walk, dump) and by the single-pass rewriter (deid_text).  Prints, per way,
 * "NAME RESOURCES SECONDS RESOURCES/S MB/S" (best round), and checks the two
 * wrote the same bytes.  A third argument (tree or single) runs one way only
 * (for a profile).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "analytics/deid.h"
#include "core/buf.h"
#include "fhir/canon.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void resolve(json_t *v, json_t *urls)
{
    if (json_is_object(v)) {
        json_t *ref = json_object_get(v, "reference");
        json_t *to = json_is_string(ref) ? json_object_get(urls, json_string_value(ref)) : NULL;
        if (to)
            json_object_set(v, "reference", to);
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) resolve(c, urls);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) resolve(c, urls);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_deid DIR [ROUNDS [tree|single]]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    DIR *h = opendir(argv[1]);
    if (!h) {
        fprintf(stderr, "bench_deid: cannot open %s\n", argv[1]);
        return 1;
    }
    struct buf all = BUF_INIT, one = BUF_INIT;
    size_t *off = NULL, n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(h))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        json_t *b = json_load_file(path, 0, NULL);
        if (!b)
            continue;
        json_t *urls = json_object(), *e;
        size_t i;
        json_array_foreach(json_object_get(b, "entry"), i, e)
        {
            json_t *r = json_object_get(e, "resource");
            const char *fu = json_string_value(json_object_get(e, "fullUrl"));
            const char *rt = json_string_value(json_object_get(r, "resourceType"));
            const char *id = json_string_value(json_object_get(r, "id"));
            if (fu && rt && id) {
                char to[512];
                snprintf(to, sizeof to, "%s/%s", rt, id);
                json_object_set_new(urls, fu, json_string(to));
            }
        }
        resolve(b, urls);
        json_decref(urls);
        json_array_foreach(json_object_get(b, "entry"), i, e)
        {
            json_t *r = json_object_get(e, "resource");
            size_t m = r ? canon_dump(r, &one) : 0;
            if (!m)
                continue;
            if (n + 1 >= cap) {
                cap = cap ? cap * 2 : 4096;
                off = xrealloc(off, cap * sizeof *off);
            }
            off[n++] = all.len;
            buf_add(&all, one.data, m);
            off[n] = all.len;
        }
        json_decref(b);
    }
    closedir(h);
    if (n == 0) {
        fprintf(stderr, "bench_deid: no resources in %s\n", argv[1]);
        return 1;
    }
    struct deid_key key;
    deid_key_init(&key);
    struct deid_text t;
    deid_text_init(&t, &key);
    struct buf out[2] = {BUF_INIT, BUF_INIT};
    int only = argc > 3 ? (strcmp(argv[3], "single") == 0 ? 1 : 0) : -1;
    for (int way = 0; way < 2; way++) {
        if (only >= 0 && way != only)
            continue;
        double best = 1e30;
        for (int r = 0; r < rounds; r++) {
            buf_reset(&out[way]);
            double t0 = now();
            for (size_t i = 0; i < n; i++) {
                const char *j = all.data + off[i];
                size_t len = off[i + 1] - off[i];
                if (way == 0)
                    deid_json_tree(&key, j, len, &out[way]);
                else
                    deid_text(&t, j, len, &out[way]);
            }
            double s = now() - t0;
            best = s < best ? s : best;
        }
        printf("%-6s %zu %.3f %.0f %.1f\n", way == 0 ? "tree" : "single", n, best, (double)n / best,
               (double)all.len / best / 1e6);
    }
    if (only >= 0) {
        deid_text_free(&t);
        return 0;
    }
    int same = out[0].len == out[1].len && memcmp(out[0].data, out[1].data, out[0].len) == 0;
    printf("same bytes: %s (single pass %lld, tree fallback %lld)\n", same ? "yes" : "NO",
           (long long)t.fast, (long long)t.slow);
    deid_text_free(&t);
    deid_key_clear(&key);
    return same ? 0 : 1;
}
