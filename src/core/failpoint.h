/*
 * failpoint.h - named deliberate breakages for the test build, so that the
 * tests can be shown to catch what they claim to catch (tests/failpoints.txt,
 * docs/TESTING.md).
 *
 * FAILPOINT("name") is true when the process was started with
 * WEFT_FAILPOINTS=name[,name...] - in the sanitizer build only, which is
 * compiled with -DWEFT_FAILPOINTS.  In the release binary the macro is the
 * constant false: the names are not in the binary and the code they guard is
 * dead code the compiler removes (`make test` checks the release binary holds
 * none of the names).
 *
 * The failpoints are backend-neutral names for broken promises; a store
 * backend added later (PostgreSQL) implements store-skip-fsync as "commit
 * without waiting for the flush" (synchronous_commit=off on its sessions),
 * and mllp-ack-before-commit needs nothing from it.
 *
 * Known names (failpoint_known lists them; an unknown name in the variable
 * is reported on stderr, so a typo cannot make a mutation test pass):
 *   mllp-ack-before-commit  the MLLP writer releases a batch's ACKs before
 *                           its commit (src/feeds/mllp_server.c)
 *   store-skip-fsync        the SQLite VFS returns from xSync without
 *                           syncing (src/store/sqlite/sqlite_vfs.c)
 *   feed-status-pause       not a breakage: feed status waits a second
 *                           between its backlog and counter reads
 *                           (src/feeds/registry.c), so that a test can show
 *                           the order of the reads is right
 *   accept-journal-slow-mover  not a breakage: the enhanced-mode mover waits
 *                           0.1 s before each move (src/feeds/mllp_server.c),
 *                           so that a test's kill finds accepted messages
 *                           still in the accept journal
 *   bulk-done-pause         not a breakage: the bulk export worker waits 2 s
 *                           after keeping a job's outcome, before it takes
 *                           the job off as running (src/analytics/bulk_serve.c),
 *                           so that a test's cancel lands in that window
 *   mllp-batch-raced        not a breakage: the MLLP writer takes the first
 *                           try of every batch as having met another writer
 *                           (store_raced), so it is rolled back and done
 *                           again once (src/feeds/mllp_server.c): the retry
 *                           path, which overlapping PostgreSQL writers take
 *                           rarely, tested on both backends
 *   store-unit-raced        not a breakage: store_txn_run takes the first
 *                           attempt of every unit of work as having met
 *                           another writer, so it is rolled back and done
 *                           again once (src/store/store_txn.c: FHIR API
 *                           Bundles, contributions, objections, policies,
 *                           person commands)
 *   store-unit-raced-twice  not a breakage: store_txn_run takes both
 *                           attempts of every FHIR API Bundle (writer
 *                           "api") as raced, so each ends WEFT_EBUSY,
 *                           nothing stored: HTTP 503 with Retry-After
 */
#ifndef WEFT_CORE_FAILPOINT_H
#define WEFT_CORE_FAILPOINT_H

#include <stdbool.h>

#ifdef WEFT_FAILPOINTS
/* Whether failpoint name is switched on (WEFT_FAILPOINTS read once). */
bool failpoint_on(const char *name);
#define FAILPOINT(name) failpoint_on(name)
#else
#define FAILPOINT(name) false
#endif

#endif
