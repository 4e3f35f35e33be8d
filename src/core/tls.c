/*
 * tls.c - server-side TLS over a connected socket with OpenSSL (tls.h).
 *
 * Built for a thread-per-connection listener: the handshake and every read
 * and write run on the connection's own thread over a non-blocking socket,
 * waiting in poll() with a deadline, so a client that stalls mid-handshake
 * or stops reading holds up only its own thread, and never for longer than
 * the caller's timeout.
 *
 * Why no CA check on client certificates: senders of clinical feeds are a
 * handful of known systems registered one by one, and pinning the exact
 * certificate (its SHA-256 fingerprint) per feed is both stricter and
 * simpler to operate than running a CA for them.  The verify callback
 * accepts any certificate; the fingerprint is compared by the caller.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/tls.h"

struct tls_server {
    SSL_CTX *ctx;
};

struct tls_conn {
    SSL *ssl;
    int fd;
    char peer_sha256[65];
};

/* The newest OpenSSL error as text, and the queue cleared. */
static void ossl_reason(char *out, size_t cap)
{
    unsigned long e = ERR_get_error(), last = e;
    while (e) {
        last = e;
        e = ERR_get_error();
    }
    if (last)
        ERR_error_string_n(last, out, cap);
    else
        snprintf(out, cap, "no further detail");
}

/* Any certificate: the caller pins fingerprints (file comment). */
static int accept_any(int preverify, X509_STORE_CTX *x)
{
    (void)preverify;
    (void)x;
    return 1;
}

int tls_server_new(struct tls_server **out, const struct tls_server_config *cfg, char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    char why[256];
    struct buf b = BUF_INIT;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ossl_reason(why, sizeof why);
        buf_addf(&b, "cannot set up TLS: %s", why);
        *errmsg = buf_detach(&b, NULL);
        return WEFT_EINTERNAL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* TLS 1.2: ECDHE key exchange and AEAD ciphers only; TLS 1.3 suites are
     * all AEAD with forward secrecy and keep OpenSSL's defaults */
    int rc = WEFT_OK;
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!SHA1") != 1) {
        ossl_reason(why, sizeof why);
        buf_addf(&b, "cannot set the TLS cipher list: %s", why);
        rc = WEFT_EINTERNAL;
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
        ossl_reason(why, sizeof why);
        buf_addf(&b, "cannot read the TLS certificate '%s': %s", cfg->cert_file, why);
        rc = WEFT_EINVAL;
    } else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
        bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        ossl_reason(why, sizeof why);
        if (mismatch)
            buf_addf(&b, "the TLS private key '%s' does not match the certificate '%s'",
                     cfg->key_file, cfg->cert_file);
        else
            buf_addf(&b, "cannot read the TLS private key '%s': %s", cfg->key_file, why);
        rc = WEFT_EINVAL;
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        ossl_reason(why, sizeof why);
        buf_addf(&b, "the TLS private key '%s' does not match the certificate '%s': %s",
                 cfg->key_file, cfg->cert_file, why);
        rc = WEFT_EINVAL;
    }
    if (rc != 0) {
        SSL_CTX_free(ctx);
        *errmsg = buf_detach(&b, NULL);
        return rc;
    }
    SSL_CTX_set_verify(
        ctx, SSL_VERIFY_PEER | (cfg->require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
        accept_any);
    struct tls_server *ts = xcalloc(1, sizeof *ts);
    ts->ctx = ctx;
    *out = ts;
    return 0;
}

void tls_server_free(struct tls_server *ts)
{
    if (!ts)
        return;
    SSL_CTX_free(ts->ctx);
    free(ts);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait for fd to become readable (want_write false) or writable, until
 * deadline (monotonic ms), in slices so *stop is seen.  false on timeout,
 * stop or a poll error. */
static bool wait_fd(int fd, bool want_write, int64_t deadline, const atomic_bool *stop)
{
    for (;;) {
        if (stop && atomic_load(stop))
            return false;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return false;
        struct pollfd pf = {.fd = fd, .events = want_write ? POLLOUT : POLLIN};
        int pr = poll(&pf, 1, left > 250 ? 250 : (int)left);
        if (pr > 0)
            return true;
        if (pr < 0 && errno != EINTR)
            return false;
    }
}

static void fingerprint(struct tls_conn *c)
{
    c->peer_sha256[0] = 0;
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    if (!x)
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(x, EVP_sha256(), md, &n) == 1 && n == 32) {
        hex_encode(md, n, c->peer_sha256);
    }
    X509_free(x);
}

int tls_conn_accept(struct tls_server *ts, int fd, int timeout_ms, const atomic_bool *stop,
                    struct tls_conn **out, char *why, size_t whycap)
{
    *out = NULL;
    why[0] = 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        snprintf(why, whycap, "cannot make the socket non-blocking: %s", strerror(errno));
        return WEFT_EIO;
    }
    SSL *ssl = SSL_new(ts->ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        ossl_reason(why, whycap);
        SSL_free(ssl);
        return WEFT_EINTERNAL;
    }
    ERR_clear_error();
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
    for (;;) {
        int r = SSL_accept(ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_fd(fd, e == SSL_ERROR_WANT_WRITE, deadline, stop))
                continue;
            snprintf(why, whycap, "%s",
                     stop && atomic_load(stop) ? "shutting down" : "handshake timed out");
            SSL_free(ssl);
            return WEFT_EIO;
        }
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
            snprintf(why, whycap, "the client closed the connection during the handshake");
        else
            ossl_reason(why, whycap);
        ERR_clear_error();
        SSL_free(ssl);
        return WEFT_EAUTH;
    }
    struct tls_conn *c = xcalloc(1, sizeof *c);
    c->ssl = ssl;
    c->fd = fd;
    fingerprint(c);
    *out = c;
    return 0;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t cap)
{
    for (int tries = 0; tries < 40; tries++) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, cap > (size_t)INT32_MAX ? INT32_MAX : (int)cap);
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        switch (e) {
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        case SSL_ERROR_WANT_READ:
            return TLS_WOULD_BLOCK;
        case SSL_ERROR_WANT_WRITE: /* a TLS 1.3 key update to answer: let it out */
            if (!wait_fd(c->fd, true, now_ms() + 250, NULL))
                return TLS_WOULD_BLOCK;
            continue;
        case SSL_ERROR_SYSCALL:
            ERR_clear_error();
            return errno == 0 || errno == ECONNRESET || errno == EPIPE ? 0 : -1;
        default:
            ERR_clear_error();
            return -1;
        }
    }
    return TLS_WOULD_BLOCK;
}

bool tls_conn_pending(const struct tls_conn *c)
{
    return SSL_pending(c->ssl) > 0;
}

bool tls_conn_write_all(struct tls_conn *c, const void *p, size_t n, int timeout_ms)
{
    const char *s = p;
    int64_t deadline = now_ms() + timeout_ms;
    while (n > 0) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        ERR_clear_error();
        int w = SSL_write(c->ssl, s, chunk);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
            continue;
        }
        int e = SSL_get_error(c->ssl, w);
        if ((e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) &&
            wait_fd(c->fd, e == SSL_ERROR_WANT_WRITE, deadline, NULL))
            continue;
        ERR_clear_error();
        return false;
    }
    return true;
}

bool tls_sha256_parse(const char *in, char out[65])
{
    out[0] = 0;
    if (!in)
        return false;
    static const char *const prefixes[] = {"sha256 fingerprint=", "sha256:", "sha-256:"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i]);
        if (strncasecmp(in, prefixes[i], pl) == 0) {
            in += pl;
            break;
        }
    }
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == ':' && n > 0 && n % 2 == 0 && p[1] && p[-1] != ':')
            continue;
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || n == 64) {
            out[0] = 0;
            return false;
        }
        out[n++] = c;
    }
    out[n] = 0;
    if (n != 64) {
        out[0] = 0;
        return false;
    }
    return true;
}

const char *tls_conn_peer_sha256(const struct tls_conn *c)
{
    return c->peer_sha256;
}

const char *tls_conn_version(const struct tls_conn *c)
{
    return SSL_get_version(c->ssl);
}

const char *tls_conn_cipher(const struct tls_conn *c)
{
    return SSL_get_cipher_name(c->ssl);
}

void tls_conn_free(struct tls_conn *c)
{
    if (!c)
        return;
    ERR_clear_error();
    SSL_shutdown(c->ssl); /* non-blocking socket: sends close-notify if it can */
    ERR_clear_error();
    SSL_free(c->ssl);
    free(c);
}
