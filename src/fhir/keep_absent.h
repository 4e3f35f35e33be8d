/*
 * keep_absent.h - the keep-absent merge: what an entry's LOAD_KEEP_ABSENT
 * list (load.h says what each form of name means) does to a resource, given
 * the stored version.  Pure: no store, no globals; the loading pipeline
 * (load_int.h: keep_absent) reads the stored version, calls these, and
 * remembers merges it has done.  Above every backend: a store only stores.
 *
 * keep is the list as sent (a JSON array of strings), which every function
 * but keep_absent_list_valid requires to be valid; res the incoming
 * resource, changed in place; old the stored version, parsed.
 */
#ifndef WEFT_FHIR_KEEP_ABSENT_H
#define WEFT_FHIR_KEEP_ABSENT_H

#include <stdbool.h>

#include <jansson.h>

/* Whether keep is an array of element names Weft accepts: "name",
 * "name[x]", "name.part" (lower-case first letter, letters and digits, each
 * part under 64), each may start with '?'; "+name"; never id, meta or
 * resourceType.  An entry with any other list is rejected. */
bool keep_absent_list_valid(const json_t *keep);

/* Whether the stored text stored_json (NUL-terminated) names any element
 * of keep as a key ("name...): when none, nothing can be copied and the
 * stored version need not be parsed. */
bool keep_absent_mentioned(const json_t *keep, const char *stored_json);

/* Copy into res each element of keep that res lacks (or, for "?name", each
 * the stored version has), with its "_name" primitive-extension twin, from
 * old; merge "+name" arrays by system.  res then shares values with old (their
 * reference counts change; old's members do not).  Returns true when res
 * changed. */
bool keep_absent_merge(json_t *res, const json_t *keep, json_t *old);

/* Whether the locations of a resource of type follow its status: an
 * Encounter whose keep list names "?status". */
bool keep_absent_follows(const char *type, const json_t *keep);

/* An Encounter's locations without a status get the one that follows the
 * stay's status (planned; completed when finished, cancelled or
 * entered-in-error; else active).  Returns true when res changed. */
bool keep_absent_location_status(json_t *res);

#endif
