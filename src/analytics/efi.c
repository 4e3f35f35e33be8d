/*
 * efi.c - the electronic Frailty Index (efi.h).
 *
 * The code sets are a sorted array of (code, deficit) looked up by binary
 * search: a person has tens of items, each with a few codes, so an
 * assessment is a few hundred comparisons.  Deficit triggers are built as
 * text while the items are walked; a person is assessed once per output.
 */
#include "analytics/efi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/day.h"
#include "core/buf.h"
#include "core/err.h"

#define SCT_SYSTEM "http://snomed.info/sct"
#define CONTACT_ROLE "https://weft.nhs.uk/CodeSystem/contact-role|carer"

enum rule { R_NONE = 0, R_POLYPHARMACY, R_CARE_SERVICE, R_CARER, R_SAFEGUARDING };

struct code_ent {
    char *code; /* "http://snomed.info/sct|SCTID" */
    int deficit;
};

struct efi_codes {
    char *id[EFI_NDEFICITS], *label[EFI_NDEFICITS];
    unsigned rules[EFI_NDEFICITS]; /* bit (1 << enum rule) */
    int poly_min;                  /* polypharmacy threshold */
    struct code_ent *codes;
    size_t ncodes;
};

enum efi_band efi_band_of(int n)
{
    /* n/36 <= 0.12  <=>  100 n <= 432, and so on */
    if (n * 100 <= 12 * EFI_NDEFICITS)
        return EFI_FIT;
    if (n * 100 <= 24 * EFI_NDEFICITS)
        return EFI_MILD;
    if (n * 100 <= 36 * EFI_NDEFICITS)
        return EFI_MODERATE;
    return EFI_SEVERE;
}

const char *efi_band_name(enum efi_band b)
{
    static const char *const names[] = {"fit", "mild", "moderate", "severe"};
    return b <= EFI_SEVERE ? names[b] : "?";
}

static int cmp_code(const void *a, const void *b)
{
    return strcmp(((const struct code_ent *)a)->code, ((const struct code_ent *)b)->code);
}

void efi_codes_free(struct efi_codes *c)
{
    if (!c)
        return;
    for (int i = 0; i < EFI_NDEFICITS; i++) {
        free(c->id[i]);
        free(c->label[i]);
    }
    for (size_t i = 0; i < c->ncodes; i++)
        free(c->codes[i].code);
    free(c->codes);
    free(c);
}

static int perr(char *err, size_t errlen, int line, const char *msg, const char *what)
{
    snprintf(err, errlen, "line %d: %s%s%s%s", line, msg, what ? " '" : "", what ? what : "",
             what ? "'" : "");
    return WEFT_EPARSE;
}

int efi_codes_parse(const char *text, size_t len, struct efi_codes **out, char *err, size_t errlen)
{
    *out = NULL;
    struct efi_codes *c = xcalloc(1, sizeof *c);
    int nd = 0, line = 0, rc = 0;
    size_t cap = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char buf[1024];
        line++;
        if (ll >= sizeof buf) {
            rc = perr(err, errlen, line, "line too long", NULL);
            break;
        }
        memcpy(buf, text + pos, ll);
        buf[ll] = '\0';
        pos += ll + 1;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL, *kw = strtok_r(buf, " \t\r", &save);
        if (!kw)
            continue;
        char *arg = strtok_r(NULL, " \t\r", &save);
        char *rest = save ? save + strspn(save, " \t") : NULL;
        if (rest) {
            size_t rl = strlen(rest);
            while (rl && (rest[rl - 1] == '\r' || rest[rl - 1] == ' '))
                rest[--rl] = '\0';
        }
        if (!strcmp(kw, "deficit")) {
            if (nd == EFI_NDEFICITS) {
                rc = perr(err, errlen, line, "more than 36 deficits", NULL);
            } else if (!arg || !rest || !*rest) {
                rc = perr(err, errlen, line, "'deficit' needs an id and a label", NULL);
            } else {
                c->id[nd] = xstrdup(arg);
                c->label[nd] = xstrdup(rest);
                nd++;
            }
        } else if (!strcmp(kw, "code")) {
            if (!nd) {
                rc = perr(err, errlen, line, "'code' before any 'deficit'", NULL);
            } else if (!arg || strspn(arg, "0123456789") != strlen(arg) || strlen(arg) < 6 ||
                       strlen(arg) > 18) {
                rc = perr(err, errlen, line, "not a SNOMED CT concept id", arg ? arg : "");
            } else {
                if (c->ncodes == cap) {
                    cap = cap ? cap * 2 : 128;
                    c->codes = xrealloc(c->codes, cap * sizeof *c->codes);
                }
                struct buf b = BUF_INIT;
                buf_addf(&b, SCT_SYSTEM "|%s", arg);
                c->codes[c->ncodes].code = buf_detach(&b, NULL);
                c->codes[c->ncodes++].deficit = nd - 1;
            }
        } else if (!strcmp(kw, "rule")) {
            if (!nd) {
                rc = perr(err, errlen, line, "'rule' before any 'deficit'", NULL);
            } else if (arg && !strcmp(arg, "polypharmacy")) {
                char *end = NULL;
                long n = rest && *rest ? strtol(rest, &end, 10) : 0;
                if (n < 1 || n > 100 || (end && *end))
                    rc = perr(err, errlen, line, "polypharmacy needs a number of medicines", NULL);
                c->rules[nd - 1] |= 1u << R_POLYPHARMACY;
                c->poly_min = (int)n;
            } else if (arg && !strcmp(arg, "care-service")) {
                c->rules[nd - 1] |= 1u << R_CARE_SERVICE;
            } else if (arg && !strcmp(arg, "carer")) {
                c->rules[nd - 1] |= 1u << R_CARER;
            } else if (arg && !strcmp(arg, "safeguarding")) {
                c->rules[nd - 1] |= 1u << R_SAFEGUARDING;
            } else {
                rc = perr(err, errlen, line,
                          "unknown rule (polypharmacy N, care-service, carer, safeguarding)",
                          arg ? arg : "");
            }
        } else {
            rc = perr(err, errlen, line, "unknown statement (deficit, code, rule)", kw);
        }
    }
    if (rc == 0 && nd != EFI_NDEFICITS) {
        snprintf(err, errlen, "%d deficits defined; the eFI has exactly 36", nd);
        rc = WEFT_EPARSE;
    }
    if (rc == 0) {
        qsort(c->codes, c->ncodes, sizeof *c->codes, cmp_code);
        for (size_t i = 1; i < c->ncodes; i++)
            if (!strcmp(c->codes[i].code, c->codes[i - 1].code)) {
                snprintf(err, errlen, "code %s is listed in two deficits (%s, %s)",
                         c->codes[i].code + strlen(SCT_SYSTEM) + 1, c->id[c->codes[i - 1].deficit],
                         c->id[c->codes[i].deficit]);
                rc = WEFT_EPARSE;
                break;
            }
    }
    if (rc) {
        efi_codes_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int efi_codes_load(const char *path, struct efi_codes **out, char *err, size_t errlen)
{
    char cand[8][4096];
    int nc = 0;
    if (path) {
        snprintf(cand[nc++], sizeof cand[0], "%s", path);
    } else {
        const char *env = getenv("WEFT_EFI_CODES");
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
                snprintf(cand[nc++], sizeof cand[0], "%s%s/policy/efi.codes", exe, rel[i]);
        }
        snprintf(cand[nc++], sizeof cand[0], "policy/efi.codes");
    }
    for (int i = 0; i < nc; i++) {
        FILE *f = fopen(cand[i], "rb");
        if (!f) {
            if (!path && errno == ENOENT)
                continue;
            snprintf(err, errlen, "cannot read '%s': %s", cand[i], strerror(errno));
            return WEFT_EIO;
        }
        struct buf b = BUF_INIT;
        char chunk[65536];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
            buf_add(&b, chunk, got);
        fclose(f);
        char e[512];
        int rc = efi_codes_parse(b.data ? b.data : "", b.len, out, e, sizeof e);
        buf_release(&b);
        if (rc)
            snprintf(err, errlen, "%s: %s", cand[i], e);
        return rc;
    }
    snprintf(err, errlen,
             "the eFI code sets were not found (policy/efi.codes; set "
             "WEFT_EFI_CODES to its path)");
    return WEFT_ENOTFOUND;
}

const char *efi_deficit_id(const struct efi_codes *c, int i)
{
    return i >= 0 && i < EFI_NDEFICITS ? c->id[i] : NULL;
}

const char *efi_deficit_label(const struct efi_codes *c, int i)
{
    return i >= 0 && i < EFI_NDEFICITS ? c->label[i] : NULL;
}

static int lookup(const struct efi_codes *c, const char *code)
{
    size_t lo = 0, hi = c->ncodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->codes[mid].code, code);
        if (d == 0)
            return c->codes[mid].deficit;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void trigger(struct buf *t, const struct analytics_item *it, const char *code)
{
    if (t->len)
        buf_adds(t, "; ");
    buf_addf(t, "%s/%s", it->type, it->id);
    if (it->display)
        buf_addf(t, " %s", it->display);
    if (code) {
        const char *bar = strchr(code, '|');
        buf_addf(t, " (%s)", bar ? bar + 1 : code);
    }
}

static bool is_status(const char *s, const char *const *list)
{
    for (int i = 0; s && list[i]; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

/* The deficit-bearing rule that applies to structure r, or -1. */
static int rule_deficit(const struct efi_codes *c, enum rule r)
{
    for (int i = 0; i < EFI_NDEFICITS; i++)
        if (c->rules[i] & (1u << r))
            return i;
    return -1;
}

int efi_assess(const struct efi_codes *c, const struct analytics_person *p, int64_t as_of,
               struct efi_result *r)
{
    memset(r, 0, sizeof *r);
    if (p->birth == ANALYTICS_NO_BIRTH)
        return WEFT_ENOTFOUND;
    int age = day_age(p->birth, as_of);
    if (age < EFI_MIN_AGE)
        return WEFT_ENOTFOUND;
    static const char *const void_status[] = {"entered-in-error", "refuted", "cancelled", NULL};
    static const char *const med_current[] = {"active", "intended", "on-hold", NULL};
    static const char *const closed[] = {"finished", "cancelled", "entered-in-error", NULL};
    struct buf t[EFI_NDEFICITS];
    for (int i = 0; i < EFI_NDEFICITS; i++)
        buf_init(&t[i]);
    /* distinct current medicines, by their first code */
    const char **meds = xcalloc((size_t)(p->nitems ? p->nitems : 1), sizeof *meds);
    int nmeds = 0;
    struct buf medt = BUF_INIT;
    char as_of_txt[11];
    day_text(as_of, as_of_txt);
    for (int k = 0; k < p->nitems; k++) {
        const struct analytics_item *it = &p->items[k];
        if (is_status(it->status, void_status))
            continue;
        if (it->effective && strncmp(it->effective, as_of_txt, 10) > 0)
            continue; /* after the day assessed */
        if (!strcmp(it->type, "MedicationStatement") || !strcmp(it->type, "MedicationRequest")) {
            if (!is_status(it->status, med_current) || !it->ncodes)
                continue;
            bool seen = false;
            for (int m = 0; m < nmeds && !seen; m++)
                seen = !strcmp(meds[m], it->codes[0]);
            if (!seen) {
                meds[nmeds++] = it->codes[0];
                trigger(&medt, it, it->codes[0]);
            }
            continue;
        }
        if (!strcmp(it->type, "EpisodeOfCare")) {
            int d = rule_deficit(c, R_CARE_SERVICE);
            bool open = !is_status(it->status, closed) &&
                        (!it->end || strncmp(it->end, as_of_txt, 10) >= 0);
            if (d >= 0 && open && it->category && !strcmp(it->category, "services"))
                trigger(&t[d], it, it->ncodes ? it->codes[0] : NULL);
            continue;
        }
        if (!strcmp(it->type, "RelatedPerson")) {
            int d = rule_deficit(c, R_CARER);
            if (d >= 0 && analytics_item_has(it, CONTACT_ROLE))
                trigger(&t[d], it, NULL);
            continue;
        }
        if (!strcmp(it->type, "Flag") && it->category && !strcmp(it->category, "safeguarding")) {
            int d = rule_deficit(c, R_SAFEGUARDING);
            if (d >= 0 && (!it->status || !strcmp(it->status, "active")))
                trigger(&t[d], it, NULL);
            continue;
        }
        if (strcmp(it->type, "Condition") && strcmp(it->type, "Observation") &&
            strcmp(it->type, "Procedure") && strcmp(it->type, "Flag"))
            continue;
        for (int j = 0; j < it->ncodes; j++) {
            int d = lookup(c, it->codes[j]);
            if (d >= 0) {
                trigger(&t[d], it, it->codes[j]);
                break;
            }
        }
    }
    int dp = rule_deficit(c, R_POLYPHARMACY);
    if (dp >= 0 && nmeds >= c->poly_min) {
        if (t[dp].len)
            buf_adds(&t[dp], "; ");
        buf_addf(&t[dp], "%d current medicines: %s", nmeds, medt.data);
    }
    buf_release(&medt);
    free(meds);
    r->age = age;
    for (int i = 0; i < EFI_NDEFICITS; i++) {
        if (t[i].len) {
            r->triggers[i] = buf_detach(&t[i], NULL);
            r->count++;
        } else {
            buf_release(&t[i]);
        }
    }
    r->score = (double)r->count / EFI_NDEFICITS;
    r->band = efi_band_of(r->count);
    return 0;
}

void efi_result_free(struct efi_result *r)
{
    for (int i = 0; i < EFI_NDEFICITS; i++)
        free(r->triggers[i]);
    memset(r, 0, sizeof *r);
}
