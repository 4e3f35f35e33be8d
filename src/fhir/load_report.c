/*
 * load_report.c - the loading pipeline's report (load.h: struct
 * load_report): counts per resource type and the rejections, each with
 * file, entry index or NDJSON line and reason, at most LOAD_MAX_REJECTIONS
 * kept (all are counted).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fhir/load.h"
#include "fhir/load_int.h"

void load_report_init(struct load_report *r)
{
    memset(r, 0, sizeof *r);
}

void load_report_free(struct load_report *r)
{
    for (int i = 0; i < r->nrejections; i++) {
        free(r->rejections[i].file);
        free(r->rejections[i].type);
        free(r->rejections[i].reason);
    }
    free(r->rejections);
    free(r->types);
    memset(r, 0, sizeof *r);
}

static int cmp_type(const void *a, const void *b)
{
    return strcmp(((const struct load_type_count *)a)->type,
                  ((const struct load_type_count *)b)->type);
}

void load_report_finish(struct load_report *r)
{
    if (r->ntypes > 1)
        qsort(r->types, (size_t)r->ntypes, sizeof *r->types, cmp_type);
}

void load_report_total(const struct load_report *r, struct load_type_count *sum)
{
    memset(sum, 0, sizeof *sum);
    snprintf(sum->type, sizeof sum->type, "total");
    for (int i = 0; i < r->ntypes; i++) {
        sum->stored += r->types[i].stored;
        sum->updated += r->types[i].updated;
        sum->unchanged += r->types[i].unchanged;
        sum->deleted += r->types[i].deleted;
        sum->rejected += r->types[i].rejected;
        sum->not_shareable += r->types[i].not_shareable;
    }
}

struct load_type_count *type_row(struct load_report *r, const char *type)
{
    if (!type || !*type)
        type = "(unknown)";
    for (int i = 0; i < r->ntypes; i++)
        if (strcmp(r->types[i].type, type) == 0)
            return &r->types[i];
    r->types = xrealloc(r->types, sizeof *r->types * (size_t)(r->ntypes + 1));
    struct load_type_count *t = &r->types[r->ntypes++];
    memset(t, 0, sizeof *t);
    snprintf(t->type, sizeof t->type, "%.63s", type);
    return t;
}

void add_rejection_at(struct load_report *r, const char *file, long entry, bool line,
                      const char *type, const char *reason)
{
    r->rejected++;
    type_row(r, type)->rejected++;
    if (r->nrejections >= LOAD_MAX_REJECTIONS)
        return;
    r->rejections = xrealloc(r->rejections, sizeof *r->rejections * (size_t)(r->nrejections + 1));
    struct load_rejection *j = &r->rejections[r->nrejections++];
    j->file = file ? xstrdup(file) : NULL;
    j->entry = entry;
    j->line = line;
    j->type = type ? xstrdup(type) : NULL;
    j->reason = xstrdup(reason);
}

void add_rejection(struct load_report *r, const char *file, long entry, const char *type,
                   const char *reason)
{
    add_rejection_at(r, file, entry, false, type, reason);
}

void load_report_mark(const struct load_report *r, struct load_report *mark)
{
    *mark = *r;
    mark->rejections = NULL;
    mark->types = xmalloc(sizeof *r->types * (size_t)(r->ntypes ? r->ntypes : 1));
    if (r->ntypes)
        memcpy(mark->types, r->types, sizeof *r->types * (size_t)r->ntypes);
}

void load_report_rewind(struct load_report *r, const struct load_report *mark)
{
    for (int i = mark->nrejections; i < r->nrejections; i++) {
        free(r->rejections[i].file);
        free(r->rejections[i].type);
        free(r->rejections[i].reason);
    }
    /* rows are only appended until load_report_finish sorts them, so the
     * mark's rows are the first ntypes */
    if (mark->ntypes)
        memcpy(r->types, mark->types, sizeof *r->types * (size_t)mark->ntypes);
    struct load_rejection *rej = r->rejections;
    struct load_type_count *types = r->types;
    *r = *mark;
    r->rejections = rej;
    r->types = types;
}

void load_report_mark_free(struct load_report *mark)
{
    free(mark->types);
    mark->types = NULL;
}

void load_report_merge(struct load_report *dst, const struct load_report *src)
{
    for (int i = 0; i < src->ntypes; i++) {
        const struct load_type_count *f = &src->types[i];
        struct load_type_count *t = type_row(dst, f->type);
        t->stored += f->stored;
        t->updated += f->updated;
        t->unchanged += f->unchanged;
        t->deleted += f->deleted;
        t->rejected += f->rejected;
        t->not_shareable += f->not_shareable;
    }
    dst->rejected += src->rejected;
    dst->files += src->files;
    dst->bundles += src->bundles;
    dst->entries += src->entries;
    dst->persons_linked += src->persons_linked;
    dst->invalid_nhs += src->invalid_nhs;
    for (int i = 0; i < src->nrejections && dst->nrejections < LOAD_MAX_REJECTIONS; i++) {
        const struct load_rejection *f = &src->rejections[i];
        dst->rejections =
            xrealloc(dst->rejections, sizeof *dst->rejections * (size_t)(dst->nrejections + 1));
        struct load_rejection *j = &dst->rejections[dst->nrejections++];
        j->file = f->file ? xstrdup(f->file) : NULL;
        j->entry = f->entry;
        j->line = f->line;
        j->type = f->type ? xstrdup(f->type) : NULL;
        j->reason = xstrdup(f->reason);
    }
}
