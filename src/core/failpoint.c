/*
 * failpoint.c - WEFT_FAILPOINTS parsing (failpoint.h).  Compiled to nothing
 * in builds without -DWEFT_FAILPOINTS (the release binary).
 */
#include "core/failpoint.h"

#ifdef WEFT_FAILPOINTS
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known[] = {
    "mllp-ack-before-commit", "store-skip-fsync", "feed-status-pause", "accept-journal-slow-mover",
    "bulk-done-pause",        "mllp-batch-raced", "store-unit-raced",  "store-unit-raced-twice"};
#define N_KNOWN (sizeof known / sizeof known[0])

static bool on[N_KNOWN];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void parse(void)
{
    const char *v = getenv("WEFT_FAILPOINTS");
    while (v && *v) {
        size_t n = strcspn(v, ",");
        bool found = false;
        for (size_t i = 0; i < N_KNOWN; i++) {
            if (strlen(known[i]) == n && memcmp(known[i], v, n) == 0) {
                on[i] = found = true;
                fprintf(stderr, "weft: failpoint %s is on (a deliberate breakage for tests)\n",
                        known[i]);
            }
        }
        if (!found && n)
            fprintf(stderr, "weft: WEFT_FAILPOINTS names an unknown failpoint '%.*s'\n", (int)n, v);
        v += n;
        if (*v == ',')
            v++;
    }
}

bool failpoint_on(const char *name)
{
    pthread_once(&once, parse);
    for (size_t i = 0; i < N_KNOWN; i++)
        if (strcmp(known[i], name) == 0)
            return on[i];
    fprintf(stderr, "weft: FAILPOINT(\"%s\") is not listed in failpoint.c\n", name);
    abort();
}
#else
typedef int failpoint_unused; /* ISO C wants a declaration in every file */
#endif
