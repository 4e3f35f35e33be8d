/*
 * cmd_policy.c - `weft policy load|show|check`: the access policy (job roles
 * -> profiles -> record categories) kept in the store.  load validates the
 * file first (an unknown role or category is an error naming the line) and
 * audits the change; show and check read the policy in force (or, with
 * --file and no --db, a file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "store/store.h"

const struct opt_spec cmd_policy_specs[] = {
    CMD_OPT_DB,
    {"file", "FILE", "load: the policy file; show/check: read this file instead of the store"},
    {"role", "CODE", "check: job role code (e.g. R8001)"},
    {"category", "NAME", "check: record category (e.g. results)"},
    {"capability", "CAP", "check: a capability instead (e.g. secondary-use, risk-list)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft policy load --db PATH --file FILE\n"
    "       weft policy show [--db PATH | --file FILE]\n"
    "       weft policy check [--db PATH | --file FILE] --role CODE --category NAME\n"
    "       weft policy check [--db PATH | --file FILE] --role CODE --capability CAP\n\n"
    "The policy maps job roles to access profiles and profiles to record categories;\n"
    "docs/ACCESS.md describes the format, policy/default.policy is the shipped default.\n"
    "check exits 0 when the role may see the category (or has the capability), 1 when\n"
    "it may not.";

static int open_store(const char *db, struct store **s)
{
    return cmd_store_open_current("policy", db, s);
}

static int read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return WEFT_EIO;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(out, chunk, n);
    int bad = ferror(f);
    fclose(f);
    return bad ? WEFT_EIO : 0;
}

static int do_load(const char *db, const char *file)
{
    if (!db || !file) {
        fprintf(stderr, "weft policy load: --db PATH and --file FILE are required\n");
        return EXIT_USAGE;
    }
    struct buf text = BUF_INIT;
    if (read_file(file, &text) != 0) {
        fprintf(stderr, "weft policy load: cannot read '%s'\n", file);
        buf_release(&text);
        return 1;
    }
    struct store *s = NULL;
    if (open_store(db, &s) != 0) {
        buf_release(&text);
        return 1;
    }
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    buf_addf(&by, "cli:%s", user ? user : "unknown");
    char *err = NULL;
    int64_t version = 0;
    int rc = policy_install(s, text.data, text.len, by.data, &version, &err);
    if (rc)
        fprintf(stderr, "weft policy load: %s: %s\n", file, err ? err : weft_strerror(rc));
    else
        printf("policy version %lld loaded from %s\n", (long long)version, file);
    free(err);
    buf_release(&by);
    buf_release(&text);
    store_close(s);
    return rc ? 1 : 0;
}

/* The policy to inspect: from --file, else the store's current one.  *owned
 * is set when the caller must free it. */
static int get_policy(const char *db, const char *file, struct store **s, const struct policy **p,
                      struct policy **owned, int64_t *version)
{
    *owned = NULL;
    *s = NULL;
    if (file) {
        char *err = NULL;
        int rc = policy_parse_file(file, owned, &err);
        if (rc) {
            fprintf(stderr, "weft policy: %s: %s\n", file, err ? err : weft_strerror(rc));
            free(err);
            return rc;
        }
        *p = *owned;
        *version = 0;
        return 0;
    }
    if (!db) {
        fprintf(stderr, "weft policy: --db PATH or --file FILE is required\n");
        return WEFT_EINVAL;
    }
    if (open_store(db, s) != 0)
        return WEFT_EINVAL;
    int rc = policy_current(*s, p, version);
    if (rc == WEFT_ENOTFOUND)
        fprintf(stderr,
                "weft policy: no policy is loaded in '%s': weft policy load --db %s "
                "--file policy/default.policy\n",
                db, db);
    else if (rc)
        fprintf(stderr, "weft policy: cannot read the policy: %s\n", weft_strerror(rc));
    return rc;
}

int cmd_policy(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_policy_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_policy_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *sub = o.npos == 1 ? o.pos[0] : NULL;
    const char *db = opts_get(&o, "db"), *file = opts_get(&o, "file");
    int status = EXIT_USAGE;
    if (!sub) {
        fprintf(stderr, "%s\n", usage);
    } else if (strcmp(sub, "load") == 0) {
        status = do_load(db, file);
    } else if (strcmp(sub, "show") == 0 || strcmp(sub, "check") == 0) {
        struct store *s = NULL;
        const struct policy *p = NULL;
        struct policy *owned = NULL;
        int64_t version = 0;
        if (get_policy(strcmp(sub, "show") == 0 && file ? NULL : db, file, &s, &p, &owned,
                       &version) != 0) {
            status = 1;
        } else if (strcmp(sub, "show") == 0) {
            struct buf b = BUF_INIT;
            if (version)
                buf_addf(&b, "policy version %lld\n", (long long)version);
            policy_describe(p, &b);
            fputs(b.data, stdout);
            buf_release(&b);
            status = 0;
        } else {
            const char *role = opts_get(&o, "role"), *cat = opts_get(&o, "category");
            const char *cap = opts_get(&o, "capability");
            if (!role || (!cat == !cap)) {
                fprintf(stderr, "weft policy check: --role CODE and one of --category NAME or "
                                "--capability CAP are required\n");
            } else if (!policy_role_known(p, role)) {
                fprintf(stderr, "weft policy check: unknown role '%s' (see weft policy show)\n",
                        role);
            } else if (cap && !policy_capability_bit(cap)) {
                fprintf(stderr, "weft policy check: unknown capability '%s'\n", cap);
            } else if (cap) {
                bool ok = (policy_role_caps(p, role) & policy_capability_bit(cap)) != 0;
                printf("%s (profile %s) %s %s\n", role, policy_role_profile(p, role),
                       ok ? "has" : "does not have", cap);
                status = ok ? 0 : 1;
            } else if (!policy_role_known(p, role)) {
                fprintf(stderr, "weft policy check: unknown role '%s' (see weft policy show)\n",
                        role);
            } else if (policy_category_index(cat) < 0) {
                fprintf(stderr, "weft policy check: unknown category '%s'\n", cat);
            } else {
                bool ok = policy_allows(p, role, cat);
                printf("%s (profile %s) %s see %s%s\n", role, policy_role_profile(p, role),
                       ok ? "may" : "may not", cat,
                       policy_category_restricted(cat) ? " (restricted category)" : "");
                status = ok ? 0 : 1;
            }
        }
        policy_free(owned);
        if (s)
            store_close(s);
    } else {
        fprintf(stderr, "weft policy: unknown subcommand '%s'\n%s\n", sub, usage);
    }
    opts_free(&o);
    return status;
}
