/*
 * paging.h - the search rules every backend follows, whatever its storage:
 * snapshots, keyset cursors, page sizes, sort direction, term values.  For
 * backends (src/store/<backend>/); callers see only store/records.h.
 *
 * Snapshot: every version of an item has a store-wide sequence number seq,
 * and the seq of the version that replaced it, next_seq (none while
 * current).  The version of an item visible at snapshot S is the one with
 * seq <= S < next_seq.  A first page (query snapshot 0) fixes S = the
 * highest seq and reports it; later pages pass it back, so items inserted
 * or updated meanwhile neither appear twice nor push others out of a page,
 * and the total is the same on every page.
 *
 * Keyset cursor: the sort key and id of the last row of a page
 * (store_cursor_make); the next page asks for the rows after that (key, id)
 * in the sort's direction.  Ids are unique within a snapshot, so (key, id)
 * is a total order.  In store order (STORE_SORT_SEQ) the key is the row's
 * seq in decimal, itself unique: the next page is seq > key.  Keys compare
 * as bytes (SQLite's BINARY collation; PostgreSQL: COLLATE "C").
 *
 * Sort keys: STORE_SORT_DATE(_DESC) the effective date, '' when none;
 * STORE_SORT_LASTUPDATED(_DESC) last_updated; STORE_SORT_ID none (the id
 * alone).  Total: when the first page holds every row, its row count.
 */
#ifndef WEFT_STORE_PAGING_H
#define WEFT_STORE_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "store/records.h"

/*
 * Search-index rows (search-index-2) are keyed by an integer for the
 * (type, parameter) pair instead of their text: the type's 15-bit hash in
 * the high bits and the parameter's 16-bit hash in the low ones (FNV-1a),
 * so one type's rows are one key range (store_ix_type_range: replacing a
 * version's rows reads its type's range only).  Stable across builds and
 * databases; two pairs that share a key only widen what a condition
 * selects (rows narrow, the search matches every candidate).
 */
int32_t store_ix_param_id(const char *type, const char *param);
/* The first and last key of type's rows. */
void store_ix_type_range(const char *type, int32_t *lo, int32_t *hi);

/*
 * Posting lists (search-index-3): one search-index row holds every seq of
 * one load batch that has the row's (param, value), ascending.  The first
 * seq is the row's key column (first_seq); the rest are the differences
 * to the seq before, each as an unsigned LEB128 varint (7 bits a byte, low
 * bits first, high bit set on every byte but the last).  A batch of seqs
 * 100, 101, 300 is first_seq 100 and the bytes 01 C7 01.  SQLite keeps
 * the bytes in a BLOB; PostgreSQL keeps a bigint[] and needs none of this.
 */
#define STORE_IXPOST_MAXLEN 10 /* bytes of one difference at most */
/* The bytes of seqs[1..n) (ascending, distinct, n >= 1) after seqs[0] into
 * out (room for STORE_IXPOST_MAXLEN * (n - 1)); returns their length. */
size_t store_ixpost_encode(const int64_t *seqs, int n, unsigned char *out);
/* How many seqs the list (first, p[0..len)) holds, or -1 when the bytes are
 * not a list (a varint cut short, longer than 64 bits, or a difference of
 * 0: seqs are distinct). */
int store_ixpost_count(const unsigned char *p, size_t len);
/* The seqs of the list into out (room for store_ixpost_count's number);
 * returns their number or -1 as store_ixpost_count. */
int store_ixpost_decode(int64_t first, const unsigned char *p, size_t len, int64_t *out);

#define STORE_PAGE_DEFAULT 100 /* rows in a page when the query says none */

/* Rows in a page of q. */
int store_page_limit(const struct store_query *q);

/* Whether sort s runs from the highest key down. */
bool store_sort_desc(enum store_sort s);

/* The cursor after a row with sort key key ("" when the sort has none) and
 * id: "KEYHEX.ID", malloc'd. */
char *store_cursor_make(const char *key, const char *id);
/* The same for store order: the key is seq. */
char *store_cursor_make_seq(int64_t seq, const char *id);
/* Split cursor c into key and id (malloc'd); false when malformed (nothing
 * allocated then). */
bool store_cursor_parse(const char *c, char **key, char **id);
/* A store-order cursor's key as a seq; false when it is not one. */
bool store_cursor_seq(const char *key, int64_t *seq);

/* A search term value as stored and matched: ASCII lower-cased, malloc'd. */
char *store_term_value(const char *s);

#endif
