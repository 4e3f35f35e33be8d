/*
 * policy.c - parse, validate and answer questions about the access policy
 * (see policy.h for the format, docs/ACCESS.md for the meaning).
 *
 * Workload: parsed rarely (on load, or when the stored policy version
 * changes), asked on every request.  So validation is thorough and the
 * answer path is cheap: a role lookup (a linear scan over a few dozen roles;
 * a policy has tens of roles, not thousands) and a bit test.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "access/policy.h"
#include "core/buf.h"
#include "audit/audit.h"
#include "core/err.h"
#include "core/hex.h"
#include "domain/category.h"
#include "store/access.h"
#include "store/store.h"
#include "store/txn.h"

#define NCATEGORIES CATEGORY_COUNT
_Static_assert(NCATEGORIES <= POLICY_MAX_CATEGORIES, "category mask too small");

/* National RBAC job role codes this build recognises.  A policy may only map
 * codes from this list with `role`; anything else is a local role and must be
 * declared with `local-role`, so a typo ("R8100") is an error, not a silent
 * new role that nobody has. */
static const char *const national_roles[] = {
    "R8000", "R8001", "R8002", "R8003", "R8004", "R8005", "R8006", "R8007",
    "R8008", "R8009", "R8010", "R8011", "R8012", "R8013", "R0001", "R5105",
};

struct profile {
    char *name;
    uint32_t mask;
    unsigned caps;
};

struct role {
    char *code;
    int profile;
    bool local;
    char *description;
};

struct withhold {
    bool label;   /* false: category rule */
    char *value;  /* category name, or "system|code" of a meta.security / meta.tag label */
    char *reason; /* why, for the reviewer's note */
};

struct policy {
    struct profile *profiles;
    int nprofiles;
    struct role *roles;
    int nroles;
    struct withhold *withholds; /* citizen-withhold rules, in file order */
    int nwithholds;
};

int policy_role_count(const struct policy *p)
{
    return p->nroles;
}

const char *policy_role_at(const struct policy *p, int i, const char **description)
{
    if (i < 0 || i >= p->nroles)
        return NULL;
    if (description)
        *description = p->roles[i].description;
    return p->roles[i].code;
}

const char *const *policy_categories(int *n)
{
    *n = NCATEGORIES;
    return category_names;
}

int policy_category_index(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < NCATEGORIES; i++)
        if (strcmp(category_names[i], name) == 0)
            return i;
    return -1;
}

bool policy_category_restricted(const char *name)
{
    return name && (strcmp(name, "safeguarding") == 0 || strcmp(name, "legal-status") == 0 ||
                    strcmp(name, "mental-health-act") == 0);
}

static bool is_national(const char *code)
{
    for (size_t i = 0; i < sizeof national_roles / sizeof national_roles[0]; i++)
        if (strcmp(national_roles[i], code) == 0)
            return true;
    return false;
}

/* Looks like a national code (R + 4 digits) whether or not we know it. */
static bool national_shape(const char *code)
{
    if (code[0] != 'R' || strlen(code) != 5)
        return false;
    for (int i = 1; i < 5; i++)
        if (!isdigit((unsigned char)code[i]))
            return false;
    return true;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static int find_profile(const struct policy *p, const char *name)
{
    for (int i = 0; i < p->nprofiles; i++)
        if (strcmp(p->profiles[i].name, name) == 0)
            return i;
    return -1;
}

static const struct role *find_role(const struct policy *p, const char *code)
{
    if (!p || !code)
        return NULL;
    for (int i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i].code, code) == 0)
            return &p->roles[i];
    return NULL;
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nprofiles; i++)
        free(p->profiles[i].name);
    for (int i = 0; i < p->nroles; i++) {
        free(p->roles[i].code);
        free(p->roles[i].description);
    }
    for (int i = 0; i < p->nwithholds; i++) {
        free(p->withholds[i].value);
        free(p->withholds[i].reason);
    }
    free(p->withholds);
    free(p->profiles);
    free(p->roles);
    free(p);
}

#define MAX_WORDS 64

/* Split line (modified in place) into words; returns the count or -1 when
 * there are too many. */
static int split_words(char *line, char **w)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
        if (n == MAX_WORDS)
            return -1;
        w[n++] = t;
    }
    return n;
}

static int fail(char **errmsg, int lineno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char **errmsg, int lineno, const char *fmt, ...)
{
    if (errmsg) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "line %d: ", lineno);
        va_list ap;
        va_start(ap, fmt);
        buf_vaddf(&b, fmt, ap);
        va_end(ap);
        *errmsg = buf_detach(&b, NULL);
    }
    return WEFT_EPARSE;
}

static char *join_words(char **w, int n)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < n; i++) {
        if (i)
            buf_addc(&b, ' ');
        buf_adds(&b, w[i]);
    }
    return buf_detach(&b, NULL);
}

static int parse_line(struct policy *p, char *line, int lineno, char **errmsg)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = 0;
    char *w[MAX_WORDS];
    int n = split_words(line, w);
    if (n < 0)
        return fail(errmsg, lineno, "too many words (at most %d)", MAX_WORDS);
    if (n == 0)
        return WEFT_OK;
    if (strcmp(w[0], "profile") == 0) {
        if (n < 2)
            return fail(errmsg, lineno, "'profile' needs a name");
        if (!valid_name(w[1]))
            return fail(errmsg, lineno, "bad profile name '%s'", w[1]);
        if (find_profile(p, w[1]) >= 0)
            return fail(errmsg, lineno, "profile '%s' defined twice", w[1]);
        uint32_t mask = 0;
        for (int i = 2; i < n; i++) {
            int c = policy_category_index(w[i]);
            if (c < 0)
                return fail(errmsg, lineno, "unknown category '%s'", w[i]);
            mask |= 1u << c;
        }
        p->profiles = xrealloc(p->profiles, sizeof *p->profiles * (size_t)(p->nprofiles + 1));
        p->profiles[p->nprofiles++] = (struct profile){xstrdup(w[1]), mask, 0};
        return WEFT_OK;
    }
    if (strcmp(w[0], "capability") == 0) {
        if (n < 3)
            return fail(errmsg, lineno, "'capability' needs a profile and capabilities");
        int pi = find_profile(p, w[1]);
        if (pi < 0)
            return fail(errmsg, lineno, "unknown profile '%s' (define it before use)", w[1]);
        for (int i = 2; i < n; i++) {
            unsigned bit = policy_capability_bit(w[i]);
            if (!bit)
                return fail(errmsg, lineno,
                            "unknown capability '%s' (break-glass, audit-review, dq-review, "
                            "objection-decide, secondary-use, risk-list, identity-decide, "
                            "patient-match, proxy-grant, feeds-admin)",
                            w[i]);
            p->profiles[pi].caps |= bit;
        }
        return WEFT_OK;
    }
    bool local = strcmp(w[0], "local-role") == 0;
    if (local || strcmp(w[0], "role") == 0) {
        if (n < 3)
            return fail(errmsg, lineno, "'%s' needs a code and a profile", w[0]);
        if (!valid_name(w[1]))
            return fail(errmsg, lineno, "bad role code '%s'", w[1]);
        if (!local && !is_national(w[1]))
            return fail(errmsg, lineno,
                        "unknown role '%s' (not a national RBAC job role code; declare local "
                        "roles with 'local-role')",
                        w[1]);
        if (local && national_shape(w[1]))
            return fail(errmsg, lineno,
                        "local role '%s' looks like a national RBAC code; use 'role'", w[1]);
        if (find_role(p, w[1]))
            return fail(errmsg, lineno, "role '%s' defined twice", w[1]);
        int pi = find_profile(p, w[2]);
        if (pi < 0)
            return fail(errmsg, lineno, "unknown profile '%s' (define it before use)", w[2]);
        p->roles = xrealloc(p->roles, sizeof *p->roles * (size_t)(p->nroles + 1));
        p->roles[p->nroles++] = (struct role){xstrdup(w[1]), pi, local, join_words(w + 3, n - 3)};
        return WEFT_OK;
    }
    if (strcmp(w[0], "citizen-withhold") == 0) {
        if (n < 4)
            return fail(errmsg, lineno,
                        "'citizen-withhold' needs 'category NAME' or 'label SYSTEM|CODE' and a "
                        "reason");
        bool label = strcmp(w[1], "label") == 0;
        if (!label && strcmp(w[1], "category") != 0)
            return fail(errmsg, lineno, "citizen-withhold: '%s' is not 'category' or 'label'",
                        w[1]);
        if (!label && policy_category_index(w[2]) < 0)
            return fail(errmsg, lineno, "unknown category '%s'", w[2]);
        const char *bar = strchr(w[2], '|');
        if (label && (!bar || bar == w[2] || !bar[1]))
            return fail(errmsg, lineno, "citizen-withhold label '%s' is not SYSTEM|CODE", w[2]);
        p->withholds = xrealloc(p->withholds, sizeof *p->withholds * (size_t)(p->nwithholds + 1));
        p->withholds[p->nwithholds++] =
            (struct withhold){label, xstrdup(w[2]), join_words(w + 3, n - 3)};
        return WEFT_OK;
    }
    return fail(errmsg, lineno,
                "unknown statement '%s' (profile, capability, role, local-role, "
                "citizen-withhold)",
                w[0]);
}

int policy_parse(const char *text, size_t len, struct policy **out, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    if (memchr(text, 0, len))
        return fail(errmsg, 1, "policy contains a NUL byte");
    struct policy *p = xcalloc(1, sizeof *p);
    int lineno = 0;
    size_t pos = 0;
    int rc = WEFT_OK;
    while (pos < len && rc == WEFT_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        lineno++;
        char *line = xstrndup(text + pos, end - pos);
        rc = parse_line(p, line, lineno, errmsg);
        free(line);
        pos = end + 1;
    }
    if (rc == WEFT_OK && p->nroles == 0)
        rc = fail(errmsg, lineno ? lineno : 1, "policy defines no roles");
    if (rc != WEFT_OK) {
        policy_free(p);
        return rc;
    }
    *out = p;
    return WEFT_OK;
}

int policy_parse_file(const char *path, struct policy **out, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errmsg) {
            struct buf b = BUF_INIT;
            buf_addf(&b, "cannot read '%s': %s", path, strerror(errno));
            *errmsg = buf_detach(&b, NULL);
        }
        return WEFT_EIO;
    }
    struct buf b = BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_add(&b, chunk, n);
        if (b.len > 1024 * 1024) {
            fclose(f);
            buf_release(&b);
            if (errmsg)
                *errmsg = xstrdup("policy file larger than 1 MiB");
            return WEFT_ETOOBIG;
        }
    }
    fclose(f);
    int rc = policy_parse(b.data, b.len, out, errmsg);
    buf_release(&b);
    return rc;
}

bool policy_role_known(const struct policy *p, const char *role)
{
    return find_role(p, role) != NULL;
}

bool policy_allows(const struct policy *p, const char *role, const char *category)
{
    const struct role *r = find_role(p, role);
    int c = policy_category_index(category);
    return r && c >= 0 && (p->profiles[r->profile].mask & (1u << c));
}

unsigned policy_role_caps(const struct policy *p, const char *role)
{
    const struct role *r = find_role(p, role);
    return r ? p->profiles[r->profile].caps : 0;
}

const char *policy_role_profile(const struct policy *p, const char *role)
{
    const struct role *r = find_role(p, role);
    return r ? p->profiles[r->profile].name : NULL;
}

int policy_role_categories(const struct policy *p, const char *role, const char **cats)
{
    const struct role *r = find_role(p, role);
    if (!r)
        return 0;
    int n = 0;
    for (int i = 0; i < NCATEGORIES; i++)
        if (p->profiles[r->profile].mask & (1u << i))
            cats[n++] = category_names[i];
    return n;
}

static const struct {
    const char *name;
    unsigned bit;
} cap_names[] = {
    {"break-glass", POLICY_CAP_BREAK_GLASS},
    {"audit-review", POLICY_CAP_AUDIT_REVIEW},
    {"dq-review", POLICY_CAP_DQ_REVIEW},
    {"objection-decide", POLICY_CAP_OBJECTION_DECIDE},
    {"secondary-use", POLICY_CAP_SECONDARY_USE},
    {"risk-list", POLICY_CAP_RISK_LIST},
    {"identity-decide", POLICY_CAP_IDENTITY_DECIDE},
    {"patient-match", POLICY_CAP_PATIENT_MATCH},
    {"proxy-grant", POLICY_CAP_PROXY_GRANT},
    {"feeds-admin", POLICY_CAP_FEEDS_ADMIN},
};

unsigned policy_capability_bit(const char *name)
{
    for (size_t i = 0; name && i < sizeof cap_names / sizeof cap_names[0]; i++)
        if (strcmp(name, cap_names[i].name) == 0)
            return cap_names[i].bit;
    return 0;
}

static void add_caps(struct buf *out, unsigned caps)
{
    for (size_t i = 0; i < sizeof cap_names / sizeof cap_names[0]; i++)
        if (caps & cap_names[i].bit)
            buf_addf(out, " %s", cap_names[i].name);
}

const char *policy_citizen_withhold(const struct policy *p, const char *category,
                                    const char *const *labels, int nlabels)
{
    if (!p)
        return NULL;
    for (int i = 0; i < p->nwithholds; i++) {
        const struct withhold *w = &p->withholds[i];
        if (!w->label) {
            if (category && strcmp(category, w->value) == 0)
                return w->reason;
            continue;
        }
        for (int k = 0; k < nlabels; k++)
            if (labels[k] && strcmp(labels[k], w->value) == 0)
                return w->reason;
    }
    return NULL;
}

/* needle[0..n) in hay[0..len) (memmem is a GNU extension). */
static bool contains(const char *hay, size_t len, const char *needle, size_t n)
{
    for (const char *p = hay;
         n && len >= n && (p = memchr(p, needle[0], len - n + 1 - (size_t)(p - hay))); p++)
        if (memcmp(p, needle, n) == 0)
            return true;
    return false;
}

bool policy_citizen_withhold_maybe(const struct policy *p, const char *json, size_t len)
{
    if (!p || !json)
        return false;
    for (int i = 0; i < p->nwithholds; i++) {
        const struct withhold *w = &p->withholds[i];
        if (!w->label)
            continue;
        const char *bar = strrchr(w->value, '|');
        const char *code = bar ? bar + 1 : w->value;
        if (*code && contains(json, len, code, strlen(code)))
            return true;
    }
    return false;
}

void policy_describe(const struct policy *p, struct buf *out)
{
    buf_addf(out, "profiles (%d):\n", p->nprofiles);
    for (int i = 0; i < p->nprofiles; i++) {
        const struct profile *pr = &p->profiles[i];
        buf_addf(out, "  %s:", pr->name);
        int n = 0;
        for (int c = 0; c < NCATEGORIES; c++)
            if (pr->mask & (1u << c)) {
                buf_addf(out, " %s", category_names[c]);
                n++;
            }
        if (n == 0)
            buf_adds(out, " (no record categories)");
        if (pr->caps) {
            buf_adds(out, "\n    capabilities:");
            add_caps(out, pr->caps);
        }
        buf_addc(out, '\n');
    }
    buf_addf(out, "roles (%d):\n", p->nroles);
    for (int i = 0; i < p->nroles; i++) {
        const struct role *r = &p->roles[i];
        buf_addf(out, "  %-18s %-18s %s%s\n", r->code, p->profiles[r->profile].name,
                 r->local ? "(local) " : "", r->description);
    }
    if (p->nwithholds)
        buf_addf(out, "withheld from citizens (%d):\n", p->nwithholds);
    for (int i = 0; i < p->nwithholds; i++)
        buf_addf(out, "  %s %s: %s\n", p->withholds[i].label ? "label" : "category",
                 p->withholds[i].value, p->withholds[i].reason);
}

/* ---- the policy in force ----------------------------------------------------- */

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cached_policy {
    int64_t version;
    struct policy *p;
    struct cached_policy *next; /* older versions, kept alive */
} * cache_head;

int policy_current(struct store *s, const struct policy **out, int64_t *version_out)
{
    *out = NULL;
    int64_t version = 0;
    int rc = store_policy_current(s, &version, NULL);
    if (rc)
        return rc;
    if (version_out)
        *version_out = version;
    return policy_at_version(s, version, out);
}

int policy_at_version(struct store *s, int64_t version, const struct policy **out)
{
    int rc;
    *out = NULL;
    if (version <= 0)
        return WEFT_ENOTFOUND;
    pthread_mutex_lock(&cache_mu);
    for (struct cached_policy *c = cache_head; c; c = c->next)
        if (c->version == version) {
            *out = c->p;
            pthread_mutex_unlock(&cache_mu);
            return WEFT_OK;
        }
    pthread_mutex_unlock(&cache_mu);
    char *text = NULL;
    int64_t v2 = 0;
    rc = store_policy_current(s, &v2, &text);
    if (rc)
        return rc;
    struct policy *p = NULL;
    char *err = NULL;
    rc = policy_parse(text, strlen(text), &p, &err);
    free(text);
    free(err);
    if (rc)
        return rc;
    pthread_mutex_lock(&cache_mu);
    struct cached_policy *c = xcalloc(1, sizeof *c);
    c->version = v2;
    c->p = p;
    c->next = cache_head;
    cache_head = c;
    *out = p; /* the newest text: at least the version asked for */
    pthread_mutex_unlock(&cache_mu);
    return WEFT_OK;
}

void policy_cache_release(void)
{
    pthread_mutex_lock(&cache_mu);
    while (cache_head) {
        struct cached_policy *c = cache_head;
        cache_head = c->next;
        policy_free(c->p);
        free(c);
    }
    pthread_mutex_unlock(&cache_mu);
}

/* A policy version and its audit entry, one unit of work (store/txn.h):
 * two installs at once on PostgreSQL may both take the next version
 * number; the one that loses is done again and takes the one after. */
struct policy_unit {
    const struct policy *p;
    const char *text, *hex, *by;
    int64_t version;
};

static int policy_work(struct store *s, void *arg, int attempt)
{
    (void)attempt;
    struct policy_unit *u = arg;
    int rc = store_policy_put(s, u->text, u->hex, u->by, &u->version);
    if (rc != 0)
        return rc;
    struct buf what = BUF_INIT;
    buf_addf(&what, "policy version %lld sha256 %s: %d roles, %d profiles", (long long)u->version,
             u->hex, u->p->nroles, u->p->nprofiles);
    struct audit_event ev = {.action = AUDIT_POLICY_CHANGE,
                             .outcome = AUDIT_OK,
                             .client = u->by,
                             .what = what.data,
                             .count = -1,
                             .reason = "policy loaded"};
    rc = audit_append(s, &ev, NULL);
    buf_release(&what);
    return rc;
}

int policy_install(struct store *s, const char *text, size_t len, const char *by,
                   int64_t *version_out, char **errmsg)
{
    struct policy *p = NULL;
    int rc = policy_parse(text, len, &p, errmsg);
    if (rc)
        return rc;
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
    char hex[65];
    hex_encode(md, 32, hex);
    char *copy = xstrndup(text, len);
    struct policy_unit u = {.p = p, .text = copy, .hex = hex, .by = by};
    rc = store_txn_run(s, "policy", policy_work, &u); /* done again once on a race */
    int64_t version = u.version;
    free(copy);
    policy_free(p);
    if (rc == 0 && version_out)
        *version_out = version;
    if (rc && errmsg && !*errmsg) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "storing the policy failed: %s", store_errmsg(s));
        *errmsg = buf_detach(&b, NULL);
    }
    return rc;
}

int policy_ensure_default(struct store *s, const char **loaded, char **errmsg)
{
    static char used[4096];
    if (loaded)
        *loaded = NULL;
    if (errmsg)
        *errmsg = NULL;
    int64_t v = 0;
    int rc = store_policy_current(s, &v, NULL);
    if (rc != WEFT_ENOTFOUND)
        return rc;
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    const char *env = getenv("WEFT_POLICY");
    char cand[6][4096];
    int nc = 0;
    if (env && *env)
        snprintf(cand[nc++], sizeof cand[0], "%s", env);
    if (exe[0]) {
        snprintf(cand[nc++], sizeof cand[0], "%s/policy/default.policy", exe);
        snprintf(cand[nc++], sizeof cand[0], "%s/../policy/default.policy", exe);
        snprintf(cand[nc++], sizeof cand[0], "%s/../../policy/default.policy", exe);
        snprintf(cand[nc++], sizeof cand[0], "%s/../share/weft/default.policy", exe);
    }
    snprintf(cand[nc++], sizeof cand[0], "policy/default.policy");
    for (int i = 0; i < nc; i++) {
        FILE *f = fopen(cand[i], "rb");
        if (!f)
            continue;
        struct buf b = BUF_INIT;
        char chunk[8192];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
            buf_add(&b, chunk, got);
        fclose(f);
        rc = policy_install(s, b.data, b.len, "weft init (default policy)", NULL, errmsg);
        buf_release(&b);
        if (rc == 0) {
            size_t l = strnlen(cand[i], sizeof used - 1);
            memcpy(used, cand[i], l);
            used[l] = 0;
            if (loaded)
                *loaded = used;
        }
        return rc;
    }
    if (errmsg)
        *errmsg = xstrdup("the default policy file was not found (set WEFT_POLICY=FILE or run "
                          "'weft policy load')");
    return WEFT_ENOTFOUND;
}
