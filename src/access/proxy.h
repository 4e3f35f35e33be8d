/*
 * proxy.h - proxy access (issue 17): GP or governance staff let one person
 * (the proxy) act for another on the citizen's pages - a parent for a child,
 * a carer with the person's consent, an attorney under a lasting power of
 * attorney - within a scope, for a reason, until an end day; revocable at
 * once.  Who may grant and revoke is policy (capability proxy-grant).
 *
 * A signed-in citizen acting for someone is a citizen principal whose
 * person_id is the person they act for and whose proxy_grant names the
 * grant (core/principal.h; proxy_principal() fills it).  Every check reads
 * the grant again, so a revocation or the end day takes effect on the next
 * request.  What a proxy sees of the record is what the person would see:
 * the same citizen-withhold rules of the policy apply.
 *
 * Audit: a proxy's reads, refusals and actions are audited as the proxy
 * (user_id: their sign-in subject) acting for the person (person_id), with
 * client "proxy-grant:ID" naming the grant (which holds both NHS numbers)
 * and a purpose of use from the grant's basis: FAMRQT (parent), SUPNWK
 * (carer with consent) or PWATRNY (lasting power of attorney).
 */
#ifndef WEFT_ACCESS_PROXY_H
#define WEFT_ACCESS_PROXY_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct principal;
struct store_proxy_grant;

/* What a grant lets the proxy do (its scope). */
#define PROXY_SCOPE_VIEW 0x1      /* see the record and who has viewed it */
#define PROXY_SCOPE_OBJECTION 0x2 /* lodge or withdraw an objection to sharing */
#define PROXY_SCOPE_COPY 0x4      /* ask for a copy of the record and download it */

/* Scope text ("view,objection,copy", any non-empty subset, any order) to
 * bits; 0 when empty or holding an unknown word. */
unsigned proxy_scope_parse(const char *text);
/* Bits to the canonical text ("view,objection,copy" order) into out. */
void proxy_scope_format(unsigned bits, char out[32]);

/* The purpose of use a grant's basis gives (FAMRQT, SUPNWK, PWATRNY), or
 * NULL for an unknown basis. */
const char *proxy_basis_purpose(const char *basis);

/* Whether grant g may be used on day today (YYYY-MM-DD): NULL when it may,
 * else a static sentence for the proxy ("... was revoked", "... ended"). */
const char *proxy_grant_ended(const struct store_proxy_grant *g, const char *today);

/*
 * Grant proxy access as described by in (proxy_person_id, proxy_nhs,
 * person_id, nhs, name (may be NULL), scope, basis, reason, until; the rest
 * is filled here).  who: a member of staff (user_id an SDS user id) whose
 * role's profile has proxy-grant in the policy in force, else WEFT_EDENIED,
 * audited.  WEFT_EINVAL with *why: unknown scope or basis, no reason (or
 * over 2000 characters), until not a day from today on, or a person as
 * their own proxy.  *id_out gets the grant id.  Audited (action admin,
 * about the person) and waited for.
 */
int proxy_grant(struct store *s, const struct principal *who, const struct store_proxy_grant *in,
                int64_t *id_out, const char **why);

/* Revoke grant id now, for reason (1..2000 characters).  who as for
 * proxy_grant.  WEFT_ENOTFOUND / WEFT_ECONFLICT (revoked already) with
 * *why.  Audited. */
int proxy_revoke(struct store *s, const struct principal *who, int64_t id, const char *reason,
                 const char **why);

/*
 * Whether principal p may do need (PROXY_SCOPE_* bits) for p->person_id:
 * 0 at once when p does not act as a proxy (p->proxy_grant 0).  For a
 * proxy: the grant exists, is for (p->proxy_person_id -> p->person_id), is
 * neither revoked nor past its end day, and its scope holds need; else
 * WEFT_EDENIED with *why (static, for the proxy's page) after auditing the
 * refusal.  A negative store error means deny.
 */
int proxy_check(struct store *s, const struct principal *p, unsigned need, const char **why);

/* Make *p (a signed-in citizen's principal, p->person_id their own person)
 * act for g's person under g: person_id, proxy_person_id, proxy_grant,
 * purpose and client_name (written into client, at least 32 bytes, which
 * must outlive p).  The grant is not checked here: proxy_check does. */
void proxy_principal(struct principal *p, const struct store_proxy_grant *g, char *client);

#endif
