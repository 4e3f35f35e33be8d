/*
 * socialcare.c - social care CSV extracts: kinds, header and row validation,
 * row -> FHIR R4 mapping, batching into Bundles, the per-file report.
 *
 * The schema lives in docs/feeds/csv-social-care.md; the tables below are
 * its executable form (one table of columns per extract kind, one code list
 * per coded column).  Each row goes through three steps:
 *
 *   1. fields are trimmed and checked against their column's format (date,
 *      yes/no, code, list of codes, decimal, NHS number, ODS code); every
 *      problem is reported, and any error rejects the row;
 *   2. the kind's map function checks what involves several columns (end
 *      before start, ...) and builds the resource(s) with jansson;
 *   3. the resources join the current Bundle, handed to the sink every
 *      batch_rows rows.
 *
 * With opts.pipeline the three steps (and the sink's prepare) run on a second
 * thread while the calling thread runs the sink: see "two halves" below.
 *
 * Workload: files of up to millions of rows read once; the per-row work is a
 * handful of small allocations in jansson, so the mapping runs at a few
 * hundred thousand rows per second (bench/bench_csv.c).
 *
 * This file reads the file: the header row, each row through the three steps,
 * the run and the public entry points.  The other steps live beside it, one
 * concern per file (listed in socialcare_int.h).
 */
#include "feeds/socialcare_int.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"

/* ---- the file ------------------------------------------------------------ */

/* Header name -> canonical column name: trimmed, lower case, ' ' and '-' as '_'. */
static void norm_header(const char *s, size_t len, char *out, size_t outsz)
{
    while (len && is_space(*s)) {
        s++;
        len--;
    }
    while (len && is_space(s[len - 1]))
        len--;
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c == ' ' || c == '-') ? '_' : (char)tolower(c);
    }
    out[j] = '\0';
}

static void file_error(struct socialcare_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void file_error(struct socialcare_report *rep, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    free(rep->file_error);
    rep->file_error = buf_detach(&b, NULL);
}

/* Validate the header row; set p->k and p->colmap.  Returns 0 or a file error. */
static int header(struct proc *p, struct socialcare_report *rep, const struct csv_row *row,
                  enum socialcare_kind kind)
{
    size_t n = row->nfields;
    char(*names)[128] = xcalloc(n ? n : 1, sizeof *names);
    int rc = WEFT_EPARSE;
    for (size_t i = 0; i < n; i++) {
        norm_header(row->fields[i], row->lens[i], names[i], sizeof names[i]);
        for (size_t j = 0; j < i; j++)
            if (names[i][0] && !strcmp(names[i], names[j])) {
                file_error(rep, "duplicated column \"%s\" (columns %zu and %zu)", names[i], j + 1,
                           i + 1);
                goto out;
            }
    }
    p->k = kind ? sc_kind_def(kind) : sc_kind_from_header(names, n);
    if (!p->k) {
        file_error(rep, "unknown extract kind: the file name does not start with people, "
                        "contacts, assessments, services, safeguarding or end_of_life, and the "
                        "header has no key column");
        goto out;
    }
    rep->kind = p->k->kind;
    for (size_t c = 0; c < p->k->ncols; c++) {
        p->colmap[c] = -1;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(names[i], p->k->cols[c].name))
                p->colmap[c] = (int)i;
    }
    struct buf missing = BUF_INIT;
    size_t nmissing = 0;
    for (size_t c = 0; c < p->k->ncols; c++)
        if (p->colmap[c] < 0 && p->k->cols[c].req != 'O') {
            buf_addf(&missing, "%s\"%s\"", nmissing ? ", " : "", p->k->cols[c].name);
            nmissing++;
        }
    if (nmissing) {
        file_error(rep, "missing required column%s %s for a %s extract", nmissing > 1 ? "s" : "",
                   missing.data, p->k->name);
        buf_release(&missing);
        goto out;
    }
    buf_release(&missing);
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t c = 0; c < p->k->ncols && !known; c++)
            known = p->colmap[c] == (int)i;
        if (!known)
            sc_issue_add(rep, 0, row->line, names[i][0] ? names[i] : NULL, "%s",
                         names[i][0] ? "unknown column ignored" : "unnamed column ignored");
    }
    p->nheader = n;
    snprintf(p->id_system, sizeof p->id_system, LOCAL_ID_SYSTEM_PREFIX "%s:%s", p->o->ods,
             p->k->id_kind);
    rc = WEFT_OK;
out:
    free(names);
    return rc;
}

static void trim_field(char **s, size_t *len)
{
    char *a = *s;
    size_t n = *len;
    while (n && is_space(*a)) {
        a++;
        n--;
    }
    while (n && (is_space(a[n - 1]) || a[n - 1] == '\r' || a[n - 1] == '\n'))
        n--;
    while (n && (*a == '\r' || *a == '\n')) {
        a++;
        n--;
    }
    *s = a;
    *len = n;
}

static int all_blank(const struct csv_row *row)
{
    for (size_t i = 0; i < row->nfields; i++)
        for (size_t j = 0; j < row->lens[i]; j++) {
            char c = row->fields[i][j];
            if (!is_space(c) && c != '\r' && c != '\n')
                return 0;
        }
    return 1;
}

static void one_row(struct proc *p, const struct csv_row *row)
{
    p->line = row->line;
    if (!row->err && all_blank(row)) {
        /* ",,,," lines that spreadsheets leave at the end: not data */
        p->blank_lines++;
        return;
    }
    p->rows_read++;
    if (row->err) {
        const char *col = NULL;
        if (row->err_field >= 1 && row->err_field <= p->nheader)
            for (size_t c = 0; c < p->k->ncols; c++)
                if (p->colmap[c] == (int)row->err_field - 1)
                    col = p->k->cols[c].name;
        sc_row_issue(p, true, col, row->errmsg);
        p->rows_rejected++;
        return;
    }
    if (row->nfields != p->nheader) {
        char msg[96];
        snprintf(msg, sizeof msg, "row has %zu field%s, header has %zu", row->nfields,
                 row->nfields == 1 ? "" : "s", p->nheader);
        sc_row_issue(p, true, NULL, msg);
        p->rows_rejected++;
        return;
    }
    p->row_errors = 0;
    for (size_t c = 0; c < p->k->ncols; c++) {
        struct val *v = &p->v[c];
        memset(v, 0, offsetof(struct val, list));
        v->nlist = 0;
        if (p->colmap[c] < 0)
            continue;
        char *s = row->fields[p->colmap[c]];
        size_t len = row->lens[p->colmap[c]];
        trim_field(&s, &len);
        if (len) {
            v->s = s;
            v->len = len;
            s[len] = '\0'; /* the reader's buffer: ours until the next row */
        }
        sc_check_value(p, &p->k->cols[c], v);
    }
    if (p->row_errors || p->k->map(p) != 0) {
        p->rows_rejected++;
        return;
    }
    p->rows_mapped++;
    sc_chunk_cur(p)->rows++;
    p->batch_rows++;
    p->bundle_rows++;
    if (p->batch_rows >= (p->o->batch_rows ? p->o->batch_rows : SOCIALCARE_DEFAULT_BATCH))
        sc_flush(p);
    else if (p->o->bundle_rows && p->bundle_rows >= p->o->bundle_rows)
        sc_flush_bundle(p);
}

static void next_row(struct proc *p, const struct csv_row *row)
{
    one_row(p, row);
    /* without a Bundle nothing else would hand this chunk on */
    if (p->cur && !p->cur->bundle && p->cur->nissues >= CHUNK_MAX_ISSUES)
        sc_hand(p, false);
}

/* After the last row: the last batch, then the issues of rows after it. */
static void read_end(struct proc *p)
{
    sc_flush(p);
    if (p->cur)
        sc_hand(p, false);
}

/* The rest of the file, on whichever thread reads it; returns the reader's
 * last result (0 at the end, or its error). */
int sc_read_rest(struct proc *p)
{
    struct csv_row row;
    int rrc;
    while ((rrc = csv_reader_next(p->r, &row)) == 1)
        next_row(p, &row);
    read_end(p);
    return rrc;
}

static void today_utc(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char tmp[32]; /* int fields: room for any value, then checked */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int opts_ok(const struct socialcare_opts *o)
{
    if (!o || !o->ods || !sc_valid_ods(o->ods, strlen(o->ods)))
        return 0;
    if (o->prepare && !o->prep_free)
        return 0;
    if (o->today) {
        char d[11];
        if (strlen(o->today) != 10 || o->today[4] != '-' || sc_parse_date(o->today, 10, d) != 0)
            return 0;
    }
    return 1;
}

static struct socialcare_report *report_new(const char *name, const struct socialcare_opts *o)
{
    struct socialcare_report *rep = xcalloc(1, sizeof *rep);
    rep->file = xstrdup(name ? base_name(name) : "");
    rep->org = xstrdup(o->ods);
    rep->feed = o->feed ? xstrdup(o->feed) : NULL;
    return rep;
}

/* Read and process everything from r; r is closed by the caller. */
static int run(struct csv_reader *r, const char *name, const struct socialcare_opts *o,
               socialcare_sink_fn sink, void *ctx, struct socialcare_report *rep)
{
    double t0 = now_ms();
    struct proc *p = xcalloc(1, sizeof *p);
    struct socialcare_batch *b = xcalloc(1, sizeof *b);
    atomic_init(&b->broken, 0);
    b->rep = rep;
    b->o = o;
    b->sink = sink;
    b->ctx = ctx;
    p->o = o;
    p->r = r;
    p->sink = sink;
    p->ctx = ctx;
    p->out = b;
    if (o->today)
        sc_parse_date(o->today, 10, p->today);
    else
        today_utc(p->today);

    struct csv_row row;
    int rc = csv_reader_next(r, &row);
    enum socialcare_kind kind = o->kind ? o->kind : socialcare_kind_from_filename(name);
    rep->kind = kind;
    if (rc < 0) {
        file_error(rep, "cannot read the file: %s", weft_strerror(rc));
        rc = WEFT_EIO;
    } else if (rc == 0) {
        file_error(rep, "empty file: no header row");
        rc = WEFT_EPARSE;
    } else if (row.err && csv_reader_had_bom(r) == 2) {
        file_error(rep, "the file is UTF-16 text, not UTF-8: save the extract as \"CSV UTF-8\"");
        rc = WEFT_EPARSE;
    } else if (row.err) {
        file_error(rep, "header row (line %zu): %s", row.line, row.errmsg);
        rc = WEFT_EPARSE;
    } else {
        rc = header(p, rep, &row, kind);
    }
    if (rc == WEFT_OK) {
        /* the first pipeline_after lines on this thread: a small file stays here */
        int rrc = 1;
        size_t lines = 0;
        while (!(o->pipeline && sink && lines >= o->pipeline_after) &&
               (rrc = csv_reader_next(r, &row)) == 1) {
            next_row(p, &row);
            lines++;
        }
        if (rrc != 1)
            read_end(p);
        else if ((rrc = sc_read_pipelined(p)) == 1)
            rrc = sc_read_rest(p);
        rep->rows_read += p->rows_read;
        rep->rows_mapped += p->rows_mapped;
        rep->rows_rejected += p->rows_rejected;
        rep->blank_lines += p->blank_lines;
        if (rrc < 0) {
            file_error(rep, "read error after line %zu (rows before it were processed)", p->line);
            rc = WEFT_EIO;
        }
    }
    rep->blank_lines += csv_reader_blank_lines(r);
    log_info("csv",
             "extract processed kind=%s feed=%s status=%s rows=%zu mapped=%zu rejected=%zu "
             "loaded=%zu load_failed=%zu warnings=%zu bundles=%zu ms=%.1f",
             socialcare_kind_name(rep->kind), o->feed ? o->feed : "-",
             socialcare_report_status(rep), rep->rows_read, rep->rows_mapped, rep->rows_rejected,
             rep->rows_loaded, rep->rows_load_failed, rep->warnings_count, rep->bundles,
             now_ms() - t0);
    assert(!p->cur && !p->q);
    free(b->lines);
    free(b->failed_lines);
    free(b);
    free(p);
    return rc;
}

int socialcare_process_stream(FILE *fp, const char *name, const struct socialcare_opts *opts,
                              socialcare_sink_fn sink, void *ctx, struct socialcare_report **out)
{
    if (!fp || !out || !opts_ok(opts))
        return WEFT_EINVAL;
    struct csv_reader *r;
    int rc = csv_reader_open(&r, fp, &opts->csv);
    if (rc < 0)
        return rc;
    *out = report_new(name, opts);
    rc = run(r, name, opts, sink, ctx, *out);
    csv_reader_close(r);
    return rc;
}

int socialcare_process_mem(const void *data, size_t len, const char *name,
                           const struct socialcare_opts *opts, socialcare_sink_fn sink, void *ctx,
                           struct socialcare_report **out)
{
    if (!out || !opts_ok(opts))
        return WEFT_EINVAL;
    struct csv_reader *r;
    int rc = csv_reader_open_mem(&r, data, len, &opts->csv);
    if (rc < 0)
        return rc;
    *out = report_new(name, opts);
    rc = run(r, name, opts, sink, ctx, *out);
    csv_reader_close(r);
    return rc;
}

int socialcare_process_file(const char *path, const struct socialcare_opts *opts,
                            socialcare_sink_fn sink, void *ctx, struct socialcare_report **out)
{
    if (!path || !out || !opts_ok(opts))
        return WEFT_EINVAL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        *out = report_new(path, opts);
        (*out)->kind = opts->kind ? opts->kind : socialcare_kind_from_filename(path);
        file_error(*out, "cannot open the file: %s", strerror(e));
        return WEFT_EIO;
    }
    int rc = socialcare_process_stream(fp, path, opts, sink, ctx, out);
    fclose(fp);
    return rc;
}
