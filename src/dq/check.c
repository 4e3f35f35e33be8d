/*
 * check.c - pure helpers of the data-quality checks (check.h).
 *
 * The UCUM checker is a recursive-descent reader of the grammar in the UCUM
 * specification section 2 (main-term, term, component, annotatable, simple
 * unit) over a table of atoms and prefixes; it accepts what the grammar and
 * the table allow and says nothing about whether two units are commensurable.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dq/check.h"

static const char *const atoms[] = {
    /* base units */
    "m", "s", "g", "rad", "K", "C", "cd",
    /* SI derived and dimensionless */
    "mol", "sr", "Hz", "N", "Pa", "J", "W", "A", "V", "F", "Ohm", "S", "Wb", "Cel", "T", "H", "lm",
    "lx", "Bq", "Gy", "Sv", "gon", "deg", "'", "''", "l", "L", "ar", "min", "h", "d", "t", "bar",
    "u", "eV", "pc", "%", "[ppth]", "[ppm]", "[ppb]", "[pptr]", "[pi]",
    /* time */
    "wk", "mo", "a", "mo_j", "mo_g", "a_j", "a_g",
    /* chemistry and clinical */
    "eq", "osm", "[pH]", "g%", "kat", "U", "[iU]", "[IU]", "[arb'U]", "[USP'U]", "[CFU]", "[PFU]",
    "[FFU]", "[HPF]", "[LPF]", "[drp]", "[Ch]", "[mesh_i]", "[S]", "[APL'U]", "[GPL'U]", "[MPL'U]",
    "[beth'U]", "[todd'U]", "[dye'U]", "[ka'U]", "[knk'U]", "[mclg'U]", "[tb'U]", "[hnsf'U]",
    "[hp_X]", "[hp_C]", "[kp_X]", "[kp_C]", "[Amb'a'1'U]", "[BAU]", "[AU]", "[Lf]", "[D'ag'U]",
    "[EID_50]", "[TCID_50]", "[CCID_50]", "[ELU]", "[bdsk'U]", "B", "B[SPL]", "B[V]", "B[mV]",
    "B[uV]", "B[W]", "B[kW]", "Np", "[m/s2/Hz^(1/2)]",
    /* pressure and customary */
    "m[Hg]", "m[H2O]", "[in_i'Hg]", "[in_i'H2O]", "atm", "att", "[psi]", "[in_i]", "[ft_i]",
    "[yd_i]", "[mi_i]", "[lb_av]", "[oz_av]", "[stone_av]", "[gr]", "[degF]", "[degR]", "cal",
    "[Cal]", "[Btu]", "[HP]", "[cin_i]", "[foz_br]", "[pt_br]", "[gal_br]", "[foz_us]", "[pt_us]",
    "[gal_us]", "[tsp_us]", "[tbs_us]", "[cup_us]", "[sft_i]", "[sin_i]", "kg"};

static const char *const prefixes[] = {"da", "Y", "Z", "E", "P", "T", "G", "M", "k", "h",
                                       "d",  "c", "m", "u", "n", "p", "f", "a", "z", "y"};

static bool is_atom(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof atoms / sizeof atoms[0]; i++)
        if (strlen(atoms[i]) == n && memcmp(atoms[i], s, n) == 0)
            return true;
    return false;
}

/* A simple unit: an atom, or a prefix followed by an atom. */
static bool simple_unit(const char *s, size_t n)
{
    if (n == 0)
        return false;
    if (is_atom(s, n))
        return true;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i]);
        if (pl < n && memcmp(prefixes[i], s, pl) == 0 && is_atom(s + pl, n - pl))
            return true;
    }
    return false;
}

struct rd {
    const char *p;
};

static bool term(struct rd *r);

/* annotation: '{' chars except '}' '}' (printable ASCII) */
static bool annotation(struct rd *r)
{
    if (*r->p != '{')
        return false;
    r->p++;
    while (*r->p && *r->p != '}') {
        if ((unsigned char)*r->p < 0x20 || (unsigned char)*r->p > 0x7e || *r->p == '{')
            return false;
        r->p++;
    }
    if (*r->p != '}')
        return false;
    r->p++;
    return true;
}

/* component: annotatable [annotation] | annotation | factor | '(' term ')' */
static bool component(struct rd *r)
{
    if (*r->p == '{')
        return annotation(r);
    if (*r->p == '(') {
        r->p++;
        if (!term(r) || *r->p != ')')
            return false;
        r->p++;
        return true;
    }
    if (isdigit((unsigned char)*r->p)) {
        /* a factor, or 10*N / 10^N */
        const char *q = r->p;
        while (isdigit((unsigned char)*q))
            q++;
        if ((q - r->p == 2 && r->p[0] == '1' && r->p[1] == '0') && (*q == '*' || *q == '^')) {
            q++;
            if (*q == '+' || *q == '-')
                q++;
            if (!isdigit((unsigned char)*q))
                return false;
            while (isdigit((unsigned char)*q))
                q++;
        }
        r->p = q;
        if (*r->p == '{')
            return annotation(r);
        return true;
    }
    /* the longest run of unit characters that ends in an exponent or a
     * delimiter; brackets may hold '.' and '/' */
    const char *start = r->p, *q = r->p;
    int depth = 0;
    while (*q) {
        char c = *q;
        if (c == '[')
            depth++;
        else if (c == ']')
            depth--;
        else if (depth == 0 && (c == '.' || c == '/' || c == '(' || c == ')' || c == '{'))
            break;
        if ((unsigned char)c <= 0x20 || (unsigned char)c > 0x7e)
            return false;
        q++;
    }
    if (depth != 0)
        return false;
    /* split off a trailing exponent: [+-]digits */
    const char *e = q;
    while (e > start && isdigit((unsigned char)e[-1]))
        e--;
    if (e < q && e > start && (e[-1] == '+' || e[-1] == '-'))
        e--;
    if (e == start)
        return false;
    if (!simple_unit(start, (size_t)(e - start)))
        return false;
    r->p = q;
    if (*r->p == '{')
        return annotation(r);
    return true;
}

/* term: component (('.' | '/') component)* */
static bool term(struct rd *r)
{
    if (!component(r))
        return false;
    while (*r->p == '.' || *r->p == '/') {
        r->p++;
        if (!component(r))
            return false;
    }
    return true;
}

bool dq_ucum_valid(const char *unit)
{
    if (!unit || !*unit)
        return false;
    struct rd r = {unit};
    if (*r.p == '/')
        r.p++;
    return term(&r) && *r.p == 0;
}

static bool is_alpha_in(char c, const char *allowed)
{
    c = (char)toupper((unsigned char)c);
    return isalpha((unsigned char)c) && (!allowed || strchr(allowed, c));
}

bool dq_postcode_valid(const char *pc)
{
    if (!pc)
        return false;
    char s[16];
    size_t n = 0;
    for (const char *p = pc; *p; p++) {
        if (*p == ' ')
            continue;
        if (n == sizeof s - 1)
            return false;
        s[n++] = *p;
    }
    s[n] = 0;
    if (n < 5 || n > 7)
        return false;
    if (strcasecmp(s, "GIR0AA") == 0)
        return true;
    /* inward: digit + two letters not C I K M O V */
    const char *in = s + n - 3;
    if (!isdigit((unsigned char)in[0]) || !is_alpha_in(in[1], "ABDEFGHJLNPQRSTUWXYZ") ||
        !is_alpha_in(in[2], "ABDEFGHJLNPQRSTUWXYZ"))
        return false;
    size_t on = n - 3;
    const char *o = s;
    /* first letter: not Q V X; second letter (when a letter): not I J Z */
    if (!is_alpha_in(o[0], "ABCDEFGHIJKLMNOPRSTUWYZ"))
        return false;
    if (on == 2) /* A9 */
        return isdigit((unsigned char)o[1]);
    if (on == 3) /* A99, AA9, A9A */
        return (isdigit((unsigned char)o[1]) && isdigit((unsigned char)o[2])) ||
               (is_alpha_in(o[1], "ABCDEFGHKLMNOPQRSTUVWXY") && isdigit((unsigned char)o[2])) ||
               (isdigit((unsigned char)o[1]) && is_alpha_in(o[2], "ABCDEFGHJKPSTUW"));
    /* on == 4: AA99, AA9A */
    return is_alpha_in(o[1], "ABCDEFGHKLMNOPQRSTUVWXY") && isdigit((unsigned char)o[2]) &&
           (isdigit((unsigned char)o[3]) || is_alpha_in(o[3], "ABEHMNPRVWXY"));
}

int dq_edit_distance(const char *a, const char *b, int cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return strcasecmp(a, b) == 0 ? 0 : cap + 1;
    if ((int)(la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        int best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            cur[j] = v;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1;
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb] > cap ? cap + 1 : prev[lb];
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

static bool ymd(const char *s, int *y, int *m, int *d)
{
    if (!s || strlen(s) < 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
            return false;
    *y = atoi(s);
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    return *m >= 1 && *m <= 12 && *d >= 1 && *d <= days_in_month(*y, *m);
}

bool dq_day_number(const char *s, int64_t *days)
{
    int y, m, d;
    if (!ymd(s, &y, &m, &d))
        return false;
    /* days from civil (proleptic Gregorian) */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *days = era * 146097 + doe - 719468;
    return true;
}

bool dq_date_swap_day_month(const char *s, char out[11])
{
    int y, m, d;
    if (!ymd(s, &y, &m, &d) || d > 12 || d == m || m > days_in_month(y, d))
        return false;
    out[0] = 0;
    memcpy(out, s, 5);
    out[5] = s[8];
    out[6] = s[9];
    out[7] = '-';
    out[8] = s[5];
    out[9] = s[6];
    out[10] = 0;
    return true;
}
