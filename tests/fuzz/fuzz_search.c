/*
 * fuzz_search.c - libFuzzer target for the FHIR search parameter parser
 * (fhir/search.h): fhir_search_parse, the date ranges, the paging cursor and
 * the paging links.
 *
 * Input: the first byte picks the search (a type search of Patient,
 * Observation or Condition, or $everything) and whether handling is lenient;
 * the rest is a query string, decoded by url_query_parse as the server
 * does.  Checked invariants, any violation aborts:
 *   - a refusal has a message (and the parse never half-succeeds);
 *   - an accepted search stays within the limits the store relies on:
 *     terms <= FHIR_SEARCH_MAX_TERMS, codes, categories and ids <=
 *     FHIR_SEARCH_MAX_VALUES, page size <= FHIR_COUNT_MAX, parameters <=
 *     FHIR_SEARCH_MAX_PARAMS, warnings <= FHIR_SEARCH_MAX_WARNINGS;
 *   - the paging link round-trips: its query parses back to the same
 *     parameters, and parsing those gives the same decision and filters;
 *   - a decoded cursor encodes back to a cursor that decodes identically;
 *   - every date value's range is two NUL-terminated bounds, lower < upper
 *     when both are set.
 * Seeds: tests/fuzz/corpus/fuzz_search/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "fhir/search.h"
#include "core/url.h"

static const char *const types[] = {"Patient", "Observation", "Condition", NULL};

static bool same_str(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
}

/* The parts of two parses that decide what the store is asked. */
static bool same_search(const struct fhir_search *a, const struct fhir_search *b)
{
    if (a->q.nterms != b->q.nterms || a->q.ncodes != b->q.ncodes ||
        a->q.ncategories != b->q.ncategories || a->nids != b->nids || a->count != b->count ||
        a->summary_count != b->summary_count || a->no_total != b->no_total ||
        a->q.sort != b->q.sort || !same_str(a->patient_id, b->patient_id) ||
        !same_str(a->q.date_ge, b->q.date_ge) || !same_str(a->q.date_lt, b->q.date_lt) ||
        !same_str(a->q.lastupd_ge, b->q.lastupd_ge) || !same_str(a->q.lastupd_lt, b->q.lastupd_lt))
        return false;
    for (int i = 0; i < a->q.nterms; i++)
        if (!same_str(a->q.terms[i].param, b->q.terms[i].param) ||
            !same_str(a->q.terms[i].value, b->q.terms[i].value) ||
            a->q.terms[i].prefix != b->q.terms[i].prefix)
            return false;
    for (int i = 0; i < a->q.ncodes; i++)
        if (!same_str(a->q.codes[i], b->q.codes[i]))
            return false;
    for (int i = 0; i < a->nids; i++)
        if (!same_str(a->ids[i], b->ids[i]))
            return false;
    return true;
}

static void check_limits(const struct fhir_search *fs)
{
    if (fs->q.nterms > FHIR_SEARCH_MAX_TERMS || fs->q.ncodes > FHIR_SEARCH_MAX_VALUES ||
        fs->q.ncategories > FHIR_SEARCH_MAX_VALUES || fs->nids > FHIR_SEARCH_MAX_VALUES ||
        fs->count < 0 || fs->count > FHIR_COUNT_MAX || fs->q.limit != fs->count ||
        fs->nwarnings > FHIR_SEARCH_MAX_WARNINGS)
        abort();
    if (fs->summary_count != (fs->count == 0))
        abort();
}

static void check_cursor(const struct fhir_search *fs)
{
    if (!fs->cursor)
        return;
    struct buf b = BUF_INIT;
    fhir_search_cursor_encode(&b, fs->snapshot, fs->total, fs->after);
    int64_t snap = 0, total = 0;
    char *after = NULL;
    if (fhir_search_cursor_decode(b.data, &snap, &total, &after) != 0 || snap != fs->snapshot ||
        total != fs->total || !same_str(after, fs->after))
        abort();
    free(after);
    buf_release(&b);
}

static void check_dates(const struct url_kv *args, int nargs)
{
    for (int i = 0; i < nargs; i++) {
        char ge[32], lt[32];
        memset(ge, 'x', sizeof ge);
        memset(lt, 'x', sizeof lt);
        if (fhir_search_date_range(args[i].value, ge, lt) != 0)
            continue;
        if (!memchr(ge, 0, sizeof ge) || !memchr(lt, 0, sizeof lt))
            abort();
        if (ge[0] && lt[0] && strcmp(ge, lt) >= 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    bool lenient = sel & 0x10;
    enum fhir_search_mode mode = (sel & 3) == 3 ? FHIR_SEARCH_EVERYTHING : FHIR_SEARCH_TYPE;
    const char *type = mode == FHIR_SEARCH_EVERYTHING ? NULL : types[sel & 3];

    struct url_kv *args = NULL;
    int nargs = 0;
    if (url_query_parse((const char *)data + 1, size - 1, &args, &nargs, 256) != 0) {
        url_kv_free(args, nargs);
        return 0;
    }
    check_dates(args, nargs);

    struct fhir_search fs;
    int rc = fhir_search_parse(&fs, mode, type, args, nargs, lenient);
    if (rc != 0) {
        if (rc != WEFT_EINVAL || !fs.err_msg[0] || !memchr(fs.err_msg, 0, sizeof fs.err_msg))
            abort();
    } else {
        if (fs.err_msg[0] || nargs > FHIR_SEARCH_MAX_PARAMS)
            abort();
        check_limits(&fs);
        check_cursor(&fs);
    }

    /* the paging link's query parses back to the same parameters, and
     * those to the same search */
    struct buf url = BUF_INIT;
    fhir_search_page_url(&url, "", args, nargs, fs.cursor);
    struct url_kv *back = NULL;
    int nback = 0;
    const char *q = url.data[0] == '?' ? url.data + 1 : url.data;
    if (url_query_parse(q, strlen(q), &back, &nback, 512) != 0)
        abort();
    int want = 0;
    for (int i = 0; i < nargs; i++)
        want += strcmp(args[i].name, "_cursor") != 0;
    want += fs.cursor != NULL;
    if (nback != want)
        abort();
    struct fhir_search fs2;
    int rc2 = fhir_search_parse(&fs2, mode, type, back, nback, lenient);
    /* the link moves _cursor to the end; only an accepted search is paged */
    if (rc == 0 && (rc2 != 0 || !same_search(&fs, &fs2)))
        abort();
    fhir_search_free(&fs2);
    url_kv_free(back, nback);
    buf_release(&url);

    fhir_search_free(&fs);
    url_kv_free(args, nargs);
    return 0;
}
