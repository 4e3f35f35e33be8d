/*
 * send.h - replay a generated region into a running Weft through the real
 * feed paths: HL7 v2 over MLLP (waiting for each acknowledgement), FHIR
 * bundles POSTed to /fhir with each feed's bearer token (HTTP/1.1
 * keep-alive), and CSV extracts copied atomically into each social care
 * feed's drop folder (waiting for the folder watcher's report).
 *
 * Feeds run concurrently (one connection per feed at a time, up to
 * `connections` feeds at once); within a feed, files and records go in the
 * manifest's order, as a real interface engine sends them.  The whole API is
 * synth_send().
 */
#ifndef WEFT_SYNTH_SEND_H
#define WEFT_SYNTH_SEND_H

#include <stdbool.h>
#include <stdio.h>

struct synth_send_opts {
    const char *dir;         /* generated region (manifest.json) */
    const char *mllp;        /* HOST:PORT, NULL: HL7 feeds skipped */
    const char *http;        /* base URL http://HOST:PORT[/fhir], NULL: FHIR feeds skipped */
    const char *credentials; /* credentials.json (tokens, folders), may be NULL */
    const char *token;       /* bearer token for FHIR feeds without their own, may be NULL */
    const char *drop_root;   /* CSV drop folders are DROP_ROOT/<feed name> unless credentials say */
    int connections;         /* feeds sent at once (default 4) */
    int csv_wait_seconds;    /* wait for each CSV file's report (0: do not wait) */
    const char *only;        /* "hl7v2", "fhir" or "csv": send only that kind (NULL: all) */
    bool progress;           /* progress bar on stderr when it is a terminal */
};

/* Totals over every feed. */
struct synth_send_totals {
    long sent, accepted, rejected, errors, skipped;
};

/* Send; writes the per-feed report to out.  Returns 0 when every record
 * was sent and accepted, 1 when some were rejected or failed, or a negative
 * code (message in err) when nothing could be started. */
int synth_send(const struct synth_send_opts *o, FILE *out, struct synth_send_totals *t, char *err,
               size_t errlen);

#endif
