/* sqlite_copy.h - SQLite's table-level operations for store_copy
 * (sqlite_copy.c; struct store_copy_ops in store/store_int.h). */
#ifndef WEFT_STORE_SQLITE_SQLITE_COPY_H
#define WEFT_STORE_SQLITE_SQLITE_COPY_H

#include "store/store_int.h"

int sqlite_copy_tables(struct store *s, char ***names, int *n);
int sqlite_copy_columns(struct store *s, const char *table, char ***cols, int *n);
int sqlite_copy_snapshot(struct store *s, bool begin);
int sqlite_copy_read(struct store *s, const char *table, const char *const *cols, int ncols,
                     store_row_fn fn, void *arg);
int sqlite_copy_write(struct store *s, const char *table, const char *const *cols, int ncols,
                      const struct store_val *vals, int nrows);
int sqlite_copy_clear(struct store *s, const char *table);
int sqlite_copy_finish(struct store *s);

#endif
