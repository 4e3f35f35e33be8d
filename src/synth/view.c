/*
 * view.c - per-source demographics with faults (see view.h).  The local id
 * is an affine permutation of (2 * index + copy) modulo 10^9 chosen per
 * (seed, organisation), so ids are unique within a source, look unrelated
 * across sources, and cost no memory.
 */
#include <stdio.h>
#include <string.h>

#include "domain/systems.h"
#include "synth/date.h"
#include "synth/names.h"
#include "synth/view.h"

static unsigned long long local_number(uint64_t seed, int org, long idx, int copy)
{
    const unsigned long long M = 1000000000ULL;
    uint64_t h = synth_hash(seed, 0x4c4f43, (uint64_t)org);
    unsigned long long a = (h % M) | 1;
    while (a % 5 == 0)
        a += 2;
    unsigned long long c = (h >> 20) % M;
    unsigned long long x = (unsigned long long)(2 * idx + copy);
    return (a % M * (x % M) + c) % M;
}

static void format_local(const struct synth_org *so, unsigned long long n, char *out, size_t len)
{
    if (so->type == SYNTH_SOCIAL_CARE)
        snprintf(out, len, "SC%09llu", n);
    else if (so->type == SYNTH_ACUTE || so->type == SYNTH_MENTAL_HEALTH)
        snprintf(out, len, "%c%09llu", so->ods[1], n);
    else
        snprintf(out, len, "%09llu", n);
}

void synth_view_make(struct synth_out *o, const struct synth_person *p, uint64_t seed, int org,
                     int copy, const char *id_kind, const char *feed_kind, struct synth_view *v)
{
    const struct synth_org *so = &o->rg->orgs[org];
    struct synth_rng r;
    synth_rng_init(&r, seed, (uint64_t)p->idx, SYNTH_STREAM_FAULTS + (uint64_t)org * 2 + copy);
    memset(v, 0, sizeof *v);
    v->org = org;
    v->copy = copy;
    format_local(so, local_number(seed, org, p->idx, copy), v->local, sizeof v->local);
    snprintf(v->id_system, sizeof v->id_system, LOCAL_ID_SYSTEM_PREFIX "%s:%s", so->ods, id_kind);
    snprintf(v->given, sizeof v->given, "%s", p->given);
    snprintf(v->family, sizeof v->family, "%s", p->family);
    v->middle = p->middle;
    v->dob = p->dob;
    v->has_nhs = p->has_nhs;
    memcpy(v->nhs, p->nhs, sizeof v->nhs);

    char *d = v->detail;
    size_t dl = sizeof v->detail;
    if (p->has_nhs) {
        enum synth_fault k =
            so->type == SYNTH_SOCIAL_CARE ? SYNTH_F_SC_MISSING_NHS : SYNTH_F_MISSING_NHS;
        if (synth_out_roll(o, &r, k)) {
            v->has_nhs = false;
            v->pending |= 1u << k;
        } else if (synth_out_roll(o, &r, SYNTH_F_BAD_CHECK_DIGIT)) {
            v->nhs[9] = (char)('0' + (v->nhs[9] - '0' + 1 + synth_rng_below(&r, 9)) % 10);
            v->pending |= 1u << SYNTH_F_BAD_CHECK_DIGIT;
        }
    }
    if (synth_out_roll(o, &r, SYNTH_F_TYPO)) {
        if (synth_rng_chance(&r, 0.6))
            synth_name_typo(&r, p->family, v->family, sizeof v->family);
        else
            synth_name_typo(&r, p->given, v->given, sizeof v->given);
        v->pending |= 1u << SYNTH_F_TYPO;
    }
    const char *nick = synth_name_nickname(p->given);
    if (nick && synth_out_roll(o, &r, SYNTH_F_NICKNAME)) {
        snprintf(v->given, sizeof v->given, "%s", nick);
        v->pending |= 1u << SYNTH_F_NICKNAME;
    }
    if (synth_out_roll(o, &r, SYNTH_F_ADDRESS_CHANGE)) {
        v->stale_address = true;
        v->pending |= 1u << SYNTH_F_ADDRESS_CHANGE;
    }
    int y, m, dd;
    synth_civil_from_days(p->dob, &y, &m, &dd);
    if (dd <= 12 && dd != m && synth_out_roll(o, &r, SYNTH_F_SWAP_DAY_MONTH)) {
        v->dob = synth_days_from_civil(y, dd, m);
        v->pending |= 1u << SYNTH_F_SWAP_DAY_MONTH;
    }
    if (synth_out_roll(o, &r, SYNTH_F_MISSING_POSTCODE)) {
        v->no_postcode = true;
        v->pending |= 1u << SYNTH_F_MISSING_POSTCODE;
    }
    if (copy == 0 && synth_out_roll(o, &r, SYNTH_F_DUPLICATE)) {
        v->duplicate = true;
        v->pending |= 1u << SYNTH_F_DUPLICATE;
        format_local(so, local_number(seed, org, p->idx, 1), v->dup_local, sizeof v->dup_local);
    }
    snprintf(d, dl, "local_id=%s", v->local);
    synth_out_record(o, p->key, org, feed_kind, v->id_system, v->local, v->has_nhs ? v->nhs : NULL,
                     copy == 1);
}

const struct synth_address *synth_view_address(const struct synth_view *v,
                                               const struct synth_person *p, int day)
{
    if (v->stale_address || day < p->moved_day)
        return &p->prev_addr;
    return &p->addr;
}

void synth_view_log(struct synth_out *o, struct synth_view *v, const struct synth_person *p,
                    const char *rel, long recno)
{
    if (!v->pending)
        return;
    for (int k = 0; k < SYNTH_F_COUNT; k++) {
        if (!(v->pending & (1u << k)))
            continue;
        char detail[256];
        switch (k) {
        case SYNTH_F_TYPO:
        case SYNTH_F_NICKNAME:
            snprintf(detail, sizeof detail, "%s; sent=%s %s", v->detail, v->given, v->family);
            break;
        case SYNTH_F_BAD_CHECK_DIGIT:
            snprintf(detail, sizeof detail, "%s; sent=%s", v->detail, v->nhs);
            break;
        case SYNTH_F_DUPLICATE:
            snprintf(detail, sizeof detail, "%s; duplicate record local_id=%s%s", v->detail,
                     v->dup_local, v->dup_merged ? "; merged into this one later by ADT^A40" : "");
            break;
        default:
            snprintf(detail, sizeof detail, "%s", v->detail);
        }
        synth_out_fault(o, (enum synth_fault)k, v->org, rel, recno, p->key, detail);
    }
    v->pending = 0;
}

void synth_view_item_id(const struct synth_view *v, const char *suffix, char *out, size_t len)
{
    snprintf(out, len, "%s-%s", v->local, suffix);
    for (char *c = out; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.'))
            *c = '-';
    if (strlen(out) > 64)
        out[64] = 0;
}
