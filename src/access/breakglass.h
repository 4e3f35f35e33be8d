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

#include "access/principal.h"

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

#endif
