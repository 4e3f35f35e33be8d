/*
 * main.c - the `weft` command: dispatches to one subcommand (src/cmd/).
 * Kept tiny on purpose: everything a command does lives in its own file.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/opt.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "0.1.0"
#endif

static int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    printf("weft %s\n", WEFT_VERSION);
    return 0;
}

static const struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    /* one row per subcommand, in the order `weft --help` lists them */
    {"init", cmd_init, "create a database (or upgrade its schema)"},
    {"load", cmd_load, "load FHIR R4 bundles, resources and NDJSON files"},
    {"reindex", cmd_reindex, "build the search index of items loaded before it existed"},
    {"client", cmd_client, "add, list and revoke API clients (bearer tokens)"},
    {"org", cmd_org, "organisations and their data sharing agreements"},
    {"policy", cmd_policy, "load, show and check the access policy"},
    {"launcher", cmd_launcher, "host systems that launch staff into the record (JWT)"},
    {"app", cmd_app, "register, list and revoke SMART apps (client id, redirect URIs)"},
    {"objection", cmd_objection, "objections to sharing: lodge, decide, withdraw, show, list"},
    {"citizen-idp", cmd_citizen_idp, "OpenID providers citizens sign in with (NHS login)"},
    {"sar", cmd_sar, "subject access requests: create, extend, list, show, export a copy"},
    {"proxy", cmd_proxy, "proxy access: let a person act for another (grant, list, revoke)"},
    {"audit", cmd_audit, "verify the audit log, list entries and break-glass events"},
    {"feed", cmd_feed, "register feeds (HL7 v2, FHIR, CSV), status, inbound messages, replay"},
    {"dq", cmd_dq, "data-quality checks per organisation: run, report, failing records"},
    {"person", cmd_person,
     "the master person index: export, relink, review, link/unlink, merge/unmerge"},
    {"optout", cmd_optout, "national data opt-out lists for secondary uses: import, show"},
    {"analytics", cmd_analytics,
     "secondary-use aggregates (opt-outs applied, small numbers suppressed), compliance"},
    {"backup", cmd_backup, "an online, consistent copy of the database"},
    {"restore", cmd_restore, "create a database from a backup"},
    {"copy", cmd_copy, "copy a whole region into another store (SQLite <-> PostgreSQL)"},
    {"serve", cmd_serve, "serve the FHIR API, health and web pages over HTTP"},
    {"synth", cmd_synth,
     "generate a synthetic region's feeds (HL7 v2, FHIR, CSV) with ground truth"},
    {"replay-feeds", cmd_replay_feeds,
     "send a generated region into a running Weft (MLLP, FHIR, CSV)"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "weft %s - a regional shared care record\n\n"
            "usage: weft COMMAND [OPTIONS] [ARGS]\n\nCommands:\n",
            WEFT_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'weft COMMAND --help' describes a command's options.\n"
                 "Every option can also be set in a config file (see --config).\n");
}

/* Every option table, for opts_set_known(): a config file serves every
 * command, so a key is an error only when no command knows it. */
static const struct opt_spec *const all_specs[] = {
    cmd_init_specs,         cmd_load_specs,
    cmd_client_specs,       cmd_org_specs,
    cmd_policy_specs,       cmd_launcher_specs,
    cmd_objection_specs,    cmd_audit_specs,
    cmd_feed_specs,         cmd_serve_specs,
    cmd_synth_specs,        cmd_synth_register_specs,
    cmd_replay_feeds_specs, cmd_backup_specs,
    cmd_restore_specs,      cmd_app_specs,
    cmd_dq_specs,           cmd_sar_specs,
    cmd_citizen_idp_specs,  cmd_person_specs,
    cmd_optout_specs,       cmd_analytics_specs,
    cmd_proxy_specs,        cmd_copy_specs,
    cmd_reindex_specs,      NULL,
};

int main(int argc, char **argv)
{
    opts_set_known(all_specs);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("weft %s\n", WEFT_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "weft: unknown command '%s'\n\n", name);
    usage(stderr);
    return EXIT_USAGE;
}
