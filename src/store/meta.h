/*
 * meta.h - the store's key/value settings (schema facts, server secrets).
 */
#ifndef WEFT_STORE_META_H
#define WEFT_STORE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- generic key/value settings (schema version, server secrets) ---------------- */
int store_meta_get(struct store *s, const char *key, char **value_out);
int store_meta_set(struct store *s, const char *key, const char *value);

#endif
