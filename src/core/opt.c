/*
 * opt.c - flag and config-file parsing (see opt.h).  Small and linear: a
 * command has a dozen options at most, so lookups are plain scans.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"

static const struct opt_spec *find_spec(const struct opt_spec *specs, const char *name, size_t len)
{
    for (const struct opt_spec *s = specs; s->name; s++)
        if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

static const struct opt_spec *const *known_tables;

void opts_set_known(const struct opt_spec *const *tables)
{
    known_tables = tables;
}

/* Does any command take the option name?  (The parsing command's own table
 * is checked by the caller first.) */
static bool known_anywhere(const char *name)
{
    for (const struct opt_spec *const *t = known_tables; t && *t; t++)
        if (find_spec(*t, name, strlen(name)))
            return true;
    return false;
}

static void add_val(struct opts *o, const char *name, size_t nlen, const char *value,
                    bool from_flag)
{
    o->vals = xrealloc(o->vals, sizeof *o->vals * (size_t)(o->nvals + 1));
    o->vals[o->nvals].name = xstrndup(name, nlen);
    o->vals[o->nvals].value = xstrdup(value);
    o->vals[o->nvals].from_flag = from_flag;
    o->nvals++;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static int load_config(struct opts *o, const struct opt_spec *specs, const char *path,
                       bool required, const char *cmd)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!required)
            return WEFT_OK;
        fprintf(stderr, "weft %s: cannot open config file '%s': %s\n", cmd, path, strerror(errno));
        return WEFT_EINVAL;
    }
    o->config_path = xstrdup(path);
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "weft %s: %s:%d: expected 'key = value'\n", cmd, path, lineno);
            fclose(f);
            return WEFT_EINVAL;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        if (find_spec(specs, key, strlen(key))) {
            add_val(o, key, strlen(key), val, false);
        } else if (strcmp(key, "config") == 0 || !known_anywhere(key)) {
            fprintf(stderr,
                    "weft %s: %s:%d: unknown key '%s' (keys are the long option names of"
                    " the commands: see weft COMMAND --help)\n",
                    cmd, path, lineno, key);
            fclose(f);
            return WEFT_EINVAL;
        }
    }
    fclose(f);
    return WEFT_OK;
}

int opts_parse(struct opts *o, const struct opt_spec *specs, int argc, char **argv)
{
    const char *cmd = argc > 0 ? argv[0] : "weft";
    memset(o, 0, sizeof *o);
    const char *config = NULL;
    /* First pass: find --config so flags can override the file. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            config = argv[i] + 9;
    }
    int rc;
    if (config)
        rc = load_config(o, specs, config, true, cmd);
    else if (getenv("WEFT_CONFIG") && *getenv("WEFT_CONFIG"))
        rc = load_config(o, specs, getenv("WEFT_CONFIG"), true, cmd);
    else
        rc = load_config(o, specs, "weft.conf", false, cmd);
    if (rc)
        return rc;

    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            o->pos = xrealloc(o->pos, sizeof *o->pos * (size_t)(o->npos + 1));
            o->pos[o->npos++] = xstrdup(a);
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
            continue;
        }
        if (a[1] != '-') {
            fprintf(stderr, "weft %s: unknown option '%s' (options are long: --name)\n", cmd, a);
            return WEFT_EINVAL;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (nlen == 6 && strncmp(name, "config", 6) == 0) {
            if (!eq)
                i++;
            continue;
        }
        const struct opt_spec *sp = find_spec(specs, name, nlen);
        if (!sp) {
            fprintf(stderr, "weft %s: unknown option '--%.*s' (see weft %s --help)\n", cmd,
                    (int)nlen, name, cmd);
            return WEFT_EINVAL;
        }
        if (!sp->metavar) {
            if (eq) {
                fprintf(stderr, "weft %s: option '--%s' takes no value\n", cmd, sp->name);
                return WEFT_EINVAL;
            }
            add_val(o, name, nlen, "1", true);
            continue;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "weft %s: option '--%s' needs a value (%s)\n", cmd, sp->name,
                    sp->metavar);
            return WEFT_EINVAL;
        }
        add_val(o, name, nlen, val, true);
    }
    return WEFT_OK;
}

void opts_free(struct opts *o)
{
    for (int i = 0; i < o->nvals; i++) {
        free(o->vals[i].name);
        free(o->vals[i].value);
    }
    free(o->vals);
    for (int i = 0; i < o->npos; i++)
        free(o->pos[i]);
    free(o->pos);
    free(o->config_path);
    memset(o, 0, sizeof *o);
}

const char *opts_get(const struct opts *o, const char *name)
{
    const char *cfg = NULL, *flag = NULL;
    for (int i = 0; i < o->nvals; i++) {
        if (strcmp(o->vals[i].name, name) != 0)
            continue;
        if (o->vals[i].from_flag)
            flag = o->vals[i].value;
        else
            cfg = o->vals[i].value;
    }
    return flag ? flag : cfg;
}

const char *opts_get_or(const struct opts *o, const char *name, const char *def)
{
    const char *v = opts_get(o, name);
    return v ? v : def;
}

bool opts_flag(const struct opts *o, const char *name)
{
    const char *v = opts_get(o, name);
    if (!v)
        return false;
    return strcmp(v, "0") != 0 && strcmp(v, "false") != 0 && strcmp(v, "no") != 0;
}

int opts_get_all(const struct opts *o, const char *name, const char **out, int max)
{
    int n = 0;
    bool any_flag = false;
    for (int i = 0; i < o->nvals; i++)
        if (strcmp(o->vals[i].name, name) == 0 && o->vals[i].from_flag)
            any_flag = true;
    for (int i = 0; i < o->nvals; i++) {
        if (strcmp(o->vals[i].name, name) != 0 || o->vals[i].from_flag != any_flag)
            continue;
        if (n < max)
            out[n] = o->vals[i].value;
        n++;
    }
    return n;
}

int opts_get_long(const struct opts *o, const char *name, long def, long *out)
{
    const char *v = opts_get(o, name);
    if (!v) {
        *out = def;
        return WEFT_OK;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end) {
        fprintf(stderr, "weft: option '--%s' expects a whole number, got '%s'\n", name, v);
        return WEFT_EINVAL;
    }
    *out = x;
    return WEFT_OK;
}

void opts_print_help(const char *usage, const struct opt_spec *specs)
{
    fputs(usage, stdout);
    if (specs && specs->name)
        fputs("\nOptions:\n", stdout);
    for (const struct opt_spec *s = specs; s && s->name; s++) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "--%s", s->name);
        if (s->metavar)
            buf_addf(&b, " %s", s->metavar);
        printf("  %-28s %s\n", b.data, s->help);
        buf_release(&b);
    }
    fputs("  --config FILE                config file (default $WEFT_CONFIG or ./weft.conf)\n"
          "  --help                       show this help\n",
          stdout);
}
