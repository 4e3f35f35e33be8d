/*
 * bench_feeds_send.c - an MLLP load generator for bench/bench_feeds.sh.
 *
 *   bench_feeds_send HOST PORT CONNS WINDOW MESSAGES FACILITY [PATIENTS] [RUN] [MODE]
 *
 * Opens CONNS connections; each sends its share of MESSAGES HL7 v2 messages
 * (an even mix of ADT^A01 admissions and ORU^R01 lab results with two
 * numeric OBX each, for PATIENTS distinct patients with valid test NHS
 * numbers), keeping up to WINDOW unacknowledged messages in flight, and reads
 * every ACK.  Control ids are "RUN-conn-n" so runs do not collide.  Prints
 * one line: messages, AA, AE, AR, seconds, messages/s.  Exit 1 unless every
 * message was answered AA.  MODE "enhanced": every message asks for HL7
 * enhanced acknowledgement with MSH-15 AL, MSH-16 NE (an accept ACK, CA, once
 * durably kept; no application ACK), and CA counts as AA: the rate is then
 * the accept rate.  The line ends with the sender's own CPU seconds (it
 * shares the machine's cores with the server).
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "feeds/mllp_frame.h"

static const char *host, *port, *facility, *run, *ackmode = "";
static long conns, window, total, patients = 10000;

struct worker {
    pthread_t th;
    int idx;
    long n;
    long aa, ae, ar;
    int err;
};

/* The i-th test NHS number (999 prefix, valid mod-11 check digit). */
static void nhs_number(long i, char out[11])
{
    for (long k = i;; k++) {
        char d[16];
        snprintf(d, sizeof d, "999%06ld", k % 1000000);
        int sum = 0;
        for (int j = 0; j < 9; j++)
            sum += (d[j] - '0') * (10 - j);
        int c = 11 - sum % 11;
        if (c == 11)
            c = 0;
        if (c == 10)
            continue;
        memcpy(out, d, 9);
        out[9] = (char)('0' + c);
        out[10] = 0;
        return;
    }
}

static void message(struct buf *b, int conn, long n)
{
    long p = (conn * 7919L + n * 104729L) % patients;
    char nhs[11];
    nhs_number(p, nhs);
    buf_reset(b);
    if (n % 2 == 0) {
        buf_addf(b,
                 "MSH|^~\\&|PAS|%s|WEFT|WEFT|20261124101500||ADT^A01^ADT_A01|%s-%d-%ld|P|2.5%s\r"
                 "EVN|A01|20261124101500\r"
                 "PID|1||H%06ld^^^%s^MR~%s^^^NHS^NH||Bench^Pat%ld||19600101|F|||1 Road^^Town^^CT1 "
                 "1AA\r"
                 "PV1|1|I|WARD%ld^BED1||||||||||||||||V%d-%ld|||||||||||||||||||||||||"
                 "20261124101500\r",
                 facility, run, conn, n, ackmode, p, facility, nhs, p, p % 20, conn, n);
    } else {
        buf_addf(b,
                 "MSH|^~\\&|LAB|%s|WEFT|WEFT|20261124101500||ORU^R01^ORU_R01|%s-%d-%ld|P|2.5%s\r"
                 "PID|1||H%06ld^^^%s^MR~%s^^^NHS^NH||Bench^Pat%ld||19600101|F\r"
                 "OBR|1||F%d-%ld|24326-1^Electrolytes^LN|||20261124090000|||||||||||||||"
                 "20261124100000||CH|F\r"
                 "OBX|1|NM|2951-2^Sodium^LN||%ld|mmol/L^mmol/L^UCUM|133-146|N|||F|||"
                 "20261124090000\r"
                 "OBX|2|NM|2823-3^Potassium^LN||4.%ld|mmol/L^mmol/L^UCUM|3.5-5.3|N|||F|||"
                 "20261124090000\r",
                 facility, run, conn, n, ackmode, p, facility, nhs, p, conn, n, 135 + n % 10,
                 n % 9);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(void)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    int fd = connect_to();
    if (fd < 0) {
        w->err = 1;
        return NULL;
    }
    struct mllp_decoder d;
    mllp_decoder_init(&d, 0);
    struct buf msg = BUF_INIT, out = BUF_INIT;
    char rb[65536];
    long sent = 0, acked = 0;
    while (acked < w->n) {
        buf_reset(&out);
        while (sent < w->n && sent - acked < window) {
            message(&msg, w->idx, sent++);
            mllp_encode(msg.data, msg.len, &out);
        }
        size_t off = 0;
        while (off < out.len) {
            ssize_t k = send(fd, out.data + off, out.len - off, MSG_NOSIGNAL);
            if (k <= 0) {
                w->err = 1;
                goto done;
            }
            off += (size_t)k;
        }
        ssize_t k = recv(fd, rb, sizeof rb, 0);
        if (k <= 0) {
            w->err = 1;
            goto done;
        }
        mllp_decoder_feed(&d, rb, (size_t)k);
        const char *f;
        size_t fl;
        int rc;
        while ((rc = mllp_decoder_next(&d, &f, &fl)) != 0) {
            if (rc < 0)
                continue;
            acked++;
            const char *msa = memmem(f, fl, "MSA|", 4);
            if (msa && msa + 6 <= f + fl && (msa[4] == 'A' || msa[4] == 'C') && msa[5] == 'A')
                w->aa++;
            else if (msa && msa[5] == 'E')
                w->ae++;
            else
                w->ar++;
        }
    }
done:
    close(fd);
    mllp_decoder_release(&d);
    buf_release(&msg);
    buf_release(&out);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: bench_feeds_send HOST PORT CONNS WINDOW MESSAGES FACILITY "
                        "[PATIENTS] [RUN]\n");
        return 2;
    }
    host = argv[1];
    port = argv[2];
    conns = strtol(argv[3], NULL, 10);
    window = strtol(argv[4], NULL, 10);
    total = strtol(argv[5], NULL, 10);
    facility = argv[6];
    if (argc > 7)
        patients = strtol(argv[7], NULL, 10);
    run = argc > 8 ? argv[8] : "B";
    if (argc > 9 && strcmp(argv[9], "enhanced") == 0)
        ackmode = "|||AL|NE";
    if (conns < 1 || window < 1 || total < 1 || patients < 1)
        return 2;
    struct worker *ws = calloc((size_t)conns, sizeof *ws);
    double t0 = now_s();
    for (long i = 0; i < conns; i++) {
        ws[i].idx = (int)i;
        ws[i].n = total / conns + (i < total % conns ? 1 : 0);
        pthread_create(&ws[i].th, NULL, work, &ws[i]);
    }
    long aa = 0, ae = 0, ar = 0, err = 0;
    for (long i = 0; i < conns; i++) {
        pthread_join(ws[i].th, NULL);
        aa += ws[i].aa;
        ae += ws[i].ae;
        ar += ws[i].ar;
        err += ws[i].err;
    }
    double secs = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("messages %ld aa %ld ae %ld ar %ld errors %ld seconds %.3f msgs_per_s %.0f "
           "sender_cpu_s %.2f\n",
           total, aa, ae, ar, err, secs, (double)total / secs, cpu);
    free(ws);
    return aa == total && !err ? 0 : 1;
}
