/*
 * registry.h - the feed registry: which organisation may send what, by which
 * route, with which credentials, and how each feed is doing.
 *
 * A feed is one route into the record for one organisation:
 *   hl7v2  HL7 v2 over MLLP; identified by the sending facility it must
 *          present (MSH-4, first component), optionally also by the peer
 *          address it must connect from (--from-address, an IP address);
 *   fhir   FHIR R4 bundles POSTed to /fhir with the feed's own bearer token
 *          (an API client "feed:NAME" with write scope, bound to the org);
 *   csv    social care CSV extracts dropped in a folder (with done/ and
 *          failed/ inside, created when the feed is added).
 * The feed's name appears in every stored item (meta.source
 * "urn:weft:feed:{ODS}:{name}") and in the inbox.
 *
 * Status (feed_registry_status): counters per UTC day kept by the ingest
 * path (received, applied, rejected, duplicate, lag between event time and
 * arrival over all events and over recent ones: feeds/lag.h), the last
 * arrival, the last error, and whether the organisation's agreement is in
 * force now.  Reading status never scans the inbox.
 */
#ifndef WEFT_FEEDS_REGISTRY_H
#define WEFT_FEEDS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "store/feeds.h"

/* Prefix of the API client name that holds a fhir feed's token. */
#define FEED_CLIENT_PREFIX "feed:"
/* Scopes of that client: write (POST bundles) only. */
#define FEED_CLIENT_SCOPES "system/*.cud"

struct feed_spec {
    const char *org;          /* ODS code, must be a known organisation */
    const char *kind;         /* "hl7v2" | "fhir" | "csv" */
    const char *name;         /* NULL: "{org}-{kind}" lower-cased */
    const char *facility;     /* hl7v2: required */
    const char *from_address; /* hl7v2: optional IP address */
    const char *folder;       /* csv: required; created with done/ and failed/ */
    /* hl7v2: optional SHA-256 fingerprint of the TLS client certificate the
     * sender must present on the MLLP connection (64 hex digits, colons
     * allowed, any case: `openssl x509 -noout -fingerprint -sha256`) */
    const char *client_cert_sha256;
};

/*
 * Register a feed.  On success *id_out (may be NULL) gets its id and, for a
 * fhir feed, *token_out a new bearer token (malloc'd, caller frees; it is
 * stored only as a hash, so this is the one chance to show it).  On failure
 * returns WEFT_EINVAL (bad spec), WEFT_ENOTFOUND (unknown organisation),
 * WEFT_EEXIST (name or facility taken), WEFT_EIO (folder) or a store error,
 * with a sentence in err[0..errcap).
 */
int feed_registry_add(struct store *s, const struct feed_spec *spec, int64_t *id_out,
                      char **token_out, char *err, size_t errcap);

/* A certificate fingerprint as given (64 hex digits, optionally in pairs
 * separated by ':', any case, an optional "sha256:" or "SHA256 Fingerprint="
 * prefix) into out: 64 lower-case hex digits.  false when it is not one. */
bool feed_cert_sha256_parse(const char *in, char out[65]);

/* Feed names: [a-z0-9][a-z0-9._-]{0,63}. */
bool feed_name_valid(const char *name);
/* "hl7v2", "fhir", "csv". */
bool feed_kind_valid(const char *kind);

/* The status of one feed as a new JSON object (caller json_decref()s):
 *   {"name","org","kind","facility"?,"from_address"?,"client_cert_sha256"?,
 *    "folder"?,"enabled","backlog" (hl7v2 enhanced mode: accepted, not yet applied,
 *    in the accept journal or pending in the inbox), "backlog_journal" (the part
 *    still in this node's accept journal),
 *    "agreement_in_force","last_received","last_error","last_error_at",
 *    "today":{"day","received","applied","rejected","duplicate",
 *             "lag_events","lag_mean_ms","lag_max_ms",
 *             "lag_recent_events","lag_recent_mean_ms","lag_recent_max_ms"},
 *    "total":{...same without day}}
 * Counters are by arrival day; lag_* cover every event with an event time,
 * lag_recent_* only events at most 7 days old when they arrived; means and
 * maxima are null when there was no such event.
 * now is the clock for "today" and the agreement. */
int feed_registry_status(struct store *s, const struct store_feed *f, time_t now, json_t **out);
/* Status of every feed, plus "unregistered": counters of messages whose
 * sender matched no feed: {"feeds":[...],"unregistered":{"today":..,"total":..}}. */
int feed_registry_status_all(struct store *s, time_t now, json_t **out);
/* The accept journal (feeds/accept_journal.h) whose records not yet moved
 * into the inbox count in the backlog of feed status (NULL: none).  Set once
 * at start by weft serve (enhanced mode) and weft feed status; the string
 * is copied. */
void feed_registry_set_journal_dir(const char *dir);

#endif
