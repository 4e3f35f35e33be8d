/*
 * breakglass.h - emergency access beyond the normal rules (BRIEF §5): a
 * member of staff states a reason code and a reason in their own words;
 * for a limited time (config `breakglass-hours`, default 4) they may open
 * that one person's record even though it is not their launch context, and
 * items withheld by an upheld objection are shown.  Categories are not
 * widened: a role sees the same kinds of information in an emergency.
 * Every start is written to the audit log (waiting for durability) and to
 * the break-glass table that governance reviews (`weft audit breakglass`).
 */
#ifndef WEFT_ACCESS_BREAKGLASS_H
#define WEFT_ACCESS_BREAKGLASS_H

#include "core/principal.h"

struct store;

#define BREAKGLASS_HOURS_DEFAULT 4
#define BREAKGLASS_TEXT_MAX 1000

/* The reason codes offered (NULL-terminated), and a label for each. */
extern const char *const breakglass_codes[];
const char *breakglass_code_label(const char *code);

/*
 * Start break-glass for principal p (a launched user, not an app token) on
 * person_id for hours.  Returns 0 and the expiry (ISO 8601) in expires_out
 * (32 bytes); WEFT_EINVAL with *why (static text) for a bad reason code or
 * text; WEFT_EDENIED with *why when the role may not break glass or the
 * organisation has no agreement in force.  Refusals are audited too.
 */
int breakglass_start(struct store *s, const struct principal *p, const char *person_id,
                     const char *code, const char *text, int hours, char expires_out[32],
                     const char **why);

/*
 * One break-glass request, as a form sends it (the one handler behind both
 * forms: the record page's /patient/{id}/break-glass and /breakglass): the
 * person is the one given (person_id), else the one with this NHS number
 * (identity_find_nhs: found, never created, so a refused or mistyped request
 * adds nobody; a person held only for an objection lodged before any record
 * of them has no shared record: BREAKGLASS_NO_RECORD, as for a number never
 * seen), else
 * the one in the session's context (session_person).  Then breakglass_start.
 * The caller has checked the form (access/form.h) and renders the outcome;
 * *person_out (malloc'd, may be set for any outcome) is whom it was for.
 */
enum breakglass_outcome {
    BREAKGLASS_STARTED = 0,
    BREAKGLASS_BAD_NHS,   /* not a valid NHS number: 400 */
    BREAKGLASS_NO_RECORD, /* no record held for the NHS number: 404 (audited) */
    BREAKGLASS_INVALID,   /* reason code or text refused: 400, *why */
    BREAKGLASS_NOT_FOUND, /* no such person: 404 */
    BREAKGLASS_DENIED,    /* the role or organisation may not: 403, *why (audited) */
    BREAKGLASS_FAILED,    /* the store failed: 503, nothing widened */
};
struct breakglass_ask {
    const char *person_id;      /* the record page's person, or NULL */
    const char *nhs;            /* an NHS number typed in, or NULL/empty */
    const char *session_person; /* the launch context, used when neither is given */
    const char *code, *text;    /* reason code and the reason in the user's words */
    int hours;
};
enum breakglass_outcome breakglass_request(struct store *s, const struct principal *p,
                                           const struct breakglass_ask *ask, char **person_out,
                                           char expires_out[32], const char **why);

#endif
