/*
 * fuzz_policy.c - libFuzzer target for the access policy parser and the
 * launch token's base64url decoding (access/policy.h, access/launch.h).
 *
 * Checked invariants: a parse either succeeds (then every role it knows
 * answers consistently: categories listed are exactly those allowed, the
 * description renders) or fails with a message that names a line; the
 * decoder never writes past its output and never accepts a character
 * outside the base64url alphabet.
 * Seeds: tests/fuzz/corpus/fuzz_policy/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/launch.h"
#include "access/policy.h"
#include "core/buf.h"
#include "core/err.h"

static const char *const roles[] = {"R8000", "R8001", "R8009", "R5105", "PARAMEDIC", "X"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p = NULL;
    char *err = NULL;
    int rc = policy_parse((const char *)data, size, &p, &err);
    if (rc == 0) {
        if (!p || err)
            abort();
        int n;
        const char *const *all = policy_categories(&n);
        for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
            const char *cats[POLICY_MAX_CATEGORIES];
            int k = policy_role_categories(p, roles[r], cats);
            int allowed = 0;
            for (int c = 0; c < n; c++)
                allowed += policy_allows(p, roles[r], all[c]);
            if (k != allowed || (!policy_role_known(p, roles[r]) && k != 0))
                abort();
        }
        struct buf b = BUF_INIT;
        policy_describe(p, &b);
        buf_release(&b);
        policy_free(p);
    } else {
        if (p || !err || strncmp(err, "line ", 5) != 0)
            abort();
        free(err);
    }
    size_t out = 0;
    unsigned char *d = launch_b64url_decode((const char *)data, size, &out);
    if (d) {
        if (out > size)
            abort();
        for (size_t i = 0; i < size; i++) {
            char ch = (char)data[i];
            bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '=';
            if (!ok)
                abort();
        }
        free(d);
    }
    return 0;
}
