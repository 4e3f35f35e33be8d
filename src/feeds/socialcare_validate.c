/*
 * socialcare_validate.c - social care values: the FHIR id of a row key, and
 * each cell checked against its column's format (date, yes/no, code, list
 * of codes, decimal, NHS number, ODS code) with every problem reported on
 * the row.  Runs on the reading side for every cell of every row: no
 * copies where a comparison will do.
 */
#include "feeds/socialcare_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/hex.h"
#include "identity/nhs.h"

/* ---- ids ----------------------------------------------------------------- */

static int id_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.';
}

void socialcare_fhir_id(const char *key, size_t len, char out[65])
{
    int ok = len >= 1 && len <= 64;
    for (size_t i = 0; ok && i < len; i++)
        ok = id_char((unsigned char)key[i]) && (unsigned char)key[i] < 0x80;
    if (ok) {
        memcpy(out, key, len);
        out[len] = '\0';
        return;
    }
    size_t n = len < 40 ? len : 40;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        out[i] = (c < 0x80 && id_char(c)) ? (char)c : '-';
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL);
    out[n] = '-';
    hex_encode(md, 8, out + n + 1);
}

/* ---- value formats ------------------------------------------------------- */

/* Normalise a code-ish value: lower case, ' ' and '_' -> '-'. */
static void norm_code(const char *s, size_t len, char *out, size_t outsz)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '_')
            c = '-';
        out[j++] = (char)tolower(c);
    }
    out[j] = '\0';
}

static int alias_match(const char *aliases, const char *v)
{
    if (!aliases)
        return 0;
    size_t vl = strlen(v);
    const char *a = aliases;
    while (*a) {
        const char *bar = strchr(a, '|');
        size_t al = bar ? (size_t)(bar - a) : strlen(a);
        if (al == vl && memcmp(a, v, vl) == 0)
            return 1;
        if (!bar)
            break;
        a = bar + 1;
    }
    return 0;
}

/* Whether table string t, normalised like norm_code(), equals the
 * normalised value v (no copies: this runs for every coded cell). */
static int norm_eq(const char *t, const char *v)
{
    for (; *t && *v; t++, v++) {
        unsigned char c = (unsigned char)*t;
        if (c == ' ' || c == '_')
            c = '-';
        if ((unsigned char)tolower(c) != (unsigned char)*v)
            return 0;
    }
    return *t == *v;
}

const struct code *sc_code_find(const struct code *codes, const char *s, size_t len)
{
    char v[128];
    if (len >= sizeof v)
        return NULL;
    norm_code(s, len, v, sizeof v);
    for (const struct code *k = codes; k->code; k++)
        if (norm_eq(k->code, v) || alias_match(k->aliases, v) || norm_eq(k->display, v))
            return k;
    return NULL;
}

static void codes_list(const struct code *codes, struct buf *b)
{
    for (const struct code *k = codes; k->code; k++)
        buf_addf(b, "%s%s", k == codes ? "" : ", ", k->code);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Parse YYYY-MM-DD or D/M/YYYY (docs §2) into out "YYYY-MM-DD". */
/* Length of s without a trailing time of day that spreadsheets add to dates
 * ("2026-03-02T10:15:00Z", "02/03/2026 00:00"): the date part is kept, the
 * time dropped (docs §2).  Returns len when there is no such suffix. */
static size_t strip_time(const char *s, size_t len)
{
    const char *sep = NULL;
    for (size_t i = 8; i < len && !sep; i++)
        if (s[i] == 'T' || s[i] == ' ')
            sep = s + i;
    if (!sep)
        return len;
    const char *t = sep + 1, *end = s + len;
    /* hh:mm[:ss[.fff]][Z|+hh:mm|-hh:mm] */
    if (end - t < 5 || !isdigit((unsigned char)t[0]) || !isdigit((unsigned char)t[1]) ||
        t[2] != ':' || !isdigit((unsigned char)t[3]) || !isdigit((unsigned char)t[4]))
        return len;
    for (const char *q = t + 5; q < end; q++)
        if (!isdigit((unsigned char)*q) && !strchr(":.Z+-", *q))
            return len;
    return (size_t)(sep - s);
}

int sc_parse_date(const char *s, size_t len, char out[11])
{
    int y = 0, m = 0, d = 0;
    size_t i = 0;
    len = strip_time(s, len);
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        for (i = 0; i < 10; i++)
            if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
                return -1;
        y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        m = (s[5] - '0') * 10 + (s[6] - '0');
        d = (s[8] - '0') * 10 + (s[9] - '0');
    } else {
        int parts[3] = {0, 0, 0};
        size_t digits[3] = {0, 0, 0};
        int pi = 0;
        for (i = 0; i < len; i++) {
            if (s[i] == '/') {
                if (++pi > 2)
                    return -1;
            } else if (isdigit((unsigned char)s[i])) {
                if (++digits[pi] > 4)
                    return -1;
                parts[pi] = parts[pi] * 10 + (s[i] - '0');
            } else {
                return -1;
            }
        }
        if (pi != 2 || digits[0] < 1 || digits[0] > 2 || digits[1] < 1 || digits[1] > 2 ||
            digits[2] != 4)
            return -1;
        d = parts[0];
        m = parts[1];
        y = parts[2];
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1870 || y > 2200 || m < 1 || m > 12 || d < 1)
        return -1;
    if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
        return -1;
    /* y, m, d are range-checked above: write the digits directly */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
    return 0;
}

static int parse_bool(const char *s, size_t len, int *out)
{
    char v[8];
    if (len >= sizeof v)
        return -1;
    norm_code(s, len, v, sizeof v);
    if (!strcmp(v, "y") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(v, "n") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_decimal(const char *s, size_t len, double *out)
{
    char tmp[32];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    int dot = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (dot++)
                return -1;
        } else if (isdigit((unsigned char)s[i])) {
            digits++;
        } else {
            return -1;
        }
    }
    if (!digits)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    *out = strtod(tmp, NULL);
    return 0;
}

/* NHS number (identity/nhs.h).  Returns 1 valid, 0 the right shape but a
 * bad check digit, -1 not 10 digits; out receives the digits when 10. */
static int nhs_check(const char *s, char out[11])
{
    out[0] = '\0';
    if (nhs_number_valid(s, out))
        return 1;
    return out[0] ? 0 : -1;
}

int sc_valid_ods(const char *s, size_t len)
{
    if (len < 3 || len > 10)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* Check one value against its column; fill v.  Errors go to the report. */
void sc_check_value(struct proc *p, const struct coldef *cd, struct val *v)
{
    if (!v->s) {
        if (cd->req == 'R')
            sc_row_error(p, cd->name, "required value is blank");
        return;
    }
    switch (cd->fmt) {
    case F_TEXT:
        break;
    case F_KEY:
        socialcare_fhir_id(v->s, v->len, v->id);
        break;
    case F_DATE:
        if (sc_parse_date(v->s, v->len, v->date) != 0)
            sc_row_error(p, cd->name, "not a valid date (use YYYY-MM-DD or DD/MM/YYYY)");
        else if ((cd->flags & NOT_FUTURE) && strcmp(v->date, p->today) > 0)
            sc_row_error(p, cd->name, "date is in the future");
        else if ((cd->flags & WARN_FUTURE) && strcmp(v->date, p->today) > 0)
            sc_row_warning(p, cd->name, "date is in the future; kept");
        break;
    case F_BOOL:
        if (parse_bool(v->s, v->len, &v->b) != 0)
            sc_row_error(p, cd->name, "not a yes/no value (use Y or N)");
        break;
    case F_DECIMAL:
        if (parse_decimal(v->s, v->len, &v->dec) != 0)
            sc_row_error(p, cd->name, "not a decimal number");
        break;
    case F_NHS: {
        int r = nhs_check(v->s, v->nhs);
        v->nhs_ok = r == 1;
        if (r == 0)
            sc_row_warning(p, cd->name,
                           "invalid NHS number (check digit); kept, not used for linking");
        else if (r < 0)
            sc_row_warning(p, cd->name,
                           "invalid NHS number (not 10 digits); kept, not used for "
                           "linking");
        break;
    }
    case F_ODS:
        if (!sc_valid_ods(v->s, v->len))
            sc_row_error(p, cd->name, "not an ODS code (3 to 10 letters or digits)");
        break;
    case F_CODE:
        v->code = sc_code_find(cd->codes, v->s, v->len);
        if (!v->code) {
            struct buf b = BUF_INIT;
            codes_list(cd->codes, &b);
            sc_row_error(p, cd->name, "unknown code \"%.*s\" (accepted: %s)",
                         v->len > 40 ? 40 : (int)v->len, v->s, b.data);
            buf_release(&b);
        }
        break;
    case F_LIST: {
        const char *s = v->s, *end = v->s + v->len;
        while (s < end) {
            const char *semi = memchr(s, ';', (size_t)(end - s));
            const char *e = semi ? semi : end;
            const char *a = s, *z = e;
            while (a < z && is_space(*a))
                a++;
            while (z > a && is_space(z[-1]))
                z--;
            if (z > a) {
                const struct code *c = sc_code_find(cd->codes, a, (size_t)(z - a));
                if (!c) {
                    struct buf b = BUF_INIT;
                    codes_list(cd->codes, &b);
                    sc_row_error(p, cd->name, "unknown code \"%.*s\" (accepted: %s)",
                                 z - a > 40 ? 40 : (int)(z - a), a, b.data);
                    buf_release(&b);
                } else if (v->nlist == MAX_LIST) {
                    sc_row_error(p, cd->name, "more than %d values", MAX_LIST);
                    break;
                } else {
                    int dup = 0;
                    for (size_t i = 0; i < v->nlist; i++)
                        dup |= v->list[i] == c;
                    if (!dup)
                        v->list[v->nlist++] = c;
                }
            }
            s = e + 1;
        }
        break;
    }
    }
}

/* Row error when column later holds a date before column earlier's. */
int sc_date_before(struct proc *p, int later, int earlier)
{
    const struct val *v = p->v;
    if (v[later].s && v[earlier].s && strcmp(v[later].date, v[earlier].date) < 0) {
        sc_row_error(p, p->k->cols[later].name, "%s is before %s", p->k->cols[later].name,
                     p->k->cols[earlier].name);
        return 1;
    }
    return 0;
}
