/*
 * sar_export.h - the subject access package: a copy of everything the record
 * holds about one person, for them (UK GDPR article 15), written into a
 * directory:
 *
 *   record.json        a FHIR R4 Bundle (type collection) of every current
 *                      item from every organisation, each entry carrying its
 *                      source organisation (extension, ODS code)
 *   record.html        the same as a readable, printable document grouped by
 *                      category and then source organisation
 *   access-log.csv     every audit entry about the person's record: when,
 *                      action, outcome, organisation, job role, purpose,
 *                      what was seen, how many items, emergency access
 *   reviewer-note.csv  for the governance reviewer only: each item withheld
 *                      by a citizen-withhold rule of the policy, and why
 *
 * Rules: the read goes through the authorisation point as the person
 * themself (principal kind citizen) and is audited (action export);
 * withholding is the policy's citizen-withhold rules (policy.h), the same
 * ones the /my/ pages apply, and the copy says, without detail, that
 * something was withheld.  Streamed: items are read a page at a time and
 * written as they come; memory does not grow with the record (the only
 * thing kept is the set of (category, organisation) pairs seen).
 */
#ifndef WEFT_WEB_SAR_EXPORT_H
#define WEFT_WEB_SAR_EXPORT_H

#include <stdint.h>

struct store;
struct principal;

struct sar_export_stats {
    int64_t items;    /* items in the copy */
    int64_t withheld; /* items withheld (listed in reviewer-note.csv) */
    int64_t accesses; /* rows in access-log.csv */
};

/* Write the package of person_id for request sar_id into dir (created when
 * absent; the four files are replaced).  who: the operator or the person
 * (recorded in the audit entry).  Returns 0, WEFT_EDENIED when the
 * authorisation point refuses, WEFT_EIO when a file cannot be written
 * (*errmsg, malloc'd, says which), or a store error. */
int sar_export_write(struct store *s, const struct principal *who, const char *person_id,
                     int64_t sar_id, const char *dir, struct sar_export_stats *stats,
                     char **errmsg);

#endif
