/*
 * lag.h - feed lag: how long after an event happened its message reached
 * Weft (arrival time minus event time), measured per EVENT and kept in the
 * per-day feed counters (store_feed_counts, registry.h status).
 *
 * What counts as one event, per route:
 *   hl7v2  a message: EVN-6, else EVN-2, else MSH-7 (hl7_map.h);
 *   fhir   each resource of a POSTed Bundle that has a time of its own
 *          (feed_lag_event_time below); when none has one, Bundle.timestamp
 *          counts once for the bundle;
 *   csv    each mapped row with an event date (assessment, service start,
 *          concern raised, end-of-life record, contact start, person
 *          date_recorded): the time of the row's first resource.
 * A date without a time of day counts from 00:00 UTC of that day.  An event
 * time up to FEED_LAG_SKEW_MS after arrival (clock skew, a local time read
 * in the wrong offset) counts as lag 0; one further in the future (a planned
 * appointment, a date typed wrong) is not a lag sample at all.
 *
 * Two figures are kept beside each other, because a feed that sends history
 * (a new sender's back-load, the synthetic region's five years) has an
 * all-time lag of years that says nothing about whether today's events come
 * through promptly:
 *   all     every event with an event time;
 *   recent  only events at most FEED_LAG_RECENT_MS (7 days) old on arrival:
 *           the figure an operator watches for a stalled or slow interface.
 */
#ifndef WEFT_FEEDS_LAG_H
#define WEFT_FEEDS_LAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/feeds.h"

#define FEED_LAG_RECENT_MS (7LL * 24 * 3600 * 1000)
#define FEED_LAG_SKEW_MS (3600LL * 1000)

/* Lag samples of one or more messages; zero-initialise. */
struct feed_lag {
    int64_t n, sum_ms, max_ms;
    int64_t recent_n, recent_sum_ms, recent_max_ms;
};

/* Milliseconds since 1970 of an ISO 8601 date ("2026-11-24": 00:00 UTC) or
 * dateTime (no offset: UTC).  False when it cannot be read or is coarser
 * than a day. */
bool feed_lag_epoch_ms(const char *iso, long long *ms);

/* One sample of lag_ms (arrival minus event).  False (nothing counted) when
 * the event lies more than FEED_LAG_SKEW_MS after arrival. */
bool feed_lag_add_ms(struct feed_lag *l, long long lag_ms);
/* One sample from an event time and an arrival time (ISO 8601).  False when
 * either cannot be read or the event is in the future (see above). */
bool feed_lag_add(struct feed_lag *l, const char *event_time, const char *arrived);

/* The event time of a FHIR resource into out[0..cap): meta.lastUpdated (when
 * the sender's system last changed it), else the time it was recorded
 * (recordedDate, recorded, authoredOn, authored, issued, created, dateTime,
 * date, dateAsserted, sent, the UK date-recorded extension), else its
 * clinical time (effective[x], occurrence[x], performed[x], onset[x],
 * period.start, start, context.period.start).  Never birthDate or
 * deceasedDateTime (not events of the feed).  False when none. */
bool feed_lag_event_time(const json_t *resource, char *out, size_t cap);

/* Samples for a Bundle's resources (see the top of this file); returns the
 * number of samples taken. */
size_t feed_lag_add_bundle(struct feed_lag *l, const json_t *bundle, const char *arrived);

/* Add l into the lag fields of c. */
void feed_lag_merge(struct store_feed_counts *c, const struct feed_lag *l);

#endif
