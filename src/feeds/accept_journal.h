/*
 * accept_journal.h - the accept journal of HL7 v2 enhanced acknowledgement
 * mode: an append-only file of accepted messages on the node's local disk,
 * written with group commit, that is the durable store of an accepted
 * message until a mover has transferred it into the inbox table.
 *
 * Why: accepting a message (the CA of MSH-15) needs it durable, nothing
 * more.  An inbox row costs an indexed insert in the record's store and a
 * share of its write lock, which the applier needs too; a journal append
 * costs a memcpy and a share of one fdatasync.  The journal writer (the MLLP
 * server's journal thread) appends every message waiting, from every
 * connection, with one fdatasync per batch, and the connection threads send
 * the CAs of that batch only after it returned.  A mover reads the journal
 * behind it and inserts its records into the inbox in large transactions,
 * keyed by (journal id, sequence number), so a record moved twice (a crash
 * between the move's commit and the prune of its segment, or a backup that
 * moved it first) is stored once.
 *
 * On disk, in one directory (the node's journal):
 *   id                 the journal's id: 32 hex digits, made when the
 *                      directory is first used (the key of its records in
 *                      the inbox, beside their sequence numbers)
 *   lock               flock(2)ed by the one writer (weft serve)
 *   seg-SEQ.waj        segments; SEQ (20 digits) is the sequence number of
 *                      the first record written to it.  The segment with the
 *                      highest SEQ is the active one; a segment is removed
 *                      once every record in it is in the inbox, the active
 *                      one never (it carries the sequence numbers on).
 * A record: a 24-byte header (magic "WAJ1", payload length, sequence
 * number, CRC-32C of the sequence number and the payload, 4 zero bytes),
 * then the payload: feed id (8 bytes), the lengths of arrival time, peer,
 * sending facility, control id and message type (2 bytes each, then 2
 * zero), those five strings, and the message's bytes.  Host byte order: a
 * journal is read by the node that wrote it.
 *
 * A crash mid-write leaves at most a torn last record (short, or failing its
 * checksum).  Its batch's fdatasync never returned, so it was never
 * acknowledged: accept_journal_open drops it (truncates the file back to the
 * last whole record) and logs how many bytes it dropped.  A write or
 * fdatasync that fails is undone the same way and its messages are answered
 * CE; its sequence numbers are not used again.
 */
#ifndef WEFT_FEEDS_ACCEPT_JOURNAL_H
#define WEFT_FEEDS_ACCEPT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/* A journal record.  Strings are NUL-terminated; for a record read by a
 * cursor they point into the cursor's buffer and live until its next call. */
struct accept_rec {
    uint64_t seq; /* set by accept_journal_append, read by the cursor */
    int64_t feed_id;
    const char *arrived, *peer, *facility, *control, *mtype;
    const char *body;
    size_t body_len;
};

/* Segments are started afresh past this size (at a batch boundary). */
#define ACCEPT_JOURNAL_SEGMENT_BYTES (64u << 20)

/* The writer's handle (one per directory: flock'd). */
struct accept_journal;

/* Open (creating it if need be) the journal in dir for appending: lock it,
 * read or make its id, drop a torn last record (reported in *dropped_bytes,
 * may be NULL) and continue the sequence numbers at the larger of the
 * files' next one and min_next_seq (the inbox's highest moved sequence
 * number of this journal + 1, which keeps the numbers going when every
 * segment was removed).  On failure a negative code and a malloc'd message
 * in *errmsg (caller frees). */
int accept_journal_open(struct accept_journal **out, const char *dir, uint64_t min_next_seq,
                        int64_t *dropped_bytes, char **errmsg);
/* The 32 hex digits of the journal's id (lives as long as j). */
const char *accept_journal_id(const struct accept_journal *j);
/* The sequence number the next record will get. */
uint64_t accept_journal_next_seq(const struct accept_journal *j);
/* Append n records (their seq is set: consecutive), then fdatasync.  0: all
 * of them are durable.  Otherwise none of them is kept (the file is cut back
 * to where the batch began; if even that fails, the journal refuses every
 * later append: WEFT_EIO) and their sequence numbers are skipped. */
int accept_journal_append(struct accept_journal *j, struct accept_rec *recs, size_t n);
/* Close and unlock.  NULL is fine. */
void accept_journal_close(struct accept_journal *j);

/* Read the id of the journal in dir into out (33 bytes).  WEFT_ENOTFOUND when
 * dir holds no journal. */
int accept_journal_read_id(const char *dir, char out[33]);
/* Remove the segments of dir every record of which has a sequence number at
 * most moved_seq, except the active one.  Returns how many were removed. */
int accept_journal_prune(const char *dir, uint64_t moved_seq);

/* Reading: records in sequence order, from any process (the mover, weft
 * feed status, weft backup), while the writer appends. */
struct accept_cursor;
/* A cursor over dir's records with seq > after_seq.  WEFT_ENOTFOUND: no
 * journal there. */
int accept_cursor_open(struct accept_cursor **out, const char *dir, uint64_t after_seq);
/*
 * The next record with seq <= max_seq into *rec: 1, or 0 when there is none
 * (yet), or a negative code.  A record that is not whole (being written, or
 * torn by a crash) ends the reading with 0; so does one whose checksum
 * fails, unless its seq is at most max_seq and max_seq is not UINT64_MAX
 * (the caller knows it durable): then it is corrupt (WEFT_EIO).  After a 0
 * the cursor reads the file again at its next call (nothing unconsumed is
 * kept), so a caller that knows seq N durable before calling gets N.
 */
int accept_cursor_next(struct accept_cursor *c, uint64_t max_seq, struct accept_rec *rec);
void accept_cursor_close(struct accept_cursor *c);

/* ---- with the store ---------------------------------------------------------------- */

struct store;

/* Move up to limit records of cursor c with seq <= max_seq into the inbox
 * of s (journal journal_id), in one transaction of s, each once
 * (store_inbox_add_journaled).  After the commit, ids[i] and seqs[i] (cap
 * limit) are the moved records' inbox ids and sequence numbers and *n their
 * count (0: nothing to move).  On failure nothing is moved and c has read
 * past records that were not: reopen it after the last moved sequence. */
int accept_journal_move(struct store *s, struct accept_cursor *c, const char *journal_id,
                        uint64_t max_seq, size_t limit, int64_t *ids, uint64_t *seqs, size_t *n);

/* Move every record of the journal in dir not yet in the inbox of s (weft
 * backup, before its snapshot; weft serve at start).  *moved (may be NULL)
 * counts them.  0 when dir holds no journal. */
int accept_journal_move_all(struct store *s, const char *dir, int64_t *moved);

/* Records of the journal in dir not yet in the inbox of s, per feed:
 * *out[i] = {feed_id, count}, *n entries (caller frees *out).  No journal
 * in dir: 0 entries. */
struct accept_backlog {
    int64_t feed_id;
    int64_t n;
};
int accept_journal_backlog(struct store *s, const char *dir, struct accept_backlog **out, int *n);

/* The default journal directory of the SQLite store at db_url
 * ("DBPATH.accepts"), malloc'd; NULL for another backend (PostgreSQL: each
 * node names its own, --mllp-journal). */
char *accept_journal_default_dir(const char *db_url);

#endif
