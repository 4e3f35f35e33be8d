/*
 * read.h - the one place analytics reads the record.  Every analytics
 * output (secondary aggregates, frailty, direct-care lists) gets people
 * from here, one person at a time in person order, assembled from the
 * person's current items of the types analytics uses.  Keeping the reads
 * here means one seam to switch when the store's scoped-read path changes:
 * nothing else in src/analytics calls the store's record scans.
 *
 * This reader does not decide who may see what: secondary outputs count
 * only people cleared by the national data opt-out (secondary.c) and show
 * aggregates only; direct-care lists ask the authorisation point first
 * (risklist.c).
 */
#ifndef WEFT_ANALYTICS_READ_H
#define WEFT_ANALYTICS_READ_H

#include <stdbool.h>
#include <stdint.h>

struct store;

#define ANALYTICS_MAX_CODES 8
#define ANALYTICS_NO_BIRTH INT64_MIN /* day numbers before 1970 are negative */

/* One item of a person as analytics sees it; strings owned by the person
 * (valid for the callback only). */
struct analytics_item {
    const char *type, *id, *source_org, *category;
    const char *effective; /* as stored: a date or date-time, or NULL */
    const char *end;       /* Encounter/EpisodeOfCare period.end, or NULL */
    const char *status;    /* status or clinicalStatus code, or NULL */
    const char *cls;       /* Encounter.class code (EMER, IMP, AMB ...), or NULL */
    const char *admit;     /* Encounter.hospitalization.admitSource code, or NULL */
    const char *display;   /* the main concept's text or first display, or NULL */
    const char *location;  /* Encounter: the last location's display, or NULL */
    const char *service;   /* the service named by the item (Encounter.serviceType's or
                              Appointment.serviceType/specialty's text or display, else an
                              Appointment's clinic: its first participant named by display
                              only, as HL7 v2 SIU's AIL), or NULL */
    const char *org;       /* EpisodeOfCare.managingOrganization, ServiceRequest.requester:
                              the ODS code in its identifier, or NULL */
    const char *to_org;    /* ServiceRequest.performer[0]'s ODS code, or NULL */
    const char *codes[ANALYTICS_MAX_CODES]; /* "system|code" of the main concept */
    int ncodes;
};

/* A person: their demographics as the record has them, and their items. */
struct analytics_person {
    const char *person_id;
    const char *nhs;        /* 10 digits, or NULL: not checkable against an opt-out list */
    int64_t birth;          /* day number (analytics/day.h), ANALYTICS_NO_BIRTH when unknown */
    bool deceased;          /* any source records a death */
    const char *gp;         /* ODS code of the registered GP practice, or NULL */
    const char *gp_patient; /* the id of the Patient the practice itself sent, or NULL */
    const char *name;       /* "FAMILY, Given" as the practice (else any source) has it, or NULL */
    const struct analytics_item *items;
    int nitems;
};

/* Which persons to read. */
struct analytics_read {
    const char *const *person_ids; /* ascending; NULL: everyone with a record */
    int n;
};

/* Call fn for every person selected, in person order; fn non-zero stops and
 * is returned.  Returns 0 or a store error. */
int analytics_read_persons(struct store *s, const struct analytics_read *sel,
                           int (*fn)(const struct analytics_person *, void *), void *ctx);

/* True when item it carries code ("system|code"). */
bool analytics_item_has(const struct analytics_item *it, const char *code);

#endif
