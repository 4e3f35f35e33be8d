/*
 * access.h - what the access module keeps: API clients (only a SHA-256 of
 * the token), organisations and their sharing agreements, launchers and the
 * one-time token ids they used, server-side sessions, break-glass events,
 * each person's objection state, the versioned access policy, and the one
 * read of everything an authorisation decision needs (store_access_facts).
 */
#ifndef WEFT_STORE_ACCESS_H
#define WEFT_STORE_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- API clients ------------------------------------------------------------- */

struct store_client {
    int64_t id;
    char *name;
    char *org; /* may be NULL */
    char *created;
    char *revoked; /* NULL while active */
    char *scopes;  /* space-separated, may be NULL */
    /* the TLS client certificate the client's token is bound to: lower-case
     * hex SHA-256 of the DER certificate; NULL: not bound (any connection) */
    char *client_cert_sha256;
    /* what the client's access is for: "direct" (care of the people whose
     * records it reads; the default) or "secondary" (planning, research:
     * FHIR Bulk Data exports de-identified and opt-outs applied) */
    char *purpose;
};
void store_client_clear(struct store_client *c);

/* Store a client; token_hash is the hex SHA-256 of the token; cert_sha256
 * (NULL: none) binds the token to that TLS client certificate. */
int store_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                     const char *token_hash, const char *cert_sha256, int64_t *id_out);
/* Look up an active client by token hash; WEFT_ENOTFOUND when none. */
int store_client_by_hash(struct store *s, const char *token_hash, struct store_client *out);
int store_client_list(struct store *s, struct store_client **out, int *n);
int store_client_revoke(struct store *s, int64_t id);
/* Set client id's purpose ("direct" or "secondary").  WEFT_ENOTFOUND when
 * there is no such client. */
int store_client_set_purpose(struct store *s, int64_t id, const char *purpose);

/* ---- organisations and agreements (access; src/store/store_access.c) ------------ */
struct store_org {
    char *ods;
    char *name;
    char *type; /* gp, acute, community, mental-health, social-care, ambulance, hospice */
    char *created;
};
void store_org_clear(struct store_org *o);
/* Add an organisation, or update its name and type when the ODS code exists. */
int store_org_put(struct store *s, const char *ods, const char *name, const char *type);
int store_org_get(struct store *s, const char *ods, struct store_org *out);
int store_org_list(struct store *s, struct store_org **out, int *n);

struct store_agreement {
    int64_t id;
    char *ods;
    char *kind; /* jca | dpa */
    char *from; /* YYYY-MM-DD, first day in force */
    char *to;   /* YYYY-MM-DD, last day in force; NULL: open-ended */
    char *created;
};
void store_agreement_clear(struct store_agreement *a);
int store_agreement_add(struct store *s, const char *ods, const char *kind, const char *from,
                        const char *to, int64_t *id_out);
/* Agreements of ods (NULL: all), by organisation then start date. */
int store_agreement_list(struct store *s, const char *ods, struct store_agreement **out, int *n);
/* Whether some agreement of ods covers day (YYYY-MM-DD). One indexed lookup. */
int store_agreement_in_force(struct store *s, const char *ods, const char *day, bool *in_force);

/* ---- launchers, one-time token ids, sessions, break-glass, objections, policy ---- */
struct store_launcher {
    int64_t id;
    char *name;
    char *org;
    char *issuer; /* the iss claim, unique */
    char *alg;    /* HS256 | RS256 | ES256: pinned */
    char *key;    /* HS256: the shared secret; RS256/ES256: public key PEM */
    char *created;
    char *revoked; /* NULL while active */
};
void store_launcher_clear(struct store_launcher *l);
int store_launcher_add(struct store *s, const struct store_launcher *in, int64_t *id_out);
/* The active launcher with this issuer; WEFT_ENOTFOUND when none. */
int store_launcher_by_issuer(struct store *s, const char *issuer, struct store_launcher *out);
int store_launcher_list(struct store *s, struct store_launcher **out, int *n);
int store_launcher_revoke(struct store *s, const char *name);
/* Record that (issuer, jti) was used; WEFT_EEXIST when it was used before.
 * expires (ISO 8601) lets old ids be purged once no token could carry them. */
int store_jti_use(struct store *s, const char *issuer, const char *jti, const char *expires);

/* A server-side session: a launched user's browser session ("session"), a
 * SMART app token ("token") or a one-time authorisation code ("code").  Only
 * the SHA-256 of the secret handed out (cookie, token, code) is stored. */
struct store_session {
    char *id_hash; /* hex SHA-256 of the secret */
    char *kind;    /* session | token | code */
    char *parent;  /* id_hash of the session a token/code came from, or NULL */
    char *user_id, *user_name, *role, *org, *launcher, *purpose, *person_id;
    char *scopes;            /* token/code: granted scopes */
    char *csrf;              /* session: the per-session CSRF token */
    char *created, *expires; /* ISO 8601 UTC */
    char *revoked;           /* NULL while valid */
    char *app;               /* token/code: the SMART app's client_id */
};
void store_session_clear(struct store_session *ss);
int store_session_put(struct store *s, const struct store_session *in);
/* An unrevoked, unexpired session by id hash at time now (ISO 8601). */
int store_session_get(struct store *s, const char *id_hash, const char *now,
                      struct store_session *out);
/* Revoke (e.g. a used authorisation code); WEFT_ENOTFOUND when not valid. */
int store_session_revoke(struct store *s, const char *id_hash);
/* How many sessions are open (unrevoked, unexpired) at time now (ISO 8601),
 * by kind ("user", "app", ...) into the caller's callback; for metrics. */
int store_session_count(struct store *s, const char *now,
                        void (*fn)(const char *kind, int64_t n, void *ctx), void *ctx);

struct store_breakglass {
    int64_t id;
    char *user_id, *user_name, *role, *org, *person_id, *session;
    char *reason_code, *reason_text;
    char *started, *expires;
};
void store_breakglass_clear(struct store_breakglass *b);
int store_breakglass_add(struct store *s, const struct store_breakglass *in, int64_t *id_out);
/* Whether user_id of org has break-glass active for person_id at now. */
int store_breakglass_active(struct store *s, const char *user_id, const char *org,
                            const char *person_id, const char *now, char **expires_out);
/* Break-glass events started at or after since (NULL: all), newest first. */
int store_breakglass_list(struct store *s, const char *since, struct store_breakglass **out,
                          int *n);

/* Objection (GDPR art. 21) state of a person: lodged|upheld|rejected|withdrawn. */
int store_objection_set(struct store *s, const char *person_id, const char *status,
                        const char *date);
/* *status_out: malloc'd status, or NULL (and 0 returned) when none recorded. */
int store_objection_get(struct store *s, const char *person_id, char **status_out);

/* Everything the authorisation point needs to know about one decision, read
 * in ONE statement (one read transaction: separate lookups cost a WAL lock
 * round trip each, which was most of a decision's time). */
struct store_access_facts {
    int64_t policy_version;    /* current policy version, 0 when none */
    bool agreement_in_force;   /* org has an agreement covering day */
    char objection[16];        /* the person's objection status, "" when none */
    char breakglass_until[32]; /* user's active break-glass for the person, "" when none */
};
int store_access_facts(struct store *s, const char *org, const char *day, const char *person_id,
                       const char *user_id, const char *now, struct store_access_facts *out);

/* The access policy text, versioned.  put stores a new current version. */
int store_policy_put(struct store *s, const char *text, const char *sha256, const char *by,
                     int64_t *version_out);
/* Current version and text (text_out may be NULL); WEFT_ENOTFOUND when none. */
int store_policy_current(struct store *s, int64_t *version_out, char **text_out);

/* The job role and organisation user_id last signed in with (newest launched
 * session); WEFT_ENOTFOUND when they never did. */
int store_session_user_role(struct store *s, const char *user_id, char **role_out, char **org_out);

#endif
