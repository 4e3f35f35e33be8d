/*
 * txn.h - transactions of a store handle: explicit begin/commit/rollback
 * (writes outside one run in their own), savepoints inside one (the feed
 * writers keep one transaction per batch and one savepoint per message),
 * and write-ahead log checkpoints.
 */
#ifndef WEFT_STORE_TXN_H
#define WEFT_STORE_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Transactions.  Writes outside an explicit transaction run in their own. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* Savepoints inside an open transaction (the MLLP writer runs one transaction
 * per batch and one savepoint per message).  name: [a-z0-9_]+. */
int store_savepoint(struct store *s, const char *name);
int store_release(struct store *s, const char *name);
int store_rollback_to(struct store *s, const char *name);
/* Write-ahead log checkpoints.  STORE_CKPT_OFF: this handle never
 * checkpoints by itself at commit (a dedicated writer hands checkpoints to
 * another thread); STORE_CKPT_PASSIVE: copy what can be copied now without
 * waiting for anyone.  Backends without a log return 0. */
enum store_ckpt { STORE_CKPT_OFF = 0, STORE_CKPT_PASSIVE = 1 };
int store_checkpoint(struct store *s, enum store_ckpt mode);

#endif
