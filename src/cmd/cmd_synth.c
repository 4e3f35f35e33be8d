/*
 * cmd_synth.c - `weft synth`: generate a synthetic region's feeds, truth and
 * manifest (src/synth/, docs/SYNTH.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/opt.h"
#include "synth/date.h"
#include "synth/register.h"
#include "synth/synth.h"

const struct opt_spec cmd_synth_specs[] = {
    {"people", "N", "number of people in the region (default 10000)"},
    {"seed", "S", "random seed; the same seed gives byte-identical output (default 1)"},
    {"out", "DIR", "output directory (created; must not hold an earlier region)"},
    {"fault-rate", "NAME=RATE,...", "fault rates, e.g. typo=0.05,late=0 or 'none' (repeatable)"},
    {"no-faults", NULL, "a clean region: every fault rate 0"},
    {"as-of", "YYYY-MM-DD", "the region's 'today'; all dates are relative to it (2026-11-01)"},
    {"batch", "N", "people per feed file (default 1000)"},
    {"quiet", NULL, "no progress or summary output"},
    {NULL, NULL, NULL},
};

const struct opt_spec cmd_synth_register_specs[] = {
    {"db", "PATH", "the database (weft init first)"},
    {"in", "DIR", "the generated region (its manifest.json)"},
    {"drop-root", "DIR", "CSV feeds get the drop folder DIR/<feed name> (created)"},
    {"from", "YYYY-MM-DD", "first day of each organisation's agreement (default 2020-01-01)"},
    {"credentials", "FILE", "where to write the feeds' credentials (default DIR/credentials.json)"},
    {NULL, NULL, NULL},
};

/* weft synth register: organisations, agreements and feeds of a region. */
static int synth_register_cmd(int argc, char **argv)
{
    struct opts o = {0};
    int status = EXIT_USAGE;
    if (opts_parse(&o, cmd_synth_register_specs, argc, argv) != 0)
        goto done;
    if (o.help) {
        opts_print_help("usage: weft synth register --db PATH --in DIR [--drop-root DIR]\n"
                        "Register a generated region's organisations (with a Joint Controllers\n"
                        "Agreement), and its HL7 v2, FHIR and CSV feeds; write the feeds' tokens\n"
                        "and drop folders to DIR/credentials.json (mode 0600) for replay-feeds.",
                        cmd_synth_register_specs);
        status = 0;
        goto done;
    }
    struct synth_register_opts ro = {.db = opts_get(&o, "db"),
                                     .dir = opts_get(&o, "in"),
                                     .drop_root = opts_get(&o, "drop-root"),
                                     .from = opts_get_or(&o, "from", "2020-01-01"),
                                     .credentials = opts_get(&o, "credentials")};
    int day;
    if (!ro.db || !ro.dir || !synth_date_parse(ro.from, &day)) {
        fprintf(stderr, "weft synth register: --db PATH and --in DIR are required (and --from "
                        "must be YYYY-MM-DD)\n");
        goto done;
    }
    struct synth_register_stats st;
    char err[400];
    if (synth_register(&ro, &st, err, sizeof err) != 0) {
        fprintf(stderr, "weft synth register: %s\n", err);
        status = 1;
        goto done;
    }
    printf("registered %d organisations (%d new agreements), %d feeds added, %d already "
           "there; credentials in %s%s\n",
           st.orgs, st.agreements, st.feeds_added, st.feeds_existing,
           ro.credentials ? ro.credentials : ro.dir, ro.credentials ? "" : "/credentials.json");
    status = 0;
done:
    opts_free(&o);
    return status;
}

int cmd_synth(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "register") == 0)
        return synth_register_cmd(argc - 1, argv + 1);
    struct opts o = {0};
    int status = EXIT_USAGE;
    if (opts_parse(&o, cmd_synth_specs, argc, argv) != 0)
        goto done;
    if (o.help) {
        opts_print_help("usage: weft synth --out DIR [--people N] [--seed S] [--fault-rate ...]\n"
                        "       weft synth register --db PATH --in DIR [--drop-root DIR]\n"
                        "Generate a synthetic Kent and Medway-like region: HL7 v2, FHIR R4 and\n"
                        "social care CSV feeds under DIR/feeds, ground truth under DIR/truth,\n"
                        "and DIR/manifest.json (docs/SYNTH.md).",
                        cmd_synth_specs);
        status = 0;
        goto done;
    }
    struct synth_config cfg = {0};
    long people, batch, seed;
    if (opts_get_long(&o, "people", 10000, &people) || opts_get_long(&o, "batch", 1000, &batch) ||
        opts_get_long(&o, "seed", 1, &seed))
        goto done;
    cfg.people = people;
    cfg.batch = batch;
    cfg.seed = (uint64_t)seed;
    cfg.out = opts_get(&o, "out");
    if (!cfg.out) {
        fprintf(stderr, "weft synth: --out DIR is required\n");
        goto done;
    }
    if (people <= 0 || people > 100000000 || batch <= 0) {
        fprintf(stderr, "weft synth: --people must be 1..100000000 and --batch positive\n");
        goto done;
    }
    const char *asof = opts_get_or(&o, "as-of", "2026-11-01");
    if (!synth_date_parse(asof, &cfg.asof)) {
        fprintf(stderr, "weft synth: --as-of '%s' is not a date (YYYY-MM-DD)\n", asof);
        goto done;
    }
    synth_faults_default(&cfg.faults);
    if (opts_flag(&o, "no-faults"))
        synth_faults_none(&cfg.faults);
    const char *rates[32];
    int nrates = opts_get_all(&o, "fault-rate", rates, 32);
    for (int i = 0; i < nrates && i < 32; i++) {
        char err[160];
        if (synth_faults_parse(&cfg.faults, rates[i], err, sizeof err) != 0) {
            fprintf(stderr, "weft synth: %s\n", err);
            goto done;
        }
    }
    bool quiet = opts_flag(&o, "quiet");
    cfg.progress = !quiet;
    struct synth_stats st;
    char err[320];
    if (synth_run(&cfg, &st, err, sizeof err) != 0) {
        fprintf(stderr, "weft synth: %s\n", err);
        status = 1;
        goto done;
    }
    if (!quiet)
        printf("generated %ld people in %.1fs (%.0f people/s): %ld HL7 v2 messages, %ld FHIR "
               "bundles, %ld CSV rows\nmanifest: %s/manifest.json  truth: %s/truth/\n",
               st.people, st.seconds, st.seconds > 0 ? st.people / st.seconds : 0.0,
               st.hl7_messages, st.fhir_bundles, st.csv_rows, cfg.out, cfg.out);
    status = 0;
done:
    opts_free(&o);
    return status;
}
