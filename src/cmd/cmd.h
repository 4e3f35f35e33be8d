/*
 * cmd.h - the subcommands of the `weft` binary (like git's builtin.h).
 *
 * Each subcommand lives in its own file src/cmd/cmd_NAME.c and is one entry
 * point: int cmd_NAME(int argc, char **argv), where argv[0] is the
 * subcommand's name.  It returns the process exit status (0 success, 1 the
 * work failed or was partly rejected, 2 usage error).  To add a command: write
 * the file, declare it here, add a row to the table in main.c.
 */
#ifndef WEFT_CMD_CMD_H
#define WEFT_CMD_CMD_H

#include "core/opt.h"

#define EXIT_USAGE 2

struct store;

/* Open the existing Weft database db for the command named what (e.g.
 * "feed add", "load").  When it cannot be opened or has no schema, prints
 * "weft WHAT: ..." naming the database and what to run, and returns a
 * negative code; otherwise *out is the handle, closed by the caller with
 * store_close().  (cmd_store.c) */
int cmd_store_open(const char *what, const char *db, struct store **out);
/* cmd_store_open, and the schema must be this build's newest: a database an
 * older weft made is refused with the command that upgrades it. */
int cmd_store_open_current(const char *what, const char *db, struct store **out);
/* 0 when s has every migration of this build; else says so on stderr
 * (naming `weft init --db DB`) and returns an error. */
int cmd_store_require_current(const char *what, const char *db, struct store *s);

/* The option table of each subcommand (and of `synth register`), so that a
 * config file key can be checked against every command's options (main.c
 * hands them to opts_set_known()). */
extern const struct opt_spec cmd_serve_specs[], cmd_init_specs[], cmd_load_specs[],
    cmd_client_specs[], cmd_synth_specs[], cmd_synth_register_specs[], cmd_replay_feeds_specs[],
    cmd_org_specs[], cmd_policy_specs[], cmd_launcher_specs[], cmd_audit_specs[],
    cmd_objection_specs[], cmd_feed_specs[], cmd_backup_specs[], cmd_restore_specs[],
    cmd_app_specs[], cmd_dq_specs[], cmd_sar_specs[], cmd_citizen_idp_specs[], cmd_person_specs[],
    cmd_optout_specs[], cmd_analytics_specs[], cmd_proxy_specs[], cmd_copy_specs[],
    cmd_reindex_specs[];

struct opts;
struct principal;
/*
 * Who decides an identity change on the command line (weft person review
 * decide|link|unlink|merge|unmerge, weft feed unmerge; cmd_person.c): the SDS
 * user --by, with the job role --role or the one they last signed in with,
 * allowed by the policy in force (capability identity-decide, as on the
 * identity review pages).  cmd names the command in messages ("person merge").
 * 0 with *p filled (role and org malloc'd into *role_out and *org_out, the
 * caller frees both); else the refusal is printed (and, for a role the policy
 * does not allow, audited) and the exit status returned.
 */
int cmd_identity_decider(struct store *s, const char *cmd, const struct opts *o,
                         struct principal *p, char **role_out, char **org_out);

/* declarations, one per subcommand file */
int cmd_serve(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_app(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_replay_feeds(int argc, char **argv);
int cmd_org(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_launcher(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_objection(int argc, char **argv);
int cmd_feed(int argc, char **argv);
int cmd_dq(int argc, char **argv);
int cmd_sar(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_citizen_idp(int argc, char **argv);
int cmd_person(int argc, char **argv);
int cmd_optout(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_analytics(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_restore(int argc, char **argv);

/* The --db option every command that opens the store takes (core/opt.h
 * spec row): a file path, sqlite:PATH, postgres://... or postgresql://...,
 * or libpq's host=/socket/dir form. */
#define CMD_OPT_DB                                                                                 \
    {                                                                                              \
        "db", "PATH",                                                                              \
            "the database (file path, sqlite:PATH, postgres://USER[:PASSWORD]@HOST:PORT/DB or "    \
            "libpq's host=/socket/dir form)"                                                       \
    }

#endif
