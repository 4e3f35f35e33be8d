/*
 * fuzz_csv.c - libFuzzer target for the CSV reader and the social care
 * extract mapper (feeds/csv.h, feeds/socialcare.h).
 *
 * The first input byte picks the extract kind (and small reader limits so
 * the limit paths are reached); the rest is the file.  Checked invariants:
 *   - the reader: every good record's fields are valid UTF-8 with the stated
 *     lengths, line numbers never go backwards, within the limits;
 *   - reading from a FILE gives exactly what reading from memory gives;
 *   - the mapper: rows_read = rows_mapped + rows_rejected, every Bundle
 *     serialises to JSON that parses back equal, and the report serialises.
 * Seeds: tests/fuzz/corpus/fuzz_csv/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "feeds/csv.h"
#include "feeds/socialcare.h"

static void check_reader(const uint8_t *data, size_t size, const struct csv_opts *o)
{
    struct csv_reader *r;
    if (csv_reader_open_mem(&r, data, size, o) != 0)
        abort();
    FILE *fp = size ? fmemopen((void *)data, size, "rb") : NULL;
    struct csv_reader *rf = NULL;
    if (fp && csv_reader_open(&rf, fp, o) != 0)
        abort();
    struct csv_row row, rowf;
    size_t last = 0;
    int rc, rcf;
    for (;;) {
        rc = csv_reader_next(r, &row);
        if (rf) {
            rcf = csv_reader_next(rf, &rowf);
            if (rcf != rc)
                abort();
            if (rc == 1 && (rowf.line != row.line || rowf.err != row.err ||
                            rowf.nfields != row.nfields || rowf.end_line != row.end_line))
                abort();
        }
        if (rc != 1)
            break;
        if (row.line < last || row.end_line < row.line)
            abort();
        last = row.end_line;
        if (row.err) {
            if (!row.errmsg)
                abort();
            continue;
        }
        size_t total = 0;
        for (size_t i = 0; i < row.nfields; i++) {
            if (rf && (rowf.lens[i] != row.lens[i] ||
                       memcmp(rowf.fields[i], row.fields[i], row.lens[i]) != 0))
                abort();
            if (strlen(row.fields[i]) != row.lens[i] ||
                !csv_utf8_valid(row.fields[i], row.lens[i]) || row.lens[i] > o->max_field)
                abort();
            total += row.lens[i];
        }
        if (total > o->max_row || row.nfields > o->max_fields)
            abort();
    }
    if (rc != 0)
        abort();
    if (csv_reader_offset(r) != size)
        abort();
    csv_reader_close(r);
    if (rf)
        csv_reader_close(rf);
    if (fp)
        fclose(fp);
}

static int roundtrip_sink(void *ctx, json_t *bundle, struct socialcare_batch *batch)
{
    size_t *n = ctx;
    char *s = json_dumps(bundle, JSON_COMPACT);
    if (!s)
        abort();
    json_error_t err;
    json_t *back = json_loads(s, 0, &err);
    if (!back || !json_equal(back, bundle))
        abort();
    json_decref(back);
    free(s);
    *n += socialcare_batch_entries(batch);
    /* refuse every seventh entry to exercise the failure accounting */
    for (size_t i = 0; i < socialcare_batch_entries(batch); i += 7)
        socialcare_batch_fail(batch, i, "fuzz");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        log_set_level(LOG_OFF);
        quiet = 1;
    }
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    struct csv_opts o = {0};
    if (sel & 0x80) {
        o.max_field = 16;
        o.max_row = 64;
        o.max_fields = 8;
    } else {
        o.max_field = CSV_DEFAULT_MAX_FIELD;
        o.max_row = CSV_DEFAULT_MAX_ROW;
        o.max_fields = CSV_DEFAULT_MAX_FIELDS;
    }
    check_reader(data, size, &o);

    struct socialcare_opts so = {
        .ods = "FUZZ1",
        .feed = "fuzz",
        .today = "2026-11-24",
        .kind = (enum socialcare_kind)(sel % 7), /* 0: from the header */
        .batch_rows = 1 + (sel >> 4 & 7),
        .csv = o,
    };
    size_t entries = 0;
    struct socialcare_report *rep = NULL;
    socialcare_process_mem(data, size, "fuzz.csv", &so, roundtrip_sink, &entries, &rep);
    if (!rep)
        abort();
    if (rep->rows_read != rep->rows_mapped + rep->rows_rejected)
        abort();
    if (rep->rows_mapped != rep->rows_loaded + rep->rows_load_failed)
        abort();
    if (entries != rep->resources)
        abort();
    json_t *j = socialcare_report_json(rep);
    char *s = json_dumps(j, 0);
    if (!s)
        abort();
    free(s);
    json_decref(j);
    socialcare_report_free(rep);
    return 0;
}
