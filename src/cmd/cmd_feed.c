/*
 * cmd_feed.c - `weft feed`: register feeds and operate them.
 *
 *   add       register an HL7 v2, FHIR or CSV feed of an organisation
 *   list      the feeds and their routes
 *   status    counters, last arrival, lag and last error per feed
 *   run       one pass over the CSV drop folders
 *   messages  inbound messages of a feed (filter by outcome, time)
 *   show      one inbound message, verbatim, with its outcome (audited)
 *   replay    apply rejected messages again after a fix
 *   resubmit  process a corrected copy of a message, linked to the original
 *   merges    person merges made by A40 messages (newest first)
 *   unmerge   undo a person merge made by an A40 message
 *   disable   refuse everything a feed sends (kept, answered AR/403/failed)
 *   enable    accept it again
 *
 * Exit status: 0 done, 1 the work failed or something was rejected, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/principal.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "feeds/dropfolder.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "feeds/accept_journal.h"
#include "feeds/registry.h"
#include "identity/identity.h"
#include "store/feeds.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

const struct opt_spec cmd_feed_specs[] = {
    CMD_OPT_DB,
    {"org", "ODS", "add: the sending organisation's ODS code"},
    {"kind", "KIND", "add: hl7v2, fhir or csv"},
    {"name", "NAME", "add: the feed's name (default ORG-KIND, lower case)"},
    {"facility", "NAME", "add (hl7v2): sending facility, the first component of MSH-4"},
    {"from-address", "IP", "add (hl7v2): only accept connections from this address"},
    {"client-cert-sha256", "HEX",
     "add (hl7v2): only accept messages over MLLP/TLS from a sender presenting the client "
     "certificate with this SHA-256 fingerprint"},
    {"folder", "DIR", "add (csv): the drop folder (created, with done/ and failed/)"},
    {"feed", "NAME", "run/messages/replay: the feed"},
    {"outcome", "O", "messages/replay: pending, applied, rejected, duplicate or partial"},
    {"since", "T", "messages/replay: arrived at or after T (2026-11-24, ...T22:00, 2h, 30m, 7d)"},
    {"id", "N", "show/replay: one inbound message; unmerge: the merge id"},
    {"by", "SDS_USER_ID", "unmerge: who decides (their role must have identity-decide)"},
    {"role", "CODE", "unmerge: their job role (default: the role they last signed in with)"},
    {"limit", "N", "messages: at most N (default 100); replay: at most N (default 10000)"},
    {"oldest-first", NULL, "messages: in arrival order (default: newest first)"},
    {"before", "ID", "messages: the page of messages older than id ID (newest first)"},
    {"after", "ID", "messages: the page of messages newer than id ID (with --oldest-first)"},
    {"file", "FILE", "resubmit: the corrected message (HL7 v2, as the sender should have sent it)"},
    {"by", "WHO", "resubmit: who corrected it (default cli:$USER)"},
    {"min-age", "SECONDS", "run: only files unchanged for this long (default 2)"},
    {"json", NULL, "status/messages/show: JSON output"},
    {"mllp-journal", "DIR",
     "status: the accept journal whose messages count in the backlog (default: the one weft "
     "serve uses beside a SQLite database, DB.accepts)"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: weft feed add --db PATH --org ODS --kind hl7v2|fhir|csv [--name NAME]\n"
    "                     [--facility NAME [--from-address IP] [--client-cert-sha256 HEX]]\n"
    "                     [--folder DIR]\n"
    "       weft feed list --db PATH\n"
    "       weft feed status --db PATH [--json]\n"
    "       weft feed run --db PATH [--feed NAME] [--min-age SECONDS]\n"
    "       weft feed messages --db PATH [--feed NAME] [--outcome O] [--since T] [--json]\n"
    "                          [--limit N] [--oldest-first] [--before ID | --after ID]\n"
    "       weft feed show --db PATH --id N [--json]\n"
    "       weft feed replay --db PATH (--feed NAME [--since T] [--outcome O] | --id N)\n"
    "       weft feed resubmit --db PATH --id N --file FIXED [--by WHO]\n"
    "       weft feed merges --db PATH [--limit N]\n"
    "       weft feed unmerge --db PATH --id MERGE --by SDS_USER_ID [--role CODE]\n"
    "       weft feed disable|enable --db PATH --feed NAME\n\n"
    "Feeds are the routes by which organisations send data: HL7 v2 over MLLP\n"
    "(identified by MSH-4), FHIR bundles POSTed with the feed's token (printed\n"
    "alone on standard output by 'add'), CSV extracts dropped in a folder.\n"
    "Every inbound message is kept with its outcome; rejected ones can be read\n"
    "and replayed.  docs/FEEDS.md is the operator's guide.\n";

static int die_store(const char *sub, struct store *s)
{
    fprintf(stderr, "weft feed %s: %s\n", sub, store_errmsg(s));
    return 1;
}

static int feed_add(struct store *s, const struct opts *o)
{
    struct feed_spec spec = {
        .org = opts_get(o, "org"),
        .kind = opts_get(o, "kind"),
        .name = opts_get(o, "name"),
        .facility = opts_get(o, "facility"),
        .from_address = opts_get(o, "from-address"),
        .client_cert_sha256 = opts_get(o, "client-cert-sha256"),
        .folder = opts_get(o, "folder"),
    };
    if (!spec.org || !spec.kind) {
        fprintf(stderr, "weft feed add: --org ODS and --kind hl7v2|fhir|csv are required\n");
        return EXIT_USAGE;
    }
    char err[512] = "";
    char *token = NULL;
    int64_t id = 0;
    int rc = feed_registry_add(s, &spec, &id, &token, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "weft feed add: %s\n", err);
        return rc == WEFT_EINVAL ? EXIT_USAGE : 1;
    }
    struct store_feed f;
    if (store_feed_get(s, id, &f) != 0) {
        free(token);
        return die_store("add", s);
    }
    if (token) {
        printf("%s\n", token);
        fflush(stdout);
        fprintf(stderr,
                "feed %lld '%s' (fhir, org %s) added; the token above is shown once: give it to "
                "the sender for 'Authorization: Bearer TOKEN' on POST /fhir\n",
                (long long)id, f.name, f.org);
        free(token);
    } else if (strcmp(f.kind, "hl7v2") == 0) {
        fprintf(stderr, "feed %lld '%s' (hl7v2, org %s) added: accepts MSH-4 '%s'%s%s%s%s\n",
                (long long)id, f.name, f.org, f.facility, f.from_address ? " from " : "",
                f.from_address ? f.from_address : "",
                f.client_cert_sha256 ? " over TLS with the client certificate sha256:" : "",
                f.client_cert_sha256 ? f.client_cert_sha256 : "");
        if (!f.from_address && !f.client_cert_sha256)
            fprintf(
                stderr,
                "warning: feed '%s' accepts MSH-4 '%s' from any address: any host "
                "that reaches the MLLP port can send as that facility, merges (A40) "
                "included; give --from-address IP (or --client-cert-sha256 HEX) to restrict it\n",
                f.name, f.facility);
    } else {
        fprintf(stderr, "feed %lld '%s' (csv, org %s) added: drop folder %s\n", (long long)id,
                f.name, f.org, f.folder);
    }
    store_feed_clear(&f);
    return 0;
}

static int feed_list(struct store *s)
{
    struct store_feed *fs;
    int n;
    if (store_feed_list(s, &fs, &n) != 0)
        return die_store("list", s);
    int unbound = 0;
    printf("%-4s %-24s %-8s %-6s %-8s %s\n", "id", "name", "org", "kind", "enabled", "route");
    for (int i = 0; i < n; i++) {
        struct store_feed *f = &fs[i];
        struct buf route = BUF_INIT;
        if (f->facility)
            buf_addf(&route, "MSH-4 %s from %s%s%.16s%s", f->facility,
                     f->from_address ? f->from_address : "ANY ADDRESS (warning)",
                     f->client_cert_sha256 ? ", client certificate sha256:" : "",
                     f->client_cert_sha256 ? f->client_cert_sha256 : "",
                     f->client_cert_sha256 ? "..." : "");
        else if (f->folder)
            buf_addf(&route, "folder %s", f->folder);
        else
            buf_addf(&route, "POST /fhir with token (client %lld)", (long long)f->client_id);
        printf("%-4lld %-24s %-8s %-6s %-8s %s\n", (long long)f->id, f->name, f->org, f->kind,
               f->disabled ? "no" : "yes", route.data);
        if (f->facility && !f->from_address && !f->client_cert_sha256)
            unbound++;
        buf_release(&route);
        store_feed_clear(f);
    }
    free(fs);
    if (unbound)
        fprintf(stderr,
                "warning: %d HL7 v2 feed(s) accept messages from any address: any host "
                "that reaches the MLLP port can send as that facility, merges (A40) "
                "included.  Re-add them with --from-address IP.\n",
                unbound);
    return 0;
}

/* A duration for people: 0.8s, 12m, 5.2h, 3d, 812d. */
static void dur_text(long long ms, char *out, size_t cap)
{
    double s = (double)ms / 1000.0;
    if (s < 120)
        snprintf(out, cap, "%.1fs", s);
    else if (s < 120 * 60)
        snprintf(out, cap, "%.0fm", s / 60);
    else if (s < 48 * 3600)
        snprintf(out, cap, "%.1fh", s / 3600);
    else
        snprintf(out, cap, "%.0fd", s / 86400);
}

/* "mean/max" of the lag figure prefix ("lag" or "lag_recent") of counters c
 * into out, "-" when no event had an event time. */
static void lag_text(json_t *c, const char *prefix, char *out, size_t cap)
{
    char k1[40], k2[40], a[24], b[24];
    snprintf(k1, sizeof k1, "%s_mean_ms", prefix);
    snprintf(k2, sizeof k2, "%s_max_ms", prefix);
    json_t *m = json_object_get(c, k1);
    if (!json_is_integer(m)) {
        snprintf(out, cap, "-");
        return;
    }
    dur_text((long long)json_integer_value(m), a, sizeof a);
    dur_text((long long)json_integer_value(json_object_get(c, k2)), b, sizeof b);
    snprintf(out, cap, "%s/%s", a, b);
}

static int feed_status(struct store *s, const struct opts *o)
{
    /* messages accepted (CA) but still in this node's accept journal count
     * in the backlog: read where weft serve keeps them */
    const char *jd = opts_get(o, "mllp-journal");
    char *def = jd ? NULL : accept_journal_default_dir(opts_get(o, "db"));
    feed_registry_set_journal_dir(jd ? jd : def);
    free(def);
    json_t *st = NULL;
    int rc = feed_registry_status_all(s, time(NULL), &st);
    if (rc != 0)
        return die_store("status", s);
    if (opts_flag(o, "json")) {
        char *t = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", t);
        free(t);
        json_decref(st);
        return 0;
    }
    /* lag: "recent" = today's arrivals, events at most 7 days old on arrival
     * (is the interface keeping up?); "all" = every arrival and every event
     * (includes history sent late on purpose).  docs/FEEDS.md section 6. */
    printf("%-20s %-7s %-6s %-24s %-23s %-23s %-17s %-17s %s\n", "feed", "org", "kind",
           "last received", "today appl/rej/dup", "total appl/rej/dup", "lag recent today",
           "lag all-time", "last error");
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(st, "feeds"), i, f)
    {
        json_t *td = json_object_get(f, "today"), *tt = json_object_get(f, "total");
        const char *lr = json_string_value(json_object_get(f, "last_received"));
        const char *le = json_string_value(json_object_get(f, "last_error"));
        char a[40], b[40];
        snprintf(a, sizeof a, "%lld/%lld/%lld",
                 (long long)json_integer_value(json_object_get(td, "applied")),
                 (long long)json_integer_value(json_object_get(td, "rejected")),
                 (long long)json_integer_value(json_object_get(td, "duplicate")));
        snprintf(b, sizeof b, "%lld/%lld/%lld",
                 (long long)json_integer_value(json_object_get(tt, "applied")),
                 (long long)json_integer_value(json_object_get(tt, "rejected")),
                 (long long)json_integer_value(json_object_get(tt, "duplicate")));
        printf("%-20s %-7s %-6s %-24s %-23s %-23s ", json_string_value(json_object_get(f, "name")),
               json_string_value(json_object_get(f, "org")),
               json_string_value(json_object_get(f, "kind")), lr ? lr : "never", a, b);
        char lag[48], all[48];
        lag_text(td, "lag_recent", lag, sizeof lag);
        lag_text(tt, "lag", all, sizeof all);
        printf("%-17s %-17s", lag, all);
        long long bl = (long long)json_integer_value(json_object_get(f, "backlog"));
        char blt[48] = "";
        long long rr = (long long)json_integer_value(json_object_get(tt, "rows_rejected"));
        if (bl) /* HL7 enhanced mode: accepted (CA), not yet applied */
            snprintf(blt, sizeof blt, "  [BACKLOG %lld]", bl);
        else if (rr) /* CSV: rows rejected over every file (per file: feed messages) */
            snprintf(blt, sizeof blt, "  [%lld ROWS REJECTED]", rr);
        printf("%s%s%s%s\n",
               json_is_true(json_object_get(f, "agreement_in_force")) ? "" : "  [NO AGREEMENT]",
               blt, le ? "  " : "", le ? le : "");
    }
    json_t *un = json_object_get(json_object_get(st, "unregistered"), "total");
    long long unr = (long long)json_integer_value(json_object_get(un, "received"));
    if (unr)
        printf("unregistered senders: %lld messages refused (see weft feed messages)\n", unr);
    json_decref(st);
    return 0;
}

static int feed_run(struct store *s, const struct opts *o)
{
    long min_age;
    if (opts_get_long(o, "min-age", DROPFOLDER_MIN_AGE, &min_age) != 0 || min_age < 0)
        return EXIT_USAGE;
    struct dropfolder_stats st = {0};
    const char *only = opts_get(o, "feed");
    int rc = dropfolder_run_once(s, only, (int)min_age, &st);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft feed run: no csv feed called '%s'\n", only);
        return 1;
    }
    if (rc != 0)
        return die_store("run", s);
    printf("feeds %zu, files %zu: applied %zu, partial %zu, rejected %zu, errors %zu, ignored "
           "%zu, taken by another processor %zu\n",
           st.feeds, st.files, st.applied, st.partial, st.rejected, st.errors, st.ignored,
           st.claimed_elsewhere);
    return st.rejected || st.partial || st.errors ? 1 : 0;
}

/* --feed NAME into *id (0 when not given).  Prints and returns non-zero on error. */
static int feed_id_of(struct store *s, const char *sub, const struct opts *o, int64_t *id)
{
    *id = 0;
    const char *name = opts_get(o, "feed");
    if (!name)
        return 0;
    struct store_feed f;
    int rc = store_feed_by_name(s, name, &f);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft feed %s: no feed called '%s' (see weft feed list)\n", sub, name);
        return 1;
    }
    if (rc != 0)
        return die_store(sub, s);
    *id = f.id;
    store_feed_clear(&f);
    return 0;
}

static int filter_of(struct store *s, const char *sub, const struct opts *o,
                     struct store_inbox_filter *f, char since[32])
{
    if (feed_id_of(s, sub, o, &f->feed_id) != 0)
        return 1;
    f->outcome = opts_get(o, "outcome");
    if (f->outcome && !inbox_outcome_valid(f->outcome)) {
        fprintf(stderr,
                "weft feed %s: --outcome must be pending, applied, rejected, duplicate or "
                "partial\n",
                sub);
        return EXIT_USAGE;
    }
    const char *t = opts_get(o, "since");
    if (t) {
        if (inbox_parse_since(t, time(NULL), since) != 0) {
            fprintf(stderr,
                    "weft feed %s: --since '%s' is not a date (2026-11-24, 2026-11-24T22:00) "
                    "or a duration (30m, 2h, 7d)\n",
                    sub, t);
            return EXIT_USAGE;
        }
        f->since = since;
    }
    return 0;
}

/* Feed names by id for listing. */
static const char *feed_name(struct store_feed *fs, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (fs[i].id == id)
            return fs[i].name;
    return NULL;
}

static int feed_messages(struct store *s, const struct opts *o)
{
    struct store_inbox_filter f = {0};
    char since[32];
    int rc = filter_of(s, "messages", o, &f, since);
    if (rc != 0)
        return rc;
    long limit;
    if (opts_get_long(o, "limit", 100, &limit) != 0 || limit < 1)
        return EXIT_USAGE;
    f.limit = (int)(limit > 100000 ? 100000 : limit);
    /* newest first (the limit keeps the newest); pages by id */
    f.newest_first = !opts_flag(o, "oldest-first");
    long before = 0, after = 0;
    if (opts_get_long(o, "before", 0, &before) != 0 || opts_get_long(o, "after", 0, &after) != 0 ||
        before < 0 || after < 0) {
        fprintf(stderr, "weft feed messages: --before and --after take a message id\n");
        return EXIT_USAGE;
    }
    if ((before && !f.newest_first) || (after && f.newest_first)) {
        fprintf(stderr, "weft feed messages: --before pages newest first, --after pages with "
                        "--oldest-first\n");
        return EXIT_USAGE;
    }
    f.before_id = before;
    f.after_id = after;
    struct store_feed *fs = NULL;
    int nf = 0;
    if (store_feed_list(s, &fs, &nf) != 0)
        return die_store("messages", s);
    struct store_inbox_msg *ms = NULL;
    int n = 0;
    if (store_inbox_list(s, &f, &ms, &n) != 0)
        rc = die_store("messages", s);
    bool js = opts_flag(o, "json");
    json_t *arr = js ? json_array() : NULL;
    if (!js && rc == 0)
        printf("%-8s %-16s %-24s %-10s %-20s %-10s %s\n", "id", "feed", "arrived", "outcome",
               "control id", "type", "error");
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *fname = feed_name(fs, nf, ms[i].feed_id);
        if (js) {
            json_array_append_new(arr, inbox_msg_json(&ms[i], fname));
            continue;
        }
        printf("%-8lld %-16s %-24s %-10s %-20s %-10s %s\n", (long long)ms[i].id,
               fname ? fname : "(unregistered)", ms[i].arrived, ms[i].outcome,
               ms[i].control_id ? ms[i].control_id : "-", ms[i].msg_type ? ms[i].msg_type : "-",
               ms[i].error ? ms[i].error : "");
    }
    if (js && rc == 0) {
        char *t = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
    }
    if (rc == 0 && n == f.limit) /* a full page: say how to get the next */
        fprintf(stderr, "weft feed messages: %d shown, there may be more: add %s %lld\n", n,
                f.newest_first ? "--before" : "--after", (long long)ms[n - 1].id);
    json_decref(arr);
    store_inbox_msgs_free(ms, n);
    for (int i = 0; i < nf; i++)
        store_feed_clear(&fs[i]);
    free(fs);
    return rc;
}

/* `weft feed resubmit --id N --file FIXED`: the corrected copy is a new inbox
 * message linked to N (which is kept as it was), processed as a live
 * arrival, and the correction is audited (who, which message, the new one
 * and its outcome; never the content). */
static int feed_resubmit(struct store *s, const struct opts *o)
{
    long id;
    const char *file = opts_get(o, "file");
    if (opts_get_long(o, "id", 0, &id) != 0 || id <= 0 || !file) {
        fprintf(stderr, "weft feed resubmit: --id N (the message corrected) and --file FIXED "
                        "(the corrected copy) are required\n");
        return EXIT_USAGE;
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "weft feed resubmit: cannot read '%s': %s\n", file, strerror(errno));
        return 1;
    }
    struct buf body = BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && body.len < (16u << 20))
        buf_add(&body, chunk, n);
    bool rerr = ferror(f) != 0;
    fclose(f);
    if (rerr || body.len == 0 || body.len >= (16u << 20)) {
        fprintf(stderr, "weft feed resubmit: '%s' is %s\n", file,
                rerr       ? "unreadable"
                : body.len ? "larger than 16 MiB"
                           : "empty");
        buf_release(&body);
        return 1;
    }
    /* an editor's line ends: HL7 segments end in CR */
    for (size_t i = 0; i < body.len; i++)
        if (body.data[i] == '\n')
            body.data[i] = '\r';
    struct buf cleaned = BUF_INIT;
    for (size_t i = 0; i < body.len; i++)
        if (!(body.data[i] == '\r' && i > 0 && body.data[i - 1] == '\r'))
            buf_addc(&cleaned, body.data[i]);
    buf_release(&body);
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    if (opts_get(o, "by"))
        buf_adds(&by, opts_get(o, "by"));
    else
        buf_addf(&by, "cli:%s", user && *user ? user : "unknown");
    struct ingest *ig = ingest_new(s);
    struct ingest_result r;
    ingest_result_init(&r);
    int rc = ingest_resubmit(ig, id, cleaned.data, cleaned.len, by.data, &r);
    int status = 0;
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft feed resubmit: no inbound message %ld\n", id);
        status = 1;
    } else if (rc == WEFT_EUNSUPPORTED) {
        fprintf(stderr,
                "weft feed resubmit: message %ld is not HL7 v2: send a corrected CSV file "
                "to the feed's folder, or a FHIR bundle again\n",
                id);
        status = 1;
    } else if (rc != 0) {
        fprintf(stderr, "weft feed resubmit: %s\n", store_errmsg(s));
        status = 1;
    } else {
        struct buf what = BUF_INIT, reason = BUF_INIT;
        buf_addf(&what, "inbox message %ld resubmitted as %lld", id, (long long)r.inbox_id);
        buf_addf(&reason, "weft feed resubmit: corrected copy %s", r.outcome);
        struct audit_event ev = {.action = AUDIT_ADMIN,
                                 .outcome = AUDIT_OK,
                                 .client = by.data,
                                 .what = what.data,
                                 .count = 1,
                                 .reason = reason.data};
        if (audit_append(s, &ev, NULL) != 0) {
            fprintf(stderr, "weft feed resubmit: the correction could not be audited: %s\n",
                    store_errmsg(s));
            status = 1;
        }
        buf_release(&what);
        buf_release(&reason);
        printf("message %ld resubmitted as %lld: %s%s%s\n", id, (long long)r.inbox_id, r.outcome,
               r.reason[0] ? ": " : "", r.reason);
        if (strcmp(r.outcome, INBOX_APPLIED) != 0 && strcmp(r.outcome, INBOX_DUPLICATE) != 0)
            status = 1;
    }
    ingest_result_release(&r);
    ingest_free(ig);
    buf_release(&by);
    buf_release(&cleaned);
    return status;
}

static int feed_show(struct store *s, const struct opts *o)
{
    long id;
    if (opts_get_long(o, "id", 0, &id) != 0 || id <= 0) {
        fprintf(stderr, "weft feed show: --id N is required (see weft feed messages)\n");
        return EXIT_USAGE;
    }
    struct store_inbox_msg m;
    int rc = store_inbox_get(s, id, true, &m);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft feed show: no inbound message %ld\n", id);
        return 1;
    }
    if (rc != 0)
        return die_store("show", s);
    /* The body is patient data of any category, not yet decided by the
     * authorisation point: reading it is audited as GET
     * /admin/feeds/messages/{id} audits it, before anything is printed (no
     * unaudited read).  The operator is the command-line user. */
    const char *user = getenv("USER");
    struct buf by = BUF_INIT, what = BUF_INIT;
    buf_addf(&by, "cli:%s", user && *user ? user : "unknown");
    buf_addf(&what, "inbox message %lld", (long long)m.id);
    struct audit_event ev = {.action = AUDIT_READ,
                             .outcome = AUDIT_OK,
                             .client = by.data,
                             .what = what.data,
                             .count = 1,
                             .reason = "weft feed show: an inbound message with its body"};
    rc = audit_append(s, &ev, NULL);
    buf_release(&by);
    buf_release(&what);
    if (rc != 0) {
        store_inbox_msg_clear(&m);
        fprintf(stderr, "weft feed show: the read could not be audited, nothing shown: %s\n",
                store_errmsg(s));
        return 1;
    }
    struct store_feed f = {0};
    bool hf = m.feed_id && store_feed_get(s, m.feed_id, &f) == 0;
    if (opts_flag(o, "json")) {
        json_t *j = inbox_msg_json(&m, hf ? f.name : NULL);
        char *t = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
        json_decref(j);
    } else {
        printf("id:          %lld\nfeed:        %s\nkind:        %s\narrived:     %s\n"
               "sender:      %s\npeer:        %s\ncontrol id:  %s\ntype:        %s\n"
               "event time:  %s\noutcome:     %s\nerror:       %s\nupdated:     %s\n"
               "attempts:    %d\nresources:   %lld\nbytes:       %zu\n\n",
               (long long)m.id, hf ? f.name : "(unregistered)", m.kind, m.arrived,
               m.sender ? m.sender : "-", m.peer ? m.peer : "-", m.control_id ? m.control_id : "-",
               m.msg_type ? m.msg_type : "-", m.event_time ? m.event_time : "-", m.outcome,
               m.error ? m.error : "-", m.updated, m.attempts, (long long)m.resources, m.body_len);
        /* verbatim; HL7 segment ends (CR) shown as line ends */
        for (size_t i = 0; i < m.body_len; i++)
            putchar(m.body[i] == '\r' && (i + 1 == m.body_len || m.body[i + 1] != '\n')
                        ? '\n'
                        : m.body[i]);
        if (m.body_len && m.body[m.body_len - 1] != '\n' && m.body[m.body_len - 1] != '\r')
            putchar('\n');
    }
    store_feed_clear(&f);
    store_inbox_msg_clear(&m);
    return 0;
}

static int feed_replay(struct store *s, const struct opts *o)
{
    long one = 0, limit;
    if (opts_get_long(o, "id", 0, &one) != 0 || opts_get_long(o, "limit", 10000, &limit) != 0)
        return EXIT_USAGE;
    struct store_inbox_filter f = {0};
    char since[32];
    int rc = filter_of(s, "replay", o, &f, since);
    if (rc != 0)
        return rc;
    if (!one && !f.feed_id) {
        fprintf(stderr, "weft feed replay: --feed NAME or --id N is required\n");
        return EXIT_USAGE;
    }
    if (one) {
        f.only_id = one;
        f.outcome = NULL;
        f.feed_id = 0;
    } else if (!f.outcome) {
        f.outcome = INBOX_REJECTED;
    }
    f.limit = 1000;
    struct ingest *ig = ingest_new(s);
    long done = 0, applied = 0, still = 0, failed = 0;
    bool more = true;
    while (more && done < limit) {
        struct store_inbox_msg *ms = NULL;
        int n = 0;
        if (store_inbox_list(s, &f, &ms, &n) != 0) {
            rc = die_store("replay", s);
            break;
        }
        more = n == f.limit && !one;
        for (int i = 0; i < n && done < limit; i++) {
            f.after_id = ms[i].id;
            struct ingest_result r;
            ingest_result_init(&r);
            int irc = ingest_replay(ig, ms[i].id, &r);
            done++;
            if (irc != 0) {
                failed++;
                fprintf(stderr, "message %lld: not replayed: %s (%s)\n", (long long)ms[i].id,
                        weft_strerror(irc), store_errmsg(s));
            } else if (strcmp(r.outcome, INBOX_APPLIED) == 0 ||
                       strcmp(r.outcome, INBOX_DUPLICATE) == 0) {
                applied++;
                printf("message %lld: %s\n", (long long)ms[i].id, r.outcome);
            } else {
                still++;
                printf("message %lld: %s: %s\n", (long long)ms[i].id, r.outcome, r.reason);
            }
            ingest_result_release(&r);
        }
        store_inbox_msgs_free(ms, n);
    }
    ingest_free(ig);
    if (one && done == 0) {
        fprintf(stderr, "weft feed replay: no inbound message %ld\n", one);
        return 1;
    }
    printf("replayed %ld: applied %ld, still rejected %ld, errors %ld\n", done, applied, still,
           failed);
    return rc ? rc : (still || failed) ? 1 : 0;
}

static int feed_enable(struct store *s, const struct opts *o, bool disable)
{
    const char *sub = disable ? "disable" : "enable";
    int64_t id;
    int rc = feed_id_of(s, sub, o, &id);
    if (rc != 0)
        return rc;
    if (!id) {
        fprintf(stderr, "weft feed %s: --feed NAME is required\n", sub);
        return EXIT_USAGE;
    }
    if (store_feed_set_disabled(s, id, disable) != 0)
        return die_store(sub, s);
    fprintf(stderr, "feed '%s' %s\n", opts_get(o, "feed"), disable ? "disabled" : "enabled");
    return 0;
}

static int feed_merges(struct store *s, const struct opts *o)
{
    long limit;
    if (opts_get_long(o, "limit", 100, &limit) != 0 || limit < 1)
        return EXIT_USAGE;
    struct store_merge *ms;
    int n;
    if (store_person_merge_list(s, (int)limit, &ms, &n) != 0)
        return die_store("merges", s);
    printf("%-6s %-24s %-32s %-32s %-8s %-8s %s\n", "merge", "created", "survivor (person)",
           "retired (person)", "org", "inbox", "undone");
    for (int i = 0; i < n; i++)
        printf("%-6lld %-24s %-32s %-32s %-8s %-8lld %s\n", (long long)ms[i].id, ms[i].created,
               ms[i].survivor, ms[i].retired, ms[i].source_org ? ms[i].source_org : "-",
               (long long)ms[i].inbox_id, ms[i].undone ? ms[i].undone : "-");
    store_merges_free(ms, n);
    return 0;
}

static int feed_unmerge(struct store *s, const struct opts *o)
{
    long id;
    if (opts_get_long(o, "id", 0, &id) != 0 || id <= 0) {
        fprintf(stderr, "weft feed unmerge: --id MERGE is required (see weft feed merges)\n");
        return EXIT_USAGE;
    }
    /* the same undo as `weft person unmerge`: by a role the policy allows
     * (identity-decide), recorded (who), audited, and the two kept apart from
     * automatic matching afterwards */
    struct principal who;
    char *role = NULL, *uorg = NULL;
    int refused = cmd_identity_decider(s, "feed unmerge", o, &who, &role, &uorg);
    int rc = refused ? 0 : identity_unmerge(s, id, who.user_id, "weft feed unmerge");
    free(role);
    free(uorg);
    if (refused)
        return refused;
    if (rc != 0) {
        fprintf(stderr, "weft feed unmerge: %s\n", identity_errmsg(s));
        return 1;
    }
    fprintf(stderr, "merge %ld undone\n", id);
    return 0;
}

int cmd_feed(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(&o, cmd_feed_specs, argc, argv);
    if (rc != 0 || o.help) {
        if (o.help)
            opts_print_help(usage, cmd_feed_specs);
        opts_free(&o);
        return rc ? EXIT_USAGE : 0;
    }
    static const char *const subs[] = {"add",      "list",   "status",  "run",
                                       "messages", "show",   "replay",  "resubmit",
                                       "unmerge",  "merges", "disable", "enable"};
    const char *sub = o.npos > 0 ? o.pos[0] : NULL;
    bool known = false;
    for (size_t i = 0; sub && i < sizeof subs / sizeof subs[0]; i++)
        known |= strcmp(sub, subs[i]) == 0;
    if (!known || o.npos > 1) {
        fprintf(stderr, "weft feed: %s%s%s (see weft feed --help)\n",
                sub ? "unknown action '" : "an action is needed", sub ? sub : "", sub ? "'" : "");
        opts_free(&o);
        return EXIT_USAGE;
    }
    const char *db = opts_get(&o, "db");
    if (!db) {
        fprintf(stderr, "weft feed %s: --db PATH is required\n", sub);
        opts_free(&o);
        return EXIT_USAGE;
    }
    struct store *s;
    char what[64];
    snprintf(what, sizeof what, "feed %s", sub);
    if (cmd_store_open_current(what, db, &s) != 0) {
        opts_free(&o);
        return 1;
    }
    if (strcmp(sub, "add") == 0)
        rc = feed_add(s, &o);
    else if (strcmp(sub, "list") == 0)
        rc = feed_list(s);
    else if (strcmp(sub, "status") == 0)
        rc = feed_status(s, &o);
    else if (strcmp(sub, "run") == 0)
        rc = feed_run(s, &o);
    else if (strcmp(sub, "messages") == 0)
        rc = feed_messages(s, &o);
    else if (strcmp(sub, "show") == 0)
        rc = feed_show(s, &o);
    else if (strcmp(sub, "replay") == 0)
        rc = feed_replay(s, &o);
    else if (strcmp(sub, "resubmit") == 0)
        rc = feed_resubmit(s, &o);
    else if (strcmp(sub, "unmerge") == 0)
        rc = feed_unmerge(s, &o);
    else if (strcmp(sub, "merges") == 0)
        rc = feed_merges(s, &o);
    else
        rc = feed_enable(s, &o, strcmp(sub, "disable") == 0);
    store_close(s);
    opts_free(&o);
    return rc;
}
