/*
 * rules.c - reading the data-quality rules file (rules.h): a line-oriented
 * parser in the style of the access policy's, strict so that a typing
 * mistake in a threshold is a refusal naming the line, never a check that
 * silently stops running.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "dq/rules.h"

static const struct {
    const char *name, *dimension;
} checks[DQ_NCHECKS] = {
    [DQ_NHS_PRESENT] = {"nhs-present", "completeness"},
    [DQ_DOB_PRESENT] = {"dob-present", "completeness"},
    [DQ_SEX_PRESENT] = {"sex-present", "completeness"},
    [DQ_POSTCODE_PRESENT] = {"postcode-present", "completeness"},
    [DQ_GP_PRESENT] = {"gp-present", "completeness"},
    [DQ_ETHNICITY_PRESENT] = {"ethnicity-present", "completeness"},
    [DQ_NHS_VALID] = {"nhs-valid", "validity"},
    [DQ_NHS_VERIFIED] = {"nhs-verified", "validity"},
    [DQ_POSTCODE_VALID] = {"postcode-valid", "validity"},
    [DQ_CODE_SYSTEM_KNOWN] = {"code-system-known", "validity"},
    [DQ_UNIT_UCUM] = {"unit-ucum", "validity"},
    [DQ_DOB_PLAUSIBLE] = {"dob-plausible", "plausibility"},
    [DQ_DATE_NOT_FUTURE] = {"date-not-future", "plausibility"},
    [DQ_EVENT_AFTER_BIRTH] = {"event-after-birth", "plausibility"},
    [DQ_EVENT_BEFORE_DEATH] = {"event-before-death", "plausibility"},
    [DQ_VALUE_PLAUSIBLE] = {"value-plausible", "plausibility"},
    [DQ_DOB_CONSISTENT] = {"dob-consistent", "consistency"},
    [DQ_DOB_DAY_MONTH_SWAPPED] = {"dob-day-month-swapped", "consistency"},
    [DQ_NAME_CONSISTENT] = {"name-consistent", "consistency"},
    [DQ_NAME_TYPO] = {"name-typo", "consistency"},
    [DQ_SEX_CONSISTENT] = {"sex-consistent", "consistency"},
    [DQ_DUPLICATE_RECORD] = {"duplicate-record", "consistency"},
    [DQ_OUT_OF_ORDER] = {"out-of-order", "timeliness"},
    [DQ_FEED_LAG] = {"feed-lag", "timeliness"},
    [DQ_MESSAGE_REJECTED] = {"message-rejected", "conformance"},
};

const char *const dq_dimensions[] = {
    "completeness", "validity", "plausibility", "consistency", "timeliness", "conformance", NULL};

const char *dq_check_name(enum dq_check c)
{
    return c >= 0 && c < DQ_NCHECKS ? checks[c].name : "?";
}

const char *dq_check_dimension(enum dq_check c)
{
    return c >= 0 && c < DQ_NCHECKS ? checks[c].dimension : "?";
}

int dq_check_by_name(const char *name)
{
    for (int i = 0; i < DQ_NCHECKS; i++)
        if (strcmp(checks[i].name, name) == 0)
            return i;
    return -1;
}

static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "line %d: ", line);
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < errlen)
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return WEFT_EINVAL;
}

static bool parse_num(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static void push(char ***list, int *n, const char *s)
{
    *list = xrealloc(*list, (size_t)(*n + 1) * sizeof **list);
    (*list)[(*n)++] = xstrdup(s);
}

#define MAXW 64

int dq_rules_parse(const char *text, size_t len, struct dq_rules *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->lag_window_days = 30;
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
    hex_encode(md, 32, r->sha256);
    bool seen[DQ_NCHECKS] = {0};
    int line = 0, rc = 0;
    size_t pos = 0;
    while (pos < len && rc == 0) {
        line++;
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        char *l = xstrndup(text + pos, end - pos);
        pos = end + 1;
        char *hash = strchr(l, '#');
        if (hash)
            *hash = 0;
        char *w[MAXW];
        int nw = 0;
        for (char *save = NULL, *t = strtok_r(l, " \t\r", &save); t;
             t = strtok_r(NULL, " \t\r", &save)) {
            if (nw == MAXW) {
                rc = fail(err, errlen, line, "more than %d words", MAXW);
                break;
            }
            w[nw++] = t;
        }
        if (rc || nw == 0) {
            free(l);
            continue;
        }
        if (strcmp(w[0], "check") == 0) {
            int c;
            double th;
            if (nw != 3)
                rc = fail(err, errlen, line, "check takes NAME THRESHOLD");
            else if ((c = dq_check_by_name(w[1])) < 0)
                rc = fail(err, errlen, line, "unknown check '%s'", w[1]);
            else if (seen[c])
                rc = fail(err, errlen, line, "check '%s' given twice", w[1]);
            else if (!parse_num(w[2], &th) || th < 0 || th > 1)
                rc = fail(err, errlen, line, "threshold '%s' is not a number from 0 to 1", w[2]);
            else {
                seen[c] = r->on[c] = true;
                r->threshold[c] = th;
            }
        } else if (strcmp(w[0], "plausible") == 0) {
            double lo, hi;
            if (nw < 5)
                rc = fail(err, errlen, line, "plausible takes LOINC UNIT LOW HIGH [LABEL]");
            else if (!parse_num(w[3], &lo) || !parse_num(w[4], &hi))
                rc = fail(err, errlen, line, "LOW and HIGH must be numbers");
            else if (lo > hi)
                rc = fail(err, errlen, line, "LOW %s is above HIGH %s", w[3], w[4]);
            else if (dq_rules_plausible(r, w[1], w[2]))
                rc = fail(err, errlen, line, "plausible %s %s given twice", w[1], w[2]);
            else {
                struct buf lab = BUF_INIT;
                for (int i = 5; i < nw; i++)
                    buf_addf(&lab, "%s%s", i > 5 ? " " : "", w[i]);
                r->plausible =
                    xrealloc(r->plausible, (size_t)(r->nplausible + 1) * sizeof *r->plausible);
                r->plausible[r->nplausible++] = (struct dq_plausible){
                    xstrdup(w[1]), xstrdup(w[2]), xstrdup(lab.len ? lab.data : w[1]), lo, hi};
                buf_release(&lab);
            }
        } else if (strcmp(w[0], "code-system") == 0) {
            if (nw != 2)
                rc = fail(err, errlen, line, "code-system takes one URI");
            else
                push(&r->code_systems, &r->ncode_systems, w[1]);
        } else if (strcmp(w[0], "future-ok") == 0 || strcmp(w[0], "ethnicity-from") == 0 ||
                   strcmp(w[0], "state-types") == 0) {
            bool fut = w[0][0] == 'f', st = w[0][0] == 's';
            if (nw < 2)
                rc = fail(err, errlen, line, "%s takes one or more names", w[0]);
            for (int i = 1; i < nw && rc == 0; i++) {
                if (fut)
                    push(&r->future_ok, &r->nfuture_ok, w[i]);
                else if (st)
                    push(&r->state_types, &r->nstate_types, w[i]);
                else
                    push(&r->ethnicity_from, &r->nethnicity_from, w[i]);
            }
        } else if (strcmp(w[0], "lag") == 0) {
            double h;
            int k = nw == 3 ? (strcmp(w[1], "hl7v2") == 0  ? 0
                               : strcmp(w[1], "fhir") == 0 ? 1
                               : strcmp(w[1], "csv") == 0  ? 2
                                                           : -1)
                            : -2;
            if (k == -2)
                rc = fail(err, errlen, line, "lag takes KIND HOURS");
            else if (k < 0)
                rc = fail(err, errlen, line, "unknown feed kind '%s' (hl7v2, fhir, csv)", w[1]);
            else if (!parse_num(w[2], &h) || h <= 0)
                rc = fail(err, errlen, line, "HOURS '%s' must be a positive number", w[2]);
            else
                r->lag_hours[k] = h;
        } else if (strcmp(w[0], "lag-window") == 0) {
            double d;
            if (nw != 2 || !parse_num(w[1], &d) || d < 1 || d > 3660 || d != (int)d)
                rc = fail(err, errlen, line, "lag-window takes DAYS (a whole number 1-3660)");
            else
                r->lag_window_days = (int)d;
        } else {
            rc = fail(err, errlen, line, "unknown statement '%s'", w[0]);
        }
        free(l);
    }
    if (rc == 0) {
        int n = 0;
        for (int i = 0; i < DQ_NCHECKS; i++)
            n += r->on[i];
        if (n == 0)
            rc = fail(err, errlen, line, "no check is turned on");
    }
    if (rc)
        dq_rules_free(r);
    return rc;
}

static int read_file(const char *path, struct buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return WEFT_ENOTFOUND;
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(b, chunk, got);
    int bad = ferror(f);
    fclose(f);
    return bad ? WEFT_EIO : WEFT_OK;
}

int dq_rules_load(const char *path, struct dq_rules *r, char *err, size_t errlen)
{
    char cand[8][4096];
    int nc = 0;
    if (path) {
        snprintf(cand[nc++], sizeof cand[0], "%s", path);
    } else {
        const char *env = getenv("WEFT_DQ_RULES");
        if (env && *env)
            snprintf(cand[nc++], sizeof cand[0], "%s", env);
        char exe[2048];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        if (exe[0]) {
            static const char *const rel[] = {"", "/..", "/../..", "/../../..", "/../../../.."};
            for (int i = 0; i < 5; i++)
                snprintf(cand[nc++], sizeof cand[0], "%s%s/policy/dq.rules", exe, rel[i]);
        }
        snprintf(cand[nc++], sizeof cand[0], "policy/dq.rules");
    }
    for (int i = 0; i < nc; i++) {
        struct buf b = BUF_INIT;
        int rc = read_file(cand[i], &b);
        if (rc == WEFT_ENOTFOUND && !path) {
            buf_release(&b);
            continue;
        }
        if (rc) {
            snprintf(err, errlen, "cannot read '%s': %s", cand[i], weft_strerror(rc));
            buf_release(&b);
            return rc;
        }
        char e[400];
        rc = dq_rules_parse(b.data ? b.data : "", b.len, r, e, sizeof e);
        buf_release(&b);
        if (rc)
            snprintf(err, errlen, "%s: %s", cand[i], e);
        return rc;
    }
    snprintf(err, errlen,
             "the data-quality rules file was not found (policy/dq.rules; set "
             "WEFT_DQ_RULES=FILE or --rules FILE)");
    return WEFT_ENOTFOUND;
}

static void free_list(char **l, int n)
{
    for (int i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void dq_rules_free(struct dq_rules *r)
{
    for (int i = 0; i < r->nplausible; i++) {
        free(r->plausible[i].loinc);
        free(r->plausible[i].unit);
        free(r->plausible[i].label);
    }
    free(r->plausible);
    free_list(r->code_systems, r->ncode_systems);
    free_list(r->future_ok, r->nfuture_ok);
    free_list(r->state_types, r->nstate_types);
    free_list(r->ethnicity_from, r->nethnicity_from);
    memset(r, 0, sizeof *r);
}

const struct dq_plausible *dq_rules_plausible(const struct dq_rules *r, const char *loinc,
                                              const char *unit)
{
    for (int i = 0; i < r->nplausible; i++)
        if (strcmp(r->plausible[i].loinc, loinc) == 0 && strcmp(r->plausible[i].unit, unit) == 0)
            return &r->plausible[i];
    return NULL;
}

bool dq_rules_code_system_known(const struct dq_rules *r, const char *system, size_t len)
{
    for (int i = 0; i < r->ncode_systems; i++)
        if (strlen(r->code_systems[i]) == len && memcmp(r->code_systems[i], system, len) == 0)
            return true;
    return false;
}

static bool in_list(char *const *l, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(l[i], s) == 0)
            return true;
    return false;
}

bool dq_rules_future_ok(const struct dq_rules *r, const char *type)
{
    return in_list(r->future_ok, r->nfuture_ok, type);
}

bool dq_rules_state_type(const struct dq_rules *r, const char *type)
{
    return in_list(r->state_types, r->nstate_types, type);
}

bool dq_rules_ethnicity_expected(const struct dq_rules *r, const char *org_type)
{
    return in_list(r->ethnicity_from, r->nethnicity_from, org_type);
}

double dq_rules_lag_hours(const struct dq_rules *r, const char *kind)
{
    if (!kind)
        return 0;
    return strcmp(kind, "hl7v2") == 0  ? r->lag_hours[0]
           : strcmp(kind, "fhir") == 0 ? r->lag_hours[1]
           : strcmp(kind, "csv") == 0  ? r->lag_hours[2]
                                       : 0;
}
