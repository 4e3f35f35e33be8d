/*
 * register.h - register a generated region in a Weft database: every
 * organisation of its manifest (weft org add), a Joint Controllers
 * Agreement from a start day (weft org agreement), and every feed (weft feed
 * add: HL7 facility, FHIR token, CSV drop folder), writing the feeds'
 * credentials to a JSON file created with mode 0600 for weft replay-feeds.
 * Running it again is harmless: organisations are updated, an agreement is
 * added only when none is in force, and feeds that exist are kept (their
 * tokens cannot be shown again, so they are listed without one).
 */
#ifndef WEFT_SYNTH_REGISTER_H
#define WEFT_SYNTH_REGISTER_H

#include <stddef.h>

struct synth_register_opts {
    const char *db;          /* store URL */
    const char *dir;         /* generated region (manifest.json) */
    const char *drop_root;   /* CSV drop folders become DROP_ROOT/<feed name> */
    const char *from;        /* agreement start day YYYY-MM-DD */
    const char *credentials; /* output file (default DIR/credentials.json) */
};

struct synth_register_stats {
    int orgs, agreements, feeds_added, feeds_existing;
};

/* Returns 0, or a negative code with a message in err. */
int synth_register(const struct synth_register_opts *o, struct synth_register_stats *st, char *err,
                   size_t errlen);

#endif
