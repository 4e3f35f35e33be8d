/*
 * sar.h - subject access requests (UK GDPR article 15): a request logged by
 * governance staff (or made by the person), due one calendar month after it
 * was received, extendable once or twice by up to two further months in all
 * with a recorded reason, completed when a package is produced
 * (web/sar_export.h writes it).  Every step is audited (action admin; the
 * package itself: action export).
 *
 * Statuses: open -> extended -> completed (a completed request may be
 * exported again; the time of the latest package is kept).
 */
#ifndef WEFT_ACCESS_SAR_H
#define WEFT_ACCESS_SAR_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct principal;
struct store_sar;

/* Log a request for person_id received on day received (YYYY-MM-DD, not in
 * the future).  *id_out gets its id.  WEFT_EINVAL with *why on a bad date. */
int sar_create(struct store *s, const struct principal *who, const char *person_id,
               const char *received, int64_t *id_out, const char **why);

/* Extend request id by months (1 or 2; at most two further months in all)
 * for reason.  WEFT_EINVAL / WEFT_ECONFLICT (completed, or beyond the limit)
 * with *why. */
int sar_extend(struct store *s, const struct principal *who, int64_t id, int months,
               const char *reason, const char **why);

/* Mark request id completed now, its package written into dir (an
 * absolute path is kept, so the portal can offer the files for download). */
int sar_complete(struct store *s, int64_t id, const char *dir);

/* True when request r is not completed and today (YYYY-MM-DD) is after its
 * due day. */
bool sar_overdue(const struct store_sar *r, const char *today);

#endif
