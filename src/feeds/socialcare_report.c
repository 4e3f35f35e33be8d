/*
 * socialcare_report.c - the per-file report of a social care extract: issues
 * (errors and warnings, each capped at SOCIALCARE_MAX_ISSUES kept, all
 * counted), its status, its JSON form and writing it beside the file.
 * Only the loading side (the calling thread) touches a report while a file
 * is processed (socialcare_pipeline.c).
 */
#include "feeds/socialcare_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/powerloss.h"

/* ---- report -------------------------------------------------------------- */

/* Count one issue; whether the report has room to keep it. */
bool sc_issue_count(struct socialcare_report *rep, int is_error)
{
    size_t n = is_error ? rep->nerrors : rep->nwarnings;
    if (is_error)
        rep->errors_count++;
    else
        rep->warnings_count++;
    if (n >= SOCIALCARE_MAX_ISSUES) {
        rep->truncated = true;
        return false;
    }
    return true;
}

/* Keep a counted issue; column and reason are taken (heap or NULL). */
void sc_issue_keep(struct socialcare_report *rep, int is_error, size_t line, char *column,
                   char *reason)
{
    struct socialcare_issue **list = is_error ? &rep->errors : &rep->warnings;
    size_t *n = is_error ? &rep->nerrors : &rep->nwarnings;
    /* capacity doubles whenever n reaches a power of two (0 -> 1 -> 2 -> 4 ...) */
    if ((*n & (*n - 1)) == 0) {
        size_t cap = *n ? *n * 2 : 1;
        *list = xrealloc(*list, cap * sizeof **list);
    }
    struct socialcare_issue *is = &(*list)[(*n)++];
    is->line = line;
    is->column = column;
    is->reason = reason;
}

void sc_issue_add(struct socialcare_report *rep, int is_error, size_t line, const char *column,
                  const char *fmt, ...)
{
    if (!sc_issue_count(rep, is_error))
        return;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    sc_issue_keep(rep, is_error, line, column ? xstrdup(column) : NULL, buf_detach(&b, NULL));
}

void socialcare_report_free(struct socialcare_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->nerrors; i++) {
        free(rep->errors[i].column);
        free(rep->errors[i].reason);
    }
    for (size_t i = 0; i < rep->nwarnings; i++) {
        free(rep->warnings[i].column);
        free(rep->warnings[i].reason);
    }
    free(rep->errors);
    free(rep->warnings);
    free(rep->file);
    free(rep->org);
    free(rep->feed);
    free(rep->file_error);
    free(rep);
}

const char *socialcare_report_status(const struct socialcare_report *rep)
{
    if (rep->file_error)
        return "failed";
    if (rep->rows_read > 0 && rep->rows_loaded == 0)
        return "failed";
    if (rep->rows_rejected || rep->rows_load_failed)
        return "partial";
    return "ok";
}

static json_t *issues_json(const struct socialcare_issue *is, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:I,s:s?,s:s}", "line", (json_int_t)is[i].line,
                                           "column", is[i].column, "reason", is[i].reason));
    return a;
}

json_t *socialcare_report_json(const struct socialcare_report *rep)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(rep->file ? rep->file : ""));
    json_object_set_new(o, "kind", json_string(socialcare_kind_name(rep->kind)));
    json_object_set_new(o, "org", json_string(rep->org ? rep->org : ""));
    json_object_set_new(o, "feed", rep->feed ? json_string(rep->feed) : json_null());
    json_object_set_new(o, "status", json_string(socialcare_report_status(rep)));
    json_object_set_new(o, "file_error",
                        rep->file_error ? json_string(rep->file_error) : json_null());
#define NUM(f) json_object_set_new(o, #f, json_integer((json_int_t)rep->f))
    NUM(rows_read);
    NUM(rows_mapped);
    NUM(rows_rejected);
    NUM(rows_loaded);
    NUM(rows_load_failed);
    NUM(errors_count);
    NUM(warnings_count);
    NUM(blank_lines);
    NUM(resources);
    NUM(bundles);
#undef NUM
    json_object_set_new(o, "errors", issues_json(rep->errors, rep->nerrors));
    json_object_set_new(o, "warnings", issues_json(rep->warnings, rep->nwarnings));
    json_object_set_new(o, "truncated", json_boolean(rep->truncated));
    return o;
}

int socialcare_report_write(const struct socialcare_report *rep, const char *path)
{
    struct buf tmp = BUF_INIT;
    buf_addf(&tmp, "%s.tmp", path);
    json_t *o = socialcare_report_json(rep);
    int rc = WEFT_OK;
    FILE *fp = fopen(tmp.data, "w");
    if (!fp) {
        rc = WEFT_EIO;
    } else {
        powerloss_created(tmp.data);
        if (json_dumpf(o, fp, JSON_INDENT(2)) != 0 || fputc('\n', fp) == EOF)
            rc = WEFT_EIO;
        if (fclose(fp) != 0)
            rc = WEFT_EIO;
        /* content durable before the name: a power cut leaves the old
         * report or the whole new one, never an empty one */
        if (rc == WEFT_OK &&
            (powerloss_sync_file(tmp.data) != 0 || powerloss_rename(tmp.data, path) != 0))
            rc = WEFT_EIO;
        if (rc != WEFT_OK)
            remove(tmp.data);
    }
    json_decref(o);
    buf_release(&tmp);
    return rc;
}
