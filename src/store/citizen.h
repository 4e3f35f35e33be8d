/*
 * citizen.h - citizens' rights and sign-in: objection cases, subject access
 * requests, the OpenID providers citizens sign in with and their sessions.
 */
#ifndef WEFT_STORE_CITIZEN_H
#define WEFT_STORE_CITIZEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- citizens: objection cases and subject access requests
 * (src/store/store_citizen.c; sqlite/sqlite_citizen.c) --------------------------- */

/* One objection to sharing (GDPR art. 21) as a case: lodged with an
 * organisation, decided by a named clinician or withdrawn.  status: lodged |
 * upheld | not-upheld | withdrawn.  Times are ISO 8601 UTC; due is a day.
 * The person's objection state that the authorisation point reads
 * (store_objection_set/get) is kept equal to their newest case's status by
 * the access module (src/access/objection.c), in the same transaction. */
struct store_objection {
    int64_t id;
    char *person_id, *org, *reason, *lodged, *lodged_by, *due, *status;
    char *decided, *decided_by, *decided_role, *rationale; /* NULL until decided */
    char *withdrawn, *withdrawn_by, *withdrawn_reason;     /* NULL unless withdrawn */
};
void store_objection_clear(struct store_objection *o);
void store_objections_free(struct store_objection *o, int n);
/* in->id == 0: add a new case (*id_out gets its id); else overwrite status
 * and the decision and withdrawal fields of case in->id (WEFT_ENOTFOUND when
 * there is none). */
int store_objection_put(struct store *s, const struct store_objection *in, int64_t *id_out);
/* Case id; WEFT_ENOTFOUND when absent. */
int store_objection_case(struct store *s, int64_t id, struct store_objection *out);
/* Cases of person_id (NULL: everyone's), oldest first; open_only: only those
 * still lodged (the review queue). */
int store_objection_list(struct store *s, const char *person_id, bool open_only,
                         struct store_objection **out, int *n);
/* One step of a case's history (lodged, decided, withdrawn, set ...). */
struct store_objection_step {
    int64_t objection_id;
    char *time, *step, *by, *detail;
};
void store_objection_steps_free(struct store_objection_step *st, int n);
int store_objection_step_add(struct store *s, int64_t objection_id, const char *time,
                             const char *step, const char *by, const char *detail);
/* Steps of case objection_id in order. */
int store_objection_steps(struct store *s, int64_t objection_id, struct store_objection_step **out,
                          int *n);

/* A subject access request.  status: open | extended | completed.  received
 * and due are days; due is one calendar month after received, or up to two
 * further months when extended (extension_reason then set). */
struct store_sar {
    int64_t id;
    char *person_id, *received, *due, *status, *extension_reason, *created, *created_by;
    char *completed; /* when the last package was produced, NULL before */
    char *package;   /* the directory it was written to, NULL before */
};
void store_sar_clear(struct store_sar *r);
void store_sars_free(struct store_sar *r, int n);
/* in->id == 0: add (*id_out gets the id); else overwrite due, status,
 * extension_reason and completed of request in->id. */
int store_sar_put(struct store *s, const struct store_sar *in, int64_t *id_out);
int store_sar_get(struct store *s, int64_t id, struct store_sar *out);
/* Requests of person_id (NULL: all), newest first. */
int store_sar_list(struct store *s, const char *person_id, struct store_sar **out, int *n);
/* ---- citizen sign-in: OpenID providers and citizens' sessions (store_citizen.c) ---- */

/* An OpenID Connect provider citizens sign in with (NHS login or one in its
 * shape), registered by `weft citizen-idp add`. */
struct store_citizen_idp {
    char *name;         /* short name used in URLs */
    char *issuer;       /* the provider's issuer URL, exactly as in its tokens */
    char *client_id;    /* Weft's client id at the provider */
    char *key_pem;      /* Weft's private key for private_key_jwt (PEM) */
    char *key_id;       /* its kid at the provider, or NULL */
    char *redirect_uri; /* the callback registered with the provider */
    char *created;
};
void store_citizen_idp_clear(struct store_citizen_idp *p);
/* WEFT_EEXIST when the name is taken. */
int store_citizen_idp_add(struct store *s, const struct store_citizen_idp *in);
int store_citizen_idp_get(struct store *s, const char *name, struct store_citizen_idp *out);
int store_citizen_idp_list(struct store *s, struct store_citizen_idp **out, int *n);
/* WEFT_ENOTFOUND when there is none of that name. */
int store_citizen_idp_remove(struct store *s, const char *name);

/* A signed-in citizen's session; only the SHA-256 of the cookie is kept. */
struct store_citizen_session {
    char *id_hash, *idp, *sub, *person_id, *nhs, *ial, *csrf;
    char *created, *last_seen, *expires, *revoked;
};
void store_citizen_session_clear(struct store_citizen_session *ss);
int store_citizen_session_put(struct store *s, const struct store_citizen_session *in);
/* An unrevoked session by hash (expiry is the caller's to check: it knows
 * the idle and absolute limits); WEFT_ENOTFOUND when none. */
int store_citizen_session_get(struct store *s, const char *id_hash,
                              struct store_citizen_session *out);
int store_citizen_session_touch(struct store *s, const char *id_hash, const char *now);
int store_citizen_session_revoke(struct store *s, const char *id_hash);

#endif
