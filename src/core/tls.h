/*
 * tls.h - server-side TLS over a connected socket (OpenSSL), for listeners
 * that own their sockets and threads (the MLLP listener).  The HTTP listener
 * does its TLS inside libmicrohttpd and does not use this.
 *
 * Owns struct tls_server (one per listener: certificate chain, key, the
 * protocol and cipher choices) and struct tls_conn (one per accepted
 * connection).  Every connection gets TLS 1.2 or later only, AEAD ciphers
 * with forward secrecy (ECDHE with AES-GCM or ChaCha20-Poly1305; TLS 1.3's
 * own suites), no compression, no renegotiation, no session resumption (so
 * every connection presents its client certificate afresh).
 *
 * Client certificates are asked for, and optionally required, but not
 * checked against a CA: a sender is trusted by the SHA-256 fingerprint of
 * its certificate, pinned per feed by the caller (`weft feed add
 * --client-cert-sha256`).  The handshake still proves that the client holds
 * the certificate's private key.
 *
 * The socket is switched to non-blocking by tls_conn_accept(); use
 * tls_conn_read() after poll() says readable (or while tls_conn_pending()),
 * and tls_conn_write_all() to write.  Thread use: a tls_server may be shared
 * by any number of threads; a tls_conn belongs to one thread at a time.
 */
#ifndef WEFT_CORE_TLS_H
#define WEFT_CORE_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_server;
struct tls_conn;

struct tls_server_config {
    const char *cert_file;    /* PEM: the certificate chain, leaf first */
    const char *key_file;     /* PEM: its private key (unencrypted) */
    bool require_client_cert; /* refuse the handshake without a client certificate */
};

/* Load the pair and check that the key matches the certificate.  On failure
 * returns a negative code and a malloc'd sentence naming the file in *errmsg
 * (caller frees). */
int tls_server_new(struct tls_server **out, const struct tls_server_config *cfg, char **errmsg);
void tls_server_free(struct tls_server *ts); /* NULL is fine */

/* The TLS handshake on connected socket fd, within timeout_ms, giving up
 * early when *stop becomes true (may be NULL).  0 and *out on success; else
 * a negative code and why[0..whycap) says what failed (a plain-text client,
 * no client certificate, a protocol version refused, a timeout ...).  fd
 * stays the caller's either way (tls_conn_free does not close it). */
int tls_conn_accept(struct tls_server *ts, int fd, int timeout_ms, const atomic_bool *stop,
                    struct tls_conn **out, char *why, size_t whycap);

/* Read decrypted bytes: > 0 bytes read, 0 at the end of the stream (close
 * notify or EOF), TLS_WOULD_BLOCK when nothing can be read now, < 0
 * (another negative value) on an error. */
#define TLS_WOULD_BLOCK (-1000)
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t cap);
/* Decrypted bytes buffered inside TLS (read them before polling again). */
bool tls_conn_pending(const struct tls_conn *c);
/* Write all n bytes, waiting at most timeout_ms for the peer to take them.
 * false when the peer is gone, failed or too slow. */
bool tls_conn_write_all(struct tls_conn *c, const void *p, size_t n, int timeout_ms);

/* The client certificate's SHA-256 fingerprint, 64 lower-case hex digits,
 * or "" when the client presented none.  Valid until tls_conn_free. */
const char *tls_conn_peer_sha256(const struct tls_conn *c);
/* "TLSv1.3" and the cipher's name, for the log.  Static strings. */
const char *tls_conn_version(const struct tls_conn *c);
const char *tls_conn_cipher(const struct tls_conn *c);

/* A certificate fingerprint as an operator gives it (64 hex digits,
 * optionally in pairs separated by ':', any case, an optional "sha256:" or
 * openssl's "SHA256 Fingerprint=" prefix) into out: 64 lower-case hex
 * digits.  false (out "") when it is not one.  Used for the pins of MLLP
 * feeds and of API clients. */
bool tls_sha256_parse(const char *in, char out[65]);

/* Send close-notify (best effort, never waits) and free.  NULL is fine. */
void tls_conn_free(struct tls_conn *c);

#endif
