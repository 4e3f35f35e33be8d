/* demog.c - normalised demographics of a FHIR Patient (see demog.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "identity/demog.h"
#include "identity/nhs.h"
#include "identity/postcode.h"

void demog_norm_name(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p && n + 1 < cap; p++)
        if (isalpha(*p))
            out[n++] = (char)toupper(*p);
    if (cap)
        out[n] = 0;
}

/* Append in to out (upper case letters and digits, runs of anything else
 * one space). */
static void norm_addr(const char *in, char *out, size_t cap)
{
    size_t n = strlen(out);
    int sp = n > 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 2 < cap; p++) {
        if (isalnum(*p)) {
            if (sp && n > 0)
                out[n++] = ' ';
            sp = 0;
            out[n++] = (char)toupper(*p);
        } else {
            sp = 1;
        }
    }
    out[n] = 0;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int is_old(const json_t *o)
{
    const char *use = str(o, "use");
    return use && strcmp(use, "old") == 0;
}

/* The first element of array arr not marked old (else the first). */
static const json_t *first_current(const json_t *arr)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (!is_old(e))
            return e;
    }
    return json_array_get(arr, 0);
}

void demog_from_patient(const json_t *p, struct demog *d)
{
    memset(d, 0, sizeof *d);
    const json_t *name = first_current(json_object_get(p, "name"));
    if (name) {
        demog_norm_name(str(name, "family"), d->family, sizeof d->family);
        const json_t *given = json_object_get(name, "given");
        demog_norm_name(json_string_value(json_array_get(given, 0)), d->given, sizeof d->given);
        demog_norm_name(json_string_value(json_array_get(given, 1)), d->given2, sizeof d->given2);
    }
    const char *bd = str(p, "birthDate");
    if (bd) {
        int n = 0;
        for (const char *c = bd; *c && n < 8; c++)
            if (isdigit((unsigned char)*c))
                d->dob[n++] = *c;
        d->dob[n == 8 ? 8 : 0] = 0;
    }
    const char *g = str(p, "gender");
    d->sex = g && strcmp(g, "male") == 0 ? 'M' : g && strcmp(g, "female") == 0 ? 'F' : 0;
    const json_t *ad = first_current(json_object_get(p, "address"));
    if (ad) {
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(ad, "line"), i, l)
        {
            if (json_is_string(l))
                norm_addr(json_string_value(l), d->addr, sizeof d->addr);
        }
        const char *city = str(ad, "city");
        if (city)
            norm_addr(city, d->city, sizeof d->city);
        const char *pc = str(ad, "postalCode");
        if (pc)
            postcode_norm(pc, d->postcode, sizeof d->postcode);
    }
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(p, "telecom"), i, t)
    {
        const char *sys = str(t, "system"), *v = str(t, "value");
        if (!sys || !v)
            continue;
        if (strcmp(sys, "phone") == 0 && !d->phone[0]) {
            char dig[32];
            size_t n = 0;
            for (const char *c = v; *c && n + 1 < sizeof dig; c++)
                if (isdigit((unsigned char)*c))
                    dig[n++] = *c;
            dig[n] = 0;
            snprintf(d->phone, sizeof d->phone, "%.10s", n > 10 ? dig + n - 10 : dig);
        } else if (strcmp(sys, "email") == 0 && !d->email[0]) {
            size_t n = 0;
            for (const char *c = v; *c && n + 1 < sizeof d->email; c++)
                if (!isspace((unsigned char)*c) && *c != '|')
                    d->email[n++] = (char)tolower((unsigned char)*c);
            d->email[n] = 0;
        }
    }
    json_t *id;
    json_array_foreach(json_object_get(p, "identifier"), i, id)
    {
        const char *sys = str(id, "system"), *v = str(id, "value");
        char dd[11];
        if (sys && v && strcmp(sys, NHS_NUMBER_SYSTEM) == 0 && nhs_number_valid(v, dd)) {
            memcpy(d->nhs, dd, sizeof dd);
            break;
        }
    }
}

void demog_pack(const struct demog *d, char *out, size_t cap)
{
    snprintf(out, cap, "%s|%s|%s|%s|%c|%s|%s|%s|%s|%s", d->given, d->given2, d->family, d->dob,
             d->sex ? d->sex : '-', d->postcode, d->addr, d->city, d->phone, d->email);
}

/* Copy the field at *p up to '|' or the end into out (cap bytes, truncated);
 * advance *p past the separator.  -1 when no field is left. */
static int field(const char **p, char *out, size_t cap)
{
    if (!*p)
        return -1;
    const char *e = strchr(*p, '|');
    size_t l = e ? (size_t)(e - *p) : strlen(*p);
    if (l > cap - 1)
        l = cap - 1;
    /* copied, not formatted: the feed path and relink unpack every candidate */
    memcpy(out, *p, l);
    out[l] = 0;
    *p = e ? e + 1 : NULL;
    return 0;
}

int demog_unpack(const char *s, struct demog *d)
{
    memset(d, 0, sizeof *d);
    const char *p = s;
    char sex[4];
    if (field(&p, d->given, sizeof d->given) || field(&p, d->given2, sizeof d->given2) ||
        field(&p, d->family, sizeof d->family) || field(&p, d->dob, sizeof d->dob) ||
        field(&p, sex, sizeof sex) || field(&p, d->postcode, sizeof d->postcode) ||
        field(&p, d->addr, sizeof d->addr) || field(&p, d->city, sizeof d->city) ||
        field(&p, d->phone, sizeof d->phone) || field(&p, d->email, sizeof d->email) || p) {
        memset(d, 0, sizeof *d);
        return -1;
    }
    d->sex = sex[0] == 'M' || sex[0] == 'F' ? sex[0] : 0;
    return 0;
}
