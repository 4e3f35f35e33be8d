/*
 * powerloss.h - the power-loss journal of the test build: which writes were
 * made durable, so that a test can throw away every write that was not, as a
 * power cut would (docs/TESTING.md "Durability").
 *
 * Model (SQLite's crash tests are the model): a write to a file is durable
 * once the file is fsynced after it; a file's directory entry (created,
 * renamed, unlinked) is durable once its directory is fsynced after the
 * change.  A SIGKILL keeps everything in the page cache, so a kill test alone
 * cannot tell the two apart; this journal can.
 *
 * When the process is started with WEFT_POWERLOG=FILE (test build only:
 * -DWEFT_FAILPOINTS), every write to a durable SQLite file (through the weft
 * VFS, sqlite_vfs.c) and every file created, renamed or unlinked in a drop
 * folder (through powerloss_rename and friends) is appended to FILE with the
 * bytes it overwrites (an undo log), and every fsync of a file or directory
 * is appended as a sync mark.  tests/e2e/lib/powercut.py reads the journal
 * after the process was killed and rewinds every file to its last synced
 * state, and every directory to its last synced entries.
 *
 * WEFT_POWERCUT=write:N or sync:N makes the process SIGKILL itself just
 * before its N-th journalled write (or fsync): the "power cut" at a chosen
 * point, reproducible for a given workload.
 *
 * In builds without WEFT_FAILPOINTS (the release binary) none of this
 * exists: the file operations below are the plain system calls and the rest
 * compiles to nothing.
 */
#ifndef WEFT_CORE_POWERLOSS_H
#define WEFT_CORE_POWERLOSS_H

#include <stdint.h>
#include <stdio.h>

#ifdef WEFT_FAILPOINTS
#include <stdbool.h>

/* Whether WEFT_POWERLOG is set (read once). */
bool powerloss_enabled(void);
/* Before writing len bytes at off of path: journal the bytes overwritten
 * and the file's size, and take the journal lock; the caller writes, then
 * calls powerloss_end().  May not return (the power cut). */
void powerloss_write_begin(const char *path, int64_t off, int64_t len);
/* Before truncating path to size: as powerloss_write_begin. */
void powerloss_truncate_begin(const char *path, int64_t size);
void powerloss_end(void);
/* Before an fsync: its sequence number (everything journalled before it is
 * covered by the fsync).  May not return (the power cut). */
uint64_t powerloss_sync_begin(void);
/* After a successful fsync of path begun at seq. */
void powerloss_synced(const char *path, uint64_t seq);
/* After a successful fsync of directory dir begun at seq. */
void powerloss_dir_synced(const char *dir, uint64_t seq);
/* path was just created (did not exist before): its entry and its content
 * are not durable until its directory and it are synced. */
void powerloss_created(const char *path);
/* rename(2) / unlink(2), journalled (what they replace or remove is kept
 * aside so that it can be put back). */
int powerloss_rename(const char *from, const char *to);
int powerloss_unlink(const char *path);
#else
#define powerloss_created(path) ((void)(path))
static inline int powerloss_rename(const char *from, const char *to)
{
    return rename(from, to);
}
#endif

/* fsync the directory that holds path (the file's entry made durable);
 * 0 or -1 with errno.  In every build. */
int powerloss_sync_parent(const char *path);
/* fsync the file at path (its content made durable, e.g. before it is
 * renamed into place); 0 or -1 with errno.  In every build. */
int powerloss_sync_file(const char *path);

#endif
