/*
 * service.h - service management (issue 18): activity per organisation and
 * service per month, as a secondary output counted into aggregate tables
 * (agg.h), keys organisation and service, a column per calendar month of the
 * window (YYYY-MM):
 *
 *   encounters            Encounters begun in the month (not planned,
 *                         cancelled or entered in error), at the organisation
 *                         that sent them; service: the Encounter's named
 *                         serviceType, else "ambulance" for an ambulance
 *                         incident (409971007), else by class: "inpatient"
 *                         (IMP), "A&E" (EMER), "outpatient or community"
 *                         (AMB), else the class code
 *   appointments-attended Appointments starting in the month with status
 *                         fulfilled; appointments-missed: status noshow;
 *                         organisation: the sender; service: the named
 *                         serviceType or specialty, else the clinic, else
 *                         "appointment"
 *   services-started      community and social care services (EpisodeOfCare)
 *                         starting in the month
 *   services-open         those open at the end of the month (or of the
 *                         window, for its last month): started by then, not
 *                         ended by then, not planned, waitlisted, cancelled,
 *                         entered in error, or finished without an end date
 *   caseload              the people those open services are for (a person
 *                         with two open services of one kind counts once)
 *                         services-open and caseload have no row total (a sum
 *                         of month ends means nothing)
 *                         organisation: managingOrganization's ODS code,
 *                         else the sender; service: the episode's type
 *   referrals-sent        ServiceRequests dated in the month (occurrence,
 *                         else authoredOn; not draft or entered in error) by
 *                         the requester's organisation (ODS), else the sender
 *   referrals-received    the same by the performer's organisation, when the
 *                         referral names one; service: the request's code's
 *                         text or display, else "referral"
 */
#ifndef WEFT_ANALYTICS_SERVICE_H
#define WEFT_ANALYTICS_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

struct agg;
struct analytics_item;
struct analytics_person;

enum service_measure {
    SERVICE_ENCOUNTERS,
    SERVICE_ATTENDED,
    SERVICE_MISSED,
    SERVICE_STARTED,
    SERVICE_OPEN,
    SERVICE_CASELOAD,
    SERVICE_SENT,
    SERVICE_RECEIVED,
    SERVICE_NMEASURES
};

void service_init(struct agg *a, int64_t from, int64_t to);
/* Count p's activity in days [from, to]; true when p adds to a figure. */
bool service_add(struct agg *a, const struct analytics_person *p, int64_t from, int64_t to);
/* The service label of an Encounter (out: 128 bytes). */
const char *service_encounter_label(const struct analytics_item *it, char out[128]);

#endif
