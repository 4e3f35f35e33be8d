/*
 * objection.h - objections to sharing as a workflow (GDPR article 21; BRIEF
 * §5): lodged with a GP or care provider by the person or by staff on their
 * behalf, considered case by case, decided by a clinician the policy names
 * (capability objection-decide), or withdrawn.  Due one calendar month after
 * lodging; still lodged after that is overdue.
 *
 * Each step is one transaction that (1) updates the case, (2) appends the
 * step to the case's history and (3) sets the person's objection state - the
 * one value the authorisation point reads (store_access_facts), so a decision
 * takes effect on the next request; then (4) the audit entry is written and
 * waited for (after the commit, as for break-glass: the server's audit
 * writer is another handle).  A refused decision (role not allowed) is
 * audited and changes nothing.
 *
 * Statuses: lodged -> upheld | not-upheld (decided), lodged | upheld ->
 * withdrawn.  A person has at most one open case (lodged or upheld).  Only an
 * upheld objection withholds anything (authz.c), as before.
 */
#ifndef WEFT_ACCESS_OBJECTION_H
#define WEFT_ACCESS_OBJECTION_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct principal;
struct store_objection;

/* Lodge an objection for person_id with organisation org (a registered ODS
 * code) for reason (1..2000 characters).  who: the person (citizen), a member
 * of staff, or a command-line operator (client).  *id_out gets the case id.
 * Errors: WEFT_EINVAL (bad org/reason), WEFT_EEXIST (an open case exists),
 * store errors; *why (may be NULL) gets a static sentence for the caller. */
int objection_lodge(struct store *s, const struct principal *who, const char *person_id,
                    const char *org, const char *reason, int64_t *id_out, const char **why);

/* Decide case id: decision "upheld" or "not-upheld", rationale 1..4000
 * characters.  who must be a member of staff (user_id = SDS user id) whose
 * role's profile has objection-decide in the policy in force: otherwise
 * WEFT_EDENIED, audited.  WEFT_ECONFLICT when the case is not lodged. */
int objection_decide(struct store *s, const struct principal *who, int64_t id, const char *decision,
                     const char *rationale, const char **why);

/* Withdraw case id (lodged or upheld), with an optional reason.  The person
 * themself, or staff on their behalf.  WEFT_ECONFLICT when already closed. */
int objection_withdraw(struct store *s, const struct principal *who, int64_t id, const char *reason,
                       const char **why);

/* `weft objection set` (kept for migrating decisions made elsewhere):
 * record status (lodged|upheld|rejected|withdrawn) decided on date as a case
 * of its own with a "set" step, and make it the person's state. */
int objection_record(struct store *s, const struct principal *who, const char *person_id,
                     const char *status, const char *date, const char **why);

/* True when case o is still lodged after its due day (today: YYYY-MM-DD). */
bool objection_overdue(const struct store_objection *o, const char *today);

/* The "by" text recorded for who in a case's history into out. */
void objection_actor(const struct principal *who, char out[256]);

#endif
