/*
 * out.c - the output tree of weft synth (see out.h).
 *
 * Files are opened lazily, the first time a batch writes to a stream, and
 * closed when the batch ends, so at most one file per organisation and kind
 * is open and the number of open descriptors stays near the number of
 * organisations (~230).  stdio buffering is enlarged: the workload is many
 * small appends.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "domain/category.h"
#include "synth/out.h"

_Static_assert(SYNTH_NCAT == CATEGORY_COUNT, "synth categories follow domain/category.h");

static const char *const csv_base[SYNTH_OUT_KINDS] = {
    NULL, NULL, "people", "contacts", "assessments", "services", "safeguarding", "end_of_life"};

static int mkdirs(struct synth_out *o, const char *path)
{
    char tmp[1024];
    size_t n = strlen(path);
    if (n >= sizeof tmp) {
        snprintf(o->err, sizeof o->err, "path too long");
        return WEFT_EINVAL;
    }
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                snprintf(o->err, sizeof o->err, "cannot create directory '%.160s': %s", tmp,
                         strerror(errno));
                return WEFT_EIO;
            }
            tmp[i] = c;
        }
    }
    return WEFT_OK;
}

static FILE *open_in(struct synth_out *o, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", o->root, rel);
    FILE *f = fopen(path, "wb");
    if (!f)
        snprintf(o->err, sizeof o->err, "cannot create '%.160s': %s", path, strerror(errno));
    return f;
}

int synth_out_open(struct synth_out *o, const char *root, const struct synth_region *rg,
                   const struct synth_faults *f)
{
    memset(o, 0, sizeof *o);
    o->root = xstrdup(root);
    o->rg = rg;
    o->faults = *f;
    o->batch = -1;
    o->files = xcalloc((size_t)rg->norgs * SYNTH_OUT_KINDS, sizeof *o->files);
    for (int i = 0; i < rg->norgs * SYNTH_OUT_KINDS; i++)
        o->files[i].batch = -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", root);
    if (access(path, F_OK) == 0) {
        snprintf(o->err, sizeof o->err,
                 "'%s' already holds a generated region (manifest.json); use an empty directory",
                 root);
        return WEFT_EEXIST;
    }
    int rc;
    for (int i = 0; i < rg->norgs; i++) {
        const struct synth_org *org = &rg->orgs[i];
        if (org->feeds & SYNTH_FEED_HL7) {
            snprintf(path, sizeof path, "%s/feeds/%s/hl7", root, org->ods);
            if ((rc = mkdirs(o, path)) != 0)
                return rc;
        }
        if (org->feeds & SYNTH_FEED_FHIR) {
            snprintf(path, sizeof path, "%s/feeds/%s/fhir", root, org->ods);
            if ((rc = mkdirs(o, path)) != 0)
                return rc;
        }
        if (org->feeds & SYNTH_FEED_CSV) {
            snprintf(path, sizeof path, "%s/feeds/%s/csv", root, org->ods);
            if ((rc = mkdirs(o, path)) != 0)
                return rc;
        }
    }
    snprintf(path, sizeof path, "%s/truth", root);
    if ((rc = mkdirs(o, path)) != 0)
        return rc;
    if (!(o->t_people = open_in(o, "truth/people.csv")) ||
        !(o->t_records = open_in(o, "truth/records.csv")) ||
        !(o->t_faults = open_in(o, "truth/faults.csv")))
        return WEFT_EIO;
    fputs("person,nhs_number,title,family,given,middle,sex,birth_date,address,town,postcode,"
          "gp_ods,conditions\n",
          o->t_people);
    fputs("person,org,feed_kind,id_system,local_id,nhs_number_sent,duplicate\n", o->t_records);
    fputs("kind,org,file,record,person,detail\n", o->t_faults);
    return WEFT_OK;
}

static void file_name(struct synth_out *o, int org, enum synth_file_kind kind, long batch,
                      char *out, size_t len)
{
    const char *ods = o->rg->orgs[org].ods;
    if (kind == SYNTH_OUT_HL7)
        snprintf(out, len, "feeds/%s/hl7/%s-%06ld.hl7", ods, ods, batch);
    else if (kind == SYNTH_OUT_FHIR)
        snprintf(out, len, "feeds/%s/fhir/%s-%06ld.ndjson", ods, ods, batch);
    else
        snprintf(out, len, "feeds/%s/csv/%s_%06ld.csv", ods, csv_base[kind], batch);
}

static void close_file(struct synth_out *o, struct synth_file *sf)
{
    if (sf->f) {
        if (fclose(sf->f) != 0)
            snprintf(o->err, sizeof o->err, "write error on '%s'", sf->rel);
        sf->f = NULL;
    }
    sf->batch = -1;
}

static int open_file(struct synth_out *o, struct synth_file *sf, int org, enum synth_file_kind kind,
                     long b);

void synth_out_set_batch(struct synth_out *o, long b)
{
    for (int i = 0; i < o->rg->norgs * SYNTH_OUT_KINDS; i++)
        close_file(o, &o->files[i]);
    o->batch = b;
    /* records queued as late land at the start of the next batch's file,
     * where the truth already said they would */
    for (int i = 0; i < o->rg->norgs * SYNTH_OUT_KINDS; i++)
        if (o->files[i].nlate)
            open_file(o, &o->files[i], i / SYNTH_OUT_KINDS,
                      (enum synth_file_kind)(i % SYNTH_OUT_KINDS), b);
}

static long newlines(const char *s, size_t n)
{
    long c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    return c;
}

/* Open sf for batch b (writing the CSV header and the queued late records). */
static int open_file(struct synth_out *o, struct synth_file *sf, int org, enum synth_file_kind kind,
                     long b)
{
    file_name(o, org, kind, b, sf->rel, sizeof sf->rel);
    sf->f = open_in(o, sf->rel);
    if (!sf->f)
        return WEFT_EIO;
    setvbuf(sf->f, NULL, _IOFBF, 1 << 16);
    sf->batch = b;
    sf->next = 1;
    if (sf->nbatches == sf->capbatches) {
        sf->capbatches = sf->capbatches ? sf->capbatches * 2 : 8;
        sf->batches = xrealloc(sf->batches, sizeof *sf->batches * (size_t)sf->capbatches);
    }
    sf->batches[sf->nbatches++] = (int)b;
    if (kind >= SYNTH_OUT_CSV_PEOPLE) {
        const char *h = synth_csv_header(kind);
        fputs(h, sf->f);
        sf->next = 2;
    }
    if (sf->late.len) {
        fwrite(sf->late.data, 1, sf->late.len, sf->f);
        sf->next +=
            kind >= SYNTH_OUT_CSV_PEOPLE ? newlines(sf->late.data, sf->late.len) : sf->nlate;
        buf_reset(&sf->late);
        sf->nlate = 0;
    }
    return WEFT_OK;
}

int synth_out_emit(struct synth_out *o, int org, enum synth_file_kind kind, const char *data,
                   size_t len, bool late, const char **rel, long *recno)
{
    struct synth_file *sf = &o->files[org * SYNTH_OUT_KINDS + kind];
    o->records_per_kind[kind]++;
    sf->records++;
    if (late) {
        /* lands in the next batch's file, after the ones queued before it */
        file_name(o, org, kind, o->batch + 1, o->late_rel, sizeof o->late_rel);
        *rel = o->late_rel;
        *recno = (kind >= SYNTH_OUT_CSV_PEOPLE ? 2 + newlines(sf->late.data, sf->late.len)
                                               : 1 + sf->nlate);
        buf_add(&sf->late, data, len);
        sf->nlate++;
        return WEFT_OK;
    }
    if (sf->batch != o->batch) {
        close_file(o, sf);
        int rc = open_file(o, sf, org, kind, o->batch);
        if (rc)
            return rc;
    }
    *rel = sf->rel;
    *recno = sf->next;
    if (fwrite(data, 1, len, sf->f) != len) {
        snprintf(o->err, sizeof o->err, "write error on '%s'", sf->rel);
        return WEFT_EIO;
    }
    sf->next += kind >= SYNTH_OUT_CSV_PEOPLE ? newlines(data, len) : 1;
    return WEFT_OK;
}

bool synth_out_roll(struct synth_out *o, struct synth_rng *r, enum synth_fault k)
{
    o->opportunities[k]++;
    double u = synth_rng_unit(r);
    if (u < o->faults.rate[k]) {
        o->injected[k]++;
        return true;
    }
    return false;
}

/* CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void synth_out_fault(struct synth_out *o, enum synth_fault k, int org, const char *rel, long recno,
                     const char *person, const char *detail)
{
    fprintf(o->t_faults, "%s,%s,%s,%ld,%s,", synth_fault_name(k), o->rg->orgs[org].ods,
            rel ? rel : "", recno, person);
    csv_field(o->t_faults, detail ? detail : "");
    fputc('\n', o->t_faults);
}

void synth_pending_add(struct synth_pending *pd, enum synth_fault k, const char *fmt, ...)
{
    buf_addf(&pd->lines, "%d\t", (int)k);
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&pd->lines, fmt, ap);
    va_end(ap);
    buf_addc(&pd->lines, '\n');
}

void synth_pending_log(struct synth_out *o, struct synth_pending *pd, int org, const char *rel,
                       long recno, const char *person)
{
    char *line = pd->lines.data;
    char *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
        *nl = 0;
        char *tab = strchr(line, '\t');
        int k = atoi(line);
        synth_out_fault(o, (enum synth_fault)k, org, rel, recno, person, tab ? tab + 1 : "");
        line = nl + 1;
    }
    buf_reset(&pd->lines);
}

void synth_out_record(struct synth_out *o, const char *person, int org, const char *feed_kind,
                      const char *id_system, const char *local_id, const char *nhs_sent,
                      bool duplicate)
{
    fprintf(o->t_records, "%s,%s,%s,%s,%s,%s,%d\n", person, o->rg->orgs[org].ods, feed_kind,
            id_system, local_id, nhs_sent ? nhs_sent : "", duplicate ? 1 : 0);
}

static void json_files(FILE *m, struct synth_out *o, int org, int from, int to)
{
    /* Files in sending order: batch by batch, and within a batch the kinds in
     * enum order (CSV people before the rows that point at them). */
    int pos[SYNTH_OUT_KINDS] = {0};
    bool first = true;
    fputs("\"files\": [", m);
    for (;;) {
        int best = -1;
        for (int k = from; k <= to; k++) {
            struct synth_file *sf = &o->files[org * SYNTH_OUT_KINDS + k];
            if (pos[k] < sf->nbatches &&
                (best < 0 ||
                 sf->batches[pos[k]] < o->files[org * SYNTH_OUT_KINDS + best].batches[pos[best]]))
                best = k;
        }
        if (best < 0)
            break;
        struct synth_file *sf = &o->files[org * SYNTH_OUT_KINDS + best];
        char rel[192];
        file_name(o, org, (enum synth_file_kind)best, sf->batches[pos[best]], rel, sizeof rel);
        fprintf(m, "%s\"%s\"", first ? "" : ", ", rel);
        first = false;
        pos[best]++;
    }
    fputs("]", m);
}

static long stream_records(struct synth_out *o, int org, int from, int to)
{
    long n = 0;
    for (int k = from; k <= to; k++)
        n += o->files[org * SYNTH_OUT_KINDS + k].records;
    return n;
}

static void lower(const char *s, char *out, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    out[i] = 0;
}

static int write_manifest(struct synth_out *o, long people, unsigned long long seed,
                          const char *asof)
{
    FILE *m = open_in(o, "manifest.json.tmp");
    if (!m)
        return WEFT_EIO;
    fprintf(m,
            "{\n  \"generator\": \"weft synth\",\n  \"format\": 1,\n  \"seed\": %llu,\n"
            "  \"people\": %ld,\n  \"as_of\": \"%s\",\n  \"organisations\": [\n",
            seed, people, asof);
    for (int i = 0; i < o->rg->norgs; i++) {
        const struct synth_org *org = &o->rg->orgs[i];
        char lo[16];
        lower(org->ods, lo, sizeof lo);
        struct buf name = BUF_INIT; /* names may hold quotes */
        buf_add_json_str(&name, org->name, strlen(org->name));
        fprintf(m, "    {\"ods\": \"%s\", \"name\": \"%s\", \"type\": \"%s\", \"feeds\": [",
                org->ods, name.data, synth_org_type_name(org->type));
        buf_release(&name);
        bool first = true;
        if (org->feeds & SYNTH_FEED_HL7) {
            fprintf(m,
                    "\n      {\"kind\": \"hl7v2\", \"name\": \"%s-hl7v2\", \"facility\": \"%s\", "
                    "\"records\": %ld, ",
                    lo, org->ods, stream_records(o, i, SYNTH_OUT_HL7, SYNTH_OUT_HL7));
            json_files(m, o, i, SYNTH_OUT_HL7, SYNTH_OUT_HL7);
            fputs("}", m);
            first = false;
        }
        if (org->feeds & SYNTH_FEED_FHIR) {
            fprintf(m, "%s\n      {\"kind\": \"fhir\", \"name\": \"%s-fhir\", \"records\": %ld, ",
                    first ? "" : ",", lo, stream_records(o, i, SYNTH_OUT_FHIR, SYNTH_OUT_FHIR));
            json_files(m, o, i, SYNTH_OUT_FHIR, SYNTH_OUT_FHIR);
            fputs("}", m);
            first = false;
        }
        if (org->feeds & SYNTH_FEED_CSV) {
            fprintf(m, "%s\n      {\"kind\": \"csv\", \"name\": \"%s-csv\", \"records\": %ld, ",
                    first ? "" : ",", lo,
                    stream_records(o, i, SYNTH_OUT_CSV_PEOPLE, SYNTH_OUT_CSV_EOL));
            json_files(m, o, i, SYNTH_OUT_CSV_PEOPLE, SYNTH_OUT_CSV_EOL);
            fputs("}", m);
        }
        fprintf(m, "]}%s\n", i + 1 < o->rg->norgs ? "," : "");
    }
    fputs("  ]\n}\n", m);
    if (fclose(m) != 0)
        return WEFT_EIO;
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/manifest.json.tmp", o->root);
    snprintf(b, sizeof b, "%s/manifest.json", o->root);
    if (rename(a, b) != 0) {
        snprintf(o->err, sizeof o->err, "cannot rename manifest: %s", strerror(errno));
        return WEFT_EIO;
    }
    return WEFT_OK;
}

static int write_summary(struct synth_out *o, long people, unsigned long long seed,
                         const char *asof)
{
    FILE *s = open_in(o, "truth/summary.json");
    if (!s)
        return WEFT_EIO;
    fprintf(s, "{\n  \"seed\": %llu,\n  \"people\": %ld,\n  \"as_of\": \"%s\",\n", seed, people,
            asof);
    fprintf(
        s, "  \"records\": {\"hl7v2_messages\": %ld, \"fhir_bundles\": %ld, \"csv_rows\": %ld},\n",
        o->records_per_kind[SYNTH_OUT_HL7], o->records_per_kind[SYNTH_OUT_FHIR],
        o->records_per_kind[SYNTH_OUT_CSV_PEOPLE] + o->records_per_kind[SYNTH_OUT_CSV_CONTACTS] +
            o->records_per_kind[SYNTH_OUT_CSV_ASSESSMENTS] +
            o->records_per_kind[SYNTH_OUT_CSV_SERVICES] +
            o->records_per_kind[SYNTH_OUT_CSV_SAFEGUARDING] +
            o->records_per_kind[SYNTH_OUT_CSV_EOL]);
    fputs("  \"faults\": {\n", s);
    for (int k = 0; k < SYNTH_F_COUNT; k++)
        fprintf(s, "    \"%s\": {\"rate\": %.6g, \"opportunities\": %ld, \"injected\": %ld}%s\n",
                synth_fault_name((enum synth_fault)k), o->faults.rate[k], o->opportunities[k],
                o->injected[k], k + 1 < SYNTH_F_COUNT ? "," : "");
    fputs("  },\n  \"categories\": {\n", s);
    for (int c = 0; c < SYNTH_NCAT; c++)
        fprintf(s, "    \"%s\": %ld%s\n", category_names[c], o->cat[c],
                c + 1 < SYNTH_NCAT ? "," : "");
    fputs("  }\n}\n", s);
    return fclose(s) == 0 ? WEFT_OK : WEFT_EIO;
}

int synth_out_close(struct synth_out *o, bool ok, long people, unsigned long long seed,
                    const char *asof)
{
    int rc = WEFT_OK;
    if (o->files) {
        /* late records still queued go to one more file per stream */
        synth_out_set_batch(o, o->batch + 1);
        for (int i = 0; i < o->rg->norgs * SYNTH_OUT_KINDS; i++)
            close_file(o, &o->files[i]);
        if (o->err[0])
            rc = WEFT_EIO;
    }
    FILE **tf[] = {&o->t_people, &o->t_records, &o->t_faults};
    for (size_t i = 0; i < 3; i++)
        if (*tf[i] && fclose(*tf[i]) != 0)
            rc = WEFT_EIO;
    if (ok && rc == 0)
        rc = write_summary(o, people, seed, asof);
    if (ok && rc == 0)
        rc = write_manifest(o, people, seed, asof);
    if (o->files)
        for (int i = 0; i < o->rg->norgs * SYNTH_OUT_KINDS; i++) {
            buf_release(&o->files[i].late);
            free(o->files[i].batches);
        }
    free(o->files);
    free(o->root);
    o->files = NULL;
    o->root = NULL;
    return rc;
}
