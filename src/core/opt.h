/*
 * opt.h - command-line options and the config file, in one place.
 *
 * Every option a command accepts is described by a struct opt_spec.  Values
 * come from, in increasing priority: the config file, then flags.  The config
 * file is the one named by --config FILE (a global option valid for every
 * command), else $WEFT_CONFIG, else ./weft.conf when it exists.  Its format is
 * "key = value" per line, '#' starts a comment, keys are the long option names
 * without the dashes (e.g. "db = /var/lib/weft/weft.db").  Keys a command does
 * not take are skipped (the file serves every command), but a key that no
 * command takes (see opts_set_known) is an error naming the file and line,
 * as is a line that is not "key = value".
 *
 * struct opts owns copies of all strings; opts_free() releases them.
 */
#ifndef WEFT_CORE_OPT_H
#define WEFT_CORE_OPT_H

#include <stdbool.h>

struct opt_spec {
    const char *name;    /* long name without dashes, e.g. "db" */
    const char *metavar; /* NULL for a boolean flag, else e.g. "PATH" */
    const char *help;    /* one line */
};

struct opts {
    int nvals;
    struct opt_val {
        char *name;
        char *value; /* "1" for boolean flags */
        bool from_flag;
    } * vals;
    int npos;
    char **pos;        /* positional arguments */
    char *config_path; /* config file used, or NULL */
    bool help;         /* --help / -h was given */
};

/*
 * Declare every command's option table (a NULL-terminated array of tables
 * that lives as long as the process), so that opts_parse() can tell a config
 * key meant for another command from a misspelt one.  Until it is called,
 * only the parsing command's own table counts as known.
 */
void opts_set_known(const struct opt_spec *const *tables);

/*
 * Parse argv (argv[0] is the command name) against specs (terminated by an
 * entry with name NULL) and the config file.  On error prints "weft CMD: ..."
 * naming the bad option (for the config file: "FILE:LINE:") to stderr and returns WEFT_EINVAL.  The
 * caller frees o with opts_free() in every case.
 */
int opts_parse(struct opts *o, const struct opt_spec *specs, int argc, char **argv);
void opts_free(struct opts *o);

/* The value of option name (last flag wins over config), or NULL.  The
 * string lives as long as o. */
const char *opts_get(const struct opts *o, const char *name);
/* Like opts_get but def when unset. */
const char *opts_get_or(const struct opts *o, const char *name, const char *def);
bool opts_flag(const struct opts *o, const char *name);
/* Every value given for a repeatable option, in order; returns the count and
 * fills out[] up to max. */
int opts_get_all(const struct opts *o, const char *name, const char **out, int max);
/* Parse an integer option; def when unset; WEFT_EINVAL on garbage (message
 * printed). */
int opts_get_long(const struct opts *o, const char *name, long def, long *out);

/* Print "usage" then the option table to stdout. */
void opts_print_help(const char *usage, const struct opt_spec *specs);

#endif
