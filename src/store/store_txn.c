/*
 * store_txn.c - dispatchers of transactions, savepoints and checkpoints
 * (store/txn.h).
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int store_begin(struct store *s)
{
    return STORE_CALL0(s, txn, begin);
}

int store_commit(struct store *s)
{
    return STORE_CALL0(s, txn, commit);
}

int store_rollback(struct store *s)
{
    return STORE_CALL0(s, txn, rollback);
}

/* Savepoint names go into SQL text: keep them to a safe alphabet. */
static bool savepoint_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 40)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

int store_savepoint(struct store *s, const char *name)
{
    if (!savepoint_name_ok(name))
        return store_fail(s, WEFT_EINVAL, "bad savepoint name");
    return STORE_CALL(s, txn, savepoint, name);
}

int store_release(struct store *s, const char *name)
{
    if (!savepoint_name_ok(name))
        return store_fail(s, WEFT_EINVAL, "bad savepoint name");
    return STORE_CALL(s, txn, release, name);
}

int store_rollback_to(struct store *s, const char *name)
{
    if (!savepoint_name_ok(name))
        return store_fail(s, WEFT_EINVAL, "bad savepoint name");
    return STORE_CALL(s, txn, rollback_to, name);
}

int store_checkpoint(struct store *s, enum store_ckpt mode)
{
    if (!s->ops->txn || !s->ops->txn->checkpoint)
        return WEFT_OK; /* backends without a log */
    return s->ops->txn->checkpoint(s, mode);
}
