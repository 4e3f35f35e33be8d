/*
 * bench_jsonparse.c - the parse-only baseline of bench/bench_load.sh: reads
 * every .json file under the given directories and parses it with jansson
 * (as weft load does, with the same flags), counting Bundle entries.
 * Prints "ENTRIES SECONDS" (wall time of reading + parsing).  With --dump it
 * also serialises each entry's resource once the way the loader does
 * (compact, sorted keys), to show what that step costs.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long load_one(const char *path, int dump)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    size_t got = fread(data, 1, (size_t)size, f);
    fclose(f);
    json_error_t err;
    json_t *doc = json_loadb(data, got, JSON_REJECT_DUPLICATES, &err);
    free(data);
    if (!doc) {
        fprintf(stderr, "%s: %s\n", path, err.text);
        return -1;
    }
    json_t *entries = json_object_get(doc, "entry");
    long n = (long)json_array_size(entries);
    if (dump) {
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e)
        {
            char *s = json_dumps(json_object_get(e, "resource"), JSON_COMPACT | JSON_SORT_KEYS);
            free(s);
        }
    }
    json_decref(doc);
    return n;
}

int main(int argc, char **argv)
{
    int dump = 0;
    long total = 0;
    double t0 = now();
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--dump") == 0) {
            dump = 1;
            continue;
        }
        struct dirent **names;
        int k = scandir(argv[a], &names, NULL, alphasort);
        if (k < 0) {
            perror(argv[a]);
            return 1;
        }
        for (int i = 0; i < k; i++) {
            size_t len = strlen(names[i]->d_name);
            if (len > 5 && strcmp(names[i]->d_name + len - 5, ".json") == 0) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[a], names[i]->d_name);
                long n = load_one(path, dump);
                if (n < 0)
                    return 1;
                total += n;
            }
            free(names[i]);
        }
        free(names);
    }
    printf("%ld %.3f\n", total, now() - t0);
    return 0;
}
