/*
 * bench_store_floor.c - the floor under the MLLP feed's throughput: only the
 * SQL statements the record needs for the benchmark's message mix, straight
 * through SQLite on Weft's own schema, nothing else (no parsing, mapping,
 * JSON, sockets or threads).  No feed can apply messages faster than this
 * through this store on this machine.
 *
 * usage: bench_store_floor DB MESSAGES BATCH MODE
 *   DB       a database made by `weft init` (its schema is used as is)
 *   BATCH    messages per durable commit (WAL, synchronous=FULL)
 *   MODE     "start": the statements the MLLP writer ran per message at the
 *            start of the 2026-11-25 third session (inbox row, savepoint,
 *            control-id claim, 3 person lookups, current-version lookups,
 *            inserts, release, outcome update);
 *            "now": the writer's statements after it (inbox row written once
 *            with its outcome, savepoint, claim, the Patient's digest and
 *            current version, lookup + insert per new resource, release; the
 *            person links come from the handle's cache);
 *            "lean": the least a store of this schema can do (one inbox row
 *            with its outcome, the claim, one lookup per resource and one
 *            insert per new one; no savepoint)
 * Mix (as bench_feeds_send): even ADT^A01 (Patient unchanged + a new
 * Encounter) and ORU^R01 (Patient unchanged + a new DiagnosticReport and 2
 * Observations) for 10,000 patients who are already in the record.
 * Prints one line: messages, seconds, msgs_per_s, us_per_msg.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define PATIENTS 10000

static sqlite3 *db;

static void die(const char *what)
{
    fprintf(stderr, "bench_store_floor: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static sqlite3_stmt *prep(const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        die(sql);
    return st;
}

static void exec(const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(sql);
}

static void done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        die("step");
    sqlite3_reset(st);
}

/* A 32-hex id and its 64-bit key, like the store's derived ids. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static void make_id(char out[33], int64_t *key)
{
    uint64_t a = next(), b = next();
    snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, a, b);
    *key = (int64_t)(a & 0x7fffffffffffffffull);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_store_floor DB MESSAGES BATCH start|now|lean\n");
        return 2;
    }
    long msgs = atol(argv[2]), batch = atol(argv[3]);
    const char *mode = argv[4];
    int lean = strcmp(mode, "lean") == 0, start = strcmp(mode, "start") == 0;
    if (!lean && !start && strcmp(mode, "now") != 0) {
        fprintf(stderr, "bench_store_floor: MODE is start, now or lean\n");
        return 2;
    }
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        die("open");
    exec(getenv("FLOOR_PRAGMA") ? getenv("FLOOR_PRAGMA") : "PRAGMA cache_size=-65536");
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
         " PRAGMA wal_autocheckpoint=0");

    if (start) /* the claims table as it was then (before feeds-3) */
        exec("DROP TABLE inbox_key; CREATE TABLE inbox_key (feed_id INTEGER NOT NULL,"
             " control_id TEXT NOT NULL, inbox_id INTEGER NOT NULL,"
             " PRIMARY KEY (feed_id, control_id))");

    sqlite3_stmt *ins_res =
        prep("INSERT INTO resource (id, type, version, deleted, person_id, category, source_org,"
             " source_id, feed, effective, code, status, last_updated, hash, json, idk)"
             " VALUES (?1,?2,1,0,?3,?4,'RVV',?5,'rvv-hl7v2',?6,?7,'final','2026-11-25T03:00:00Z',"
             " randomblob(16),?8,?9)");
    sqlite3_stmt *cur = prep("SELECT seq, version, deleted, hash, type, person_id FROM resource"
                             " WHERE idk = ? AND id = ? ORDER BY version DESC LIMIT 1");
    sqlite3_stmt *ins_person = prep("INSERT INTO person (id, nhs, created) VALUES (?, ?, 'x')");
    sqlite3_stmt *ins_local = prep("INSERT INTO person_local (org, system, value, person_id,"
                                   " created) VALUES ('RVV', ?, ?, ?, 'x')");
    sqlite3_stmt *by_nhs = prep("SELECT id FROM person WHERE nhs = ?");
    sqlite3_stmt *by_local =
        prep("SELECT person_id FROM person_local WHERE org = 'RVV' AND system = ? AND value = ?");
    sqlite3_stmt *ins_inbox =
        prep("INSERT INTO inbox (feed_id, kind, arrived, sender, peer, control_id, msg_type,"
             " event_time, outcome, error, updated, attempts, resources, body)"
             " VALUES (1, 'hl7v2', '2026-11-25T03:00:00Z', 'BENCHPAS', '127.0.0.1', ?1,"
             " 'ADT^A01', '2026-11-24T10:15:00Z', ?2, NULL, 'x', 0, 0, ?3)");
    sqlite3_stmt *claim = prep("INSERT INTO inbox_key (feed_id, control_id, inbox_id)"
                               " VALUES (1, ?, ?) ON CONFLICT DO NOTHING");
    sqlite3_stmt *outcome = prep("UPDATE inbox SET outcome = 'applied', updated = 'y',"
                                 " resources = 2 WHERE id = ?");
    sqlite3_stmt *sp = prep("SAVEPOINT m"), *rel = prep("RELEASE m");

    /* the patients, already in the record */
    static char pat_id[PATIENTS][33], person[PATIENTS][33];
    static int64_t pat_key[PATIENTS];
    char json[1024], body[400], ctl[64], mr[32], nhs[16], rid[33];
    int64_t key;
    exec("BEGIN");
    for (int p = 0; p < PATIENTS; p++) {
        make_id(pat_id[p], &pat_key[p]);
        make_id(person[p], &key);
        snprintf(nhs, sizeof nhs, "999%07d", p);
        snprintf(mr, sizeof mr, "H%06d", p);
        sqlite3_bind_text(ins_person, 1, person[p], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_person, 2, nhs, -1, SQLITE_STATIC);
        done(ins_person);
        sqlite3_bind_text(ins_local, 1, "urn:weft:source-id:Patient", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_local, 2, mr, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_local, 3, person[p], -1, SQLITE_STATIC);
        done(ins_local);
        sqlite3_bind_text(ins_local, 1, "urn:weft:id:RVV:mr", -1, SQLITE_STATIC);
        done(ins_local);
        int n = snprintf(json, sizeof json,
                         "{\"birthDate\":\"1960-01-01\",\"gender\":\"female\",\"id\":\"%s\","
                         "\"identifier\":[{\"system\":\"urn:weft:id:RVV:mr\",\"value\":\"%s\"},"
                         "{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"%s\"}],"
                         "\"name\":[{\"family\":\"Bench\",\"given\":[\"Pat%d\"]}],"
                         "\"resourceType\":\"Patient\"}",
                         pat_id[p], mr, nhs, p);
        sqlite3_bind_text(ins_res, 1, pat_id[p], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_res, 2, "Patient", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_res, 3, person[p], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_res, 4, "demographics", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_res, 5, mr, -1, SQLITE_STATIC);
        sqlite3_bind_null(ins_res, 6);
        sqlite3_bind_null(ins_res, 7);
        sqlite3_bind_text(ins_res, 8, json, n, SQLITE_STATIC);
        sqlite3_bind_int64(ins_res, 9, pat_key[p]);
        done(ins_res);
    }
    exec("COMMIT");
    exec("PRAGMA wal_checkpoint(TRUNCATE)");

    double t0 = now_s(), tstep = t0;
    for (long m = 0; m < msgs; m++) {
        if (m % batch == 0)
            exec("BEGIN IMMEDIATE");
        int p = (int)(next() % PATIENTS);
        int oru = (int)(m & 1);
        snprintf(ctl, sizeof ctl, "RUN-%ld", m);
        int bl = snprintf(body, sizeof body,
                          "MSH|^~\\&|PAS|BENCHPAS|WEFT|WEFT|20261124101500||ADT^A01^ADT_A01|%s|P|"
                          "2.5\rEVN|A01|20261124101500\rPID|1||H%06d^^^BENCHPAS^MR~999%07d^^^NHS^"
                          "NH||Bench^Pat%d||19600101|F|||1 Road^^Town^^CT1 1AA\rPV1|1|I|WARD1^BED1"
                          "||||||||||||||||V%ld|||||||||||||||||||||||||20261124101500\r",
                          ctl, p, p, p, m);
        sqlite3_bind_text(ins_inbox, 1, ctl, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_inbox, 2, start ? "pending" : "applied", -1, SQLITE_STATIC);
        sqlite3_bind_blob(ins_inbox, 3, body, bl, SQLITE_STATIC);
        done(ins_inbox);
        int64_t inbox_id = sqlite3_last_insert_rowid(db);
        if (!lean)
            done(sp);
        sqlite3_bind_text(claim, 1, ctl, -1, SQLITE_STATIC);
        sqlite3_bind_int64(claim, 2, inbox_id);
        done(claim);
        if (start) { /* identity_resolve_patient: NHS number, then the two local identifiers */
            snprintf(nhs, sizeof nhs, "999%07d", p);
            snprintf(mr, sizeof mr, "H%06d", p);
            sqlite3_bind_text(by_nhs, 1, nhs, -1, SQLITE_STATIC);
            done(by_nhs);
            sqlite3_bind_text(by_local, 1, "urn:weft:source-id:Patient", -1, SQLITE_STATIC);
            sqlite3_bind_text(by_local, 2, mr, -1, SQLITE_STATIC);
            done(by_local);
            sqlite3_bind_text(by_local, 1, "urn:weft:id:RVV:mr", -1, SQLITE_STATIC);
            done(by_local);
        }
        /* the Patient: unchanged (now: its digest looked at first, then the
         * put's own current-version lookup) */
        for (int k = 0; k < (!lean && !start ? 2 : 1); k++) {
            sqlite3_bind_int64(cur, 1, pat_key[p]);
            sqlite3_bind_text(cur, 2, pat_id[p], -1, SQLITE_STATIC);
            done(cur);
        }
        int nres = oru ? 3 : 1;
        for (int r = 0; r < nres; r++) {
            make_id(rid, &key);
            sqlite3_bind_int64(cur, 1, key);
            sqlite3_bind_text(cur, 2, rid, -1, SQLITE_STATIC);
            done(cur); /* a new item: not found */
            const char *type = !oru ? "Encounter" : r == 0 ? "DiagnosticReport" : "Observation";
            int n = snprintf(
                json, sizeof json,
                "{\"code\":{\"coding\":[{\"code\":\"2951-2\",\"display\":\"Sodium\",\"system\":"
                "\"http://loinc.org\"}]},\"effectiveDateTime\":\"2026-11-24T09:00:00Z\","
                "\"id\":\"%s\",\"meta\":{\"source\":\"urn:weft:feed:RVV:rvv-hl7v2\",\"tag\":[{"
                "\"code\":\"RVV\",\"system\":\"https://fhir.nhs.uk/Id/ods-organization-code\"},{"
                "\"code\":\"%s\",\"system\":\"urn:weft:source-id\"}]},\"referenceRange\":[{"
                "\"text\":\"133-146\"}],\"resourceType\":\"%s\",\"status\":\"final\","
                "\"subject\":{\"reference\":\"Patient/%s\"},\"valueQuantity\":{\"code\":"
                "\"mmol/L\",\"system\":\"http://unitsofmeasure.org\",\"unit\":\"mmol/L\","
                "\"value\":%ld}}",
                rid, ctl, type, pat_id[p], 135 + m % 10);
            sqlite3_bind_text(ins_res, 1, rid, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins_res, 2, type, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins_res, 3, person[p], -1, SQLITE_STATIC);
            sqlite3_bind_text(ins_res, 4, oru ? "results" : "encounters", -1, SQLITE_STATIC);
            sqlite3_bind_text(ins_res, 5, ctl, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins_res, 6, "2026-11-24T09:00:00", -1, SQLITE_STATIC);
            sqlite3_bind_text(ins_res, 7, "http://loinc.org|2951-2", -1, SQLITE_STATIC);
            sqlite3_bind_text(ins_res, 8, json, n, SQLITE_STATIC);
            sqlite3_bind_int64(ins_res, 9, key);
            done(ins_res);
        }
        if (!lean)
            done(rel);
        if (start) {
            sqlite3_bind_int64(outcome, 1, inbox_id);
            done(outcome);
        }
        if ((m + 1) % batch == 0 || m + 1 == msgs)
            exec("COMMIT");
        if (getenv("FLOOR_STEPS") && (m + 1) % 40000 == 0) {
            double t = now_s();
            printf("  messages %ld..%ld: %.0f msgs/s\n", m + 1 - 40000, m + 1, 40000 / (t - tstep));
            tstep = t;
        }
    }
    double secs = now_s() - t0;
    printf("mode %s messages %ld batch %ld seconds %.3f msgs_per_s %.0f us_per_msg %.1f\n", mode,
           msgs, batch, secs, (double)msgs / secs, secs * 1e6 / (double)msgs);
    sqlite3_finalize(ins_res);
    sqlite3_finalize(cur);
    sqlite3_finalize(ins_person);
    sqlite3_finalize(ins_local);
    sqlite3_finalize(by_nhs);
    sqlite3_finalize(by_local);
    sqlite3_finalize(ins_inbox);
    sqlite3_finalize(claim);
    sqlite3_finalize(outcome);
    sqlite3_finalize(sp);
    sqlite3_finalize(rel);
    sqlite3_close(db);
    return 0;
}
