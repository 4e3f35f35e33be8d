/*
 * cmd_backup.c - `weft backup --db PATH --out FILE`: an online, consistent
 * copy of the database while `weft serve` keeps serving and receiving feeds
 * (store_backup: one read snapshot, writers never wait; the file appears
 * only when whole and checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/opt.h"
#include "feeds/accept_journal.h"
#include "store/backup.h"
#include "store/store.h"

const struct opt_spec cmd_backup_specs[] = {
    {"db", "PATH", "the database to copy (file path or sqlite:PATH); may be serving"},
    {"out", "FILE", "the backup file to write (must not exist)"},
    {"mllp-journal", "DIR",
     "the accept journal of weft serve --mllp-ack-mode auto, moved into the database before the "
     "copy (default: DB.accepts, where weft serve keeps it)"},
    {NULL, NULL, NULL},
};

int cmd_backup(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_backup_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(
                "usage: weft backup --db PATH --out FILE\n\n"
                "Write a consistent copy of the database as of one moment to FILE, online:\n"
                "a running `weft serve` keeps answering and committing feed messages while\n"
                "it runs, and the copy holds exactly what was committed when it started\n"
                "(every message acknowledged before then).  FILE must not exist; it\n"
                "appears only once whole and checked.  Put it back with `weft restore`.\n"
                "HL7 messages accepted in enhanced mode (CA) that are still in the node's\n"
                "accept journal are moved into the database first, so the copy holds them.\n",
                cmd_backup_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    const char *db = opts_get(&o, "db"), *out = opts_get(&o, "out");
    if (!db || !out || o.npos > 0) {
        fprintf(stderr, "weft backup: %s (see weft backup --help)\n",
                o.npos > 0 ? "unexpected argument"
                : !db      ? "--db PATH is required"
                           : "--out FILE is required");
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s;
    if (cmd_store_open("backup", db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* messages answered CA but not yet moved out of the accept journal are
     * moved now (each once, whoever moves it: a serving mover may be doing
     * the same), so that the copy holds every message acknowledged before
     * it started */
    const char *jd = opts_get(&o, "mllp-journal");
    char *jdir = jd ? xstrdup(jd) : accept_journal_default_dir(db);
    int64_t moved = 0;
    rc = jdir ? accept_journal_move_all(s, jdir, &moved) : 0;
    if (rc != 0)
        fprintf(stderr, "weft backup: cannot move the accept journal %s into the database: %s\n",
                jdir, store_errmsg(s));
    else if (moved)
        printf("accept journal %s: %lld accepted messages moved into the database before the "
               "copy\n",
               jdir, (long long)moved);
    free(jdir);
    if (rc != 0) {
        store_close(s);
        opts_free(&o);
        return 1;
    }
    struct store_backup_info info;
    rc = store_backup(s, out, &info);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != 0) {
        fprintf(stderr, "weft backup: %s\n", store_errmsg(s));
    } else {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("%s: backup of %s, schema version %d, %.1f MB, %.2f s\n", out, db,
               info.schema_version, (double)info.bytes / 1e6, secs);
    }
    store_close(s);
    opts_free(&o);
    return rc ? 1 : 0;
}
