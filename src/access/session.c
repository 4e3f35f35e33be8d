/*
 * session.c - sessions, app tokens and codes (see session.h).
 */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/launch.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "store/access.h"

void session_secret_new(const char *prefix, char out[SESSION_SECRET_LEN])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[32];
    if (sodium_init() < 0)
        abort(); /* no entropy source: refuse to hand out guessable secrets */
    randombytes_buf(raw, sizeof raw);
    size_t o = 0;
    for (size_t i = 0; prefix[i] && o < 4; i++)
        out[o++] = prefix[i];
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = b64[(acc << (6 - bits)) & 63];
    out[o] = 0;
    sodium_memzero(raw, sizeof raw);
}

void session_hash(const char *secret, char out[SESSION_HASH_LEN + 1])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL);
    hex_encode(md, 32, out);
}

static void iso_after(int seconds, char out[32])
{
    time_t t = time(NULL) + seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int session_open(struct store *s, const struct launch_claims *c, const char *person_id, int ttl_s,
                 char secret_out[SESSION_SECRET_LEN], char csrf_out[SESSION_SECRET_LEN])
{
    session_secret_new("wss_", secret_out);
    session_secret_new("csr_", csrf_out);
    char hash[SESSION_HASH_LEN + 1], now[32], exp[32];
    session_hash(secret_out, hash);
    audit_now(now);
    iso_after(ttl_s > 0 ? ttl_s : SESSION_TTL_DEFAULT, exp);
    struct store_session ss = {
        .id_hash = hash,
        .kind = "session",
        .user_id = c->sub,
        .user_name = c->name,
        .role = c->role,
        .org = c->org,
        .launcher = c->launcher,
        .purpose = c->purpose,
        .person_id = (char *)person_id,
        .csrf = csrf_out,
        .created = now,
        .expires = exp,
    };
    return store_session_put(s, &ss);
}

int session_issue(struct store *s, const struct store_session *parent, const char *kind,
                  const char *scopes, int ttl_s, char secret_out[SESSION_SECRET_LEN])
{
    session_secret_new(strcmp(kind, "code") == 0 ? "wac_" : "wat_", secret_out);
    char hash[SESSION_HASH_LEN + 1], now[32], exp[32];
    session_hash(secret_out, hash);
    audit_now(now);
    iso_after(ttl_s, exp);
    /* never outlive the parent session */
    if (parent->expires && strcmp(parent->expires, exp) < 0)
        snprintf(exp, sizeof exp, "%s", parent->expires);
    struct store_session ss = *parent;
    ss.id_hash = hash;
    ss.kind = (char *)kind;
    ss.parent = parent->id_hash;
    ss.scopes = (char *)scopes;
    /* a code carries its PKCE challenge in the csrf column (access_serve.c) */
    ss.csrf = strcmp(kind, "code") == 0 ? parent->csrf : NULL;
    ss.created = now;
    ss.expires = exp;
    ss.revoked = NULL;
    return store_session_put(s, &ss);
}

int session_lookup(struct store *s, const char *secret, struct store_session *out)
{
    char hash[SESSION_HASH_LEN + 1], now[32];
    session_hash(secret, hash);
    audit_now(now);
    return store_session_get(s, hash, now, out);
}

void session_principal(const struct store_session *ss, struct principal *p)
{
    p->kind = PRINCIPAL_USER;
    p->user_id = ss->user_id;
    p->user_name = ss->user_name;
    p->role = ss->role;
    p->org = ss->org;
    p->launcher = ss->launcher;
    p->purpose = ss->purpose;
    p->person_id = ss->person_id;
    p->scopes = strcmp(ss->kind, "session") == 0 ? NULL : ss->scopes;
    /* audit correlation: a prefix of the hash, never the secret */
    p->session_id = ss->id_hash;
}

bool session_cookie_get(const char *header, const char *name, char *out, size_t n)
{
    if (!header)
        return false;
    size_t nl = strlen(name);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ';' || *p == '\t')
            p++;
        const char *eq = strchr(p, '=');
        const char *semi = strchr(p, ';');
        if (!eq || (semi && semi < eq)) {
            if (!semi)
                return false;
            p = semi + 1;
            continue;
        }
        const char *vend = semi ? semi : p + strlen(p);
        if ((size_t)(eq - p) == nl && strncmp(p, name, nl) == 0) {
            size_t vl = (size_t)(vend - eq - 1);
            while (vl > 0 && eq[vl] == ' ')
                vl--;
            if (vl == 0 || vl >= n)
                return false;
            memcpy(out, eq + 1, vl);
            out[vl] = 0;
            return true;
        }
        p = vend;
    }
    return false;
}

bool session_secret_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t n = strlen(a);
    if (n != strlen(b) || n == 0)
        return false;
    return sodium_memcmp(a, b, n) == 0;
}
