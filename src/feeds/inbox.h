/*
 * inbox.h - the inbound message store: every HL7 message, FHIR bundle and
 * CSV file that reaches Weft is kept verbatim, with its arrival time, feed,
 * sender, control id, event time and outcome, BEFORE it is acknowledged
 * (ingest.h says how the two are ordered).  Nothing inbound is ever dropped:
 * refused, malformed and duplicate messages are kept too, so they can be
 * listed, read and replayed (`weft feed messages|show|replay`).
 *
 * Storage is the store's inbox table (store.h, store_inbox_*); this module
 * names the outcomes, parses the time filters operators type, and renders a
 * message for the command line and the admin API.
 *
 * Outcomes:
 *   pending    kept, not yet applied (only seen after a crash between the
 *              two, or while a file is being processed)
 *   applied    its resources are committed (an HL7 message was ACKed AA)
 *   rejected   refused or failed: error says why (AE/AR, HTTP 4xx, failed/)
 *   duplicate  a repeat of an applied control id: acknowledged, not applied
 *   partial    a CSV file some of whose rows were rejected (see its report)
 */
#ifndef WEFT_FEEDS_INBOX_H
#define WEFT_FEEDS_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "store/feeds.h"

#define INBOX_PENDING "pending"
#define INBOX_APPLIED "applied"
#define INBOX_REJECTED "rejected"
#define INBOX_DUPLICATE "duplicate"
#define INBOX_PARTIAL "partial"

/* True for one of the five outcome names above. */
bool inbox_outcome_valid(const char *outcome);

/* Current time as ISO 8601 UTC with milliseconds ("2026-11-24T22:05:24.123Z"). */
void inbox_now(char out[32]);

/*
 * Turn an operator's --since into an ISO 8601 UTC prefix comparable with
 * arrival times: "2026-11-24", "2026-11-24T22:00", "2026-11-24T22:00:00Z"
 * (taken as UTC), or a duration back from now: "90s", "30m", "2h", "7d".
 * Returns 0 or WEFT_EINVAL.
 */
int inbox_parse_since(const char *text, time_t now, char out[32]);

/* A message as JSON for the admin API / --json (caller json_decref()s):
 * {"id","feed","kind","arrived","sender","peer","control_id","type",
 *  "event_time","outcome","error","updated","attempts","resources",
 *  "duplicate_of"} plus, when the body was read, "body" (UTF-8 text) or
 * "body_base64" (anything else).  feed_name may be NULL. */
json_t *inbox_msg_json(const struct store_inbox_msg *m, const char *feed_name);

#endif
