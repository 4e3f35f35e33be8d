/*
 * test_synth.c - weft synth: determinism, validity of every generated record
 * with the real parsers (HL7 v2 parser and mapper, jansson + FHIR structure
 * checks, the social care CSV validator), coverage of every record category,
 * fault rates against the configured rates, and the ground truth agreeing
 * with what was injected.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "feeds/hl7.h"
#include "domain/category.h"
#include "feeds/hl7_map.h"
#include "feeds/mllp_frame.h"
#include "feeds/socialcare.h"
#include "synth/date.h"
#include "synth/out.h"
#include "synth/person.h"
#include "synth/region.h"
#include "synth/synth.h"

static char tmproot[256];

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("WEFT_TMP");
    snprintf(tmproot, sizeof tmproot, "%s/synthXXXXXX", t ? t : "/tmp");
    assert_non_null(mkdtemp(tmproot));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(tmproot);
    return 0;
}

static void gen(const char *name, long people, uint64_t seed, const char *rates, char *dir,
                size_t len)
{
    snprintf(dir, len, "%s/%s", tmproot, name);
    struct synth_config cfg = {.people = people, .seed = seed, .out = dir, .batch = 250};
    assert_true(synth_date_parse("2026-11-01", &cfg.asof));
    synth_faults_default(&cfg.faults);
    char err[200];
    if (rates)
        assert_int_equal(synth_faults_parse(&cfg.faults, rates, err, sizeof err), 0);
    struct synth_stats st;
    int rc = synth_run(&cfg, &st, err, sizeof err);
    if (rc)
        fail_msg("synth_run: %s", err);
    assert_int_equal(st.people, people);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct buf b = BUF_INIT;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_add(&b, tmp, n);
    fclose(f);
    return buf_detach(&b, len);
}

/* SHA-256 over every file (relative path + content), in sorted order. */
static void hash_tree(EVP_MD_CTX *md, const char *root, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (strcmp(nm, ".") && strcmp(nm, "..")) {
            char sub[1024], full[1200];
            snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", nm);
            snprintf(full, sizeof full, "%s/%s", root, sub);
            struct stat sb;
            assert_int_equal(stat(full, &sb), 0);
            EVP_DigestUpdate(md, sub, strlen(sub) + 1);
            if (S_ISDIR(sb.st_mode)) {
                hash_tree(md, root, sub);
            } else {
                size_t len;
                char *data = slurp(full, &len);
                EVP_DigestUpdate(md, data, len);
                free(data);
            }
        }
        free(names[i]);
    }
    free(names);
}

static void tree_digest(const char *root, unsigned char out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    hash_tree(md, root, "");
    unsigned len = 32;
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    char a[300], b[300], c[300];
    gen("a", 400, 7, NULL, a, sizeof a);
    gen("b", 400, 7, NULL, b, sizeof b);
    gen("c", 400, 8, NULL, c, sizeof c);
    unsigned char ha[32], hb[32], hc[32];
    tree_digest(a, ha);
    tree_digest(b, hb);
    tree_digest(c, hc);
    assert_memory_equal(ha, hb, 32);
    assert_memory_not_equal(ha, hc, 32);
    /* a second run into a generated directory is refused, nothing mixed */
    struct synth_config cfg = {.people = 10, .seed = 7, .out = a, .batch = 250};
    cfg.asof = 20000;
    synth_faults_none(&cfg.faults);
    struct synth_stats st;
    char err[200];
    assert_int_not_equal(synth_run(&cfg, &st, err, sizeof err), 0);
    assert_non_null(strstr(err, "already holds"));
    unsigned char ha2[32];
    tree_digest(a, ha2);
    assert_memory_equal(ha, ha2, 32);
}

static void test_person_is_a_function_of_seed_and_index(void **state)
{
    (void)state;
    struct synth_region rg;
    synth_region_init(&rg, 10000);
    assert_int_equal(rg.ngp, 200);
    struct synth_person p1, p2;
    synth_person_make(&rg, 5, 1234, 20000, &p1);
    synth_person_make(&rg, 5, 1234, 20000, &p2);
    assert_string_equal(p1.nhs, p2.nhs);
    assert_string_equal(p1.family, p2.family);
    assert_int_equal(p1.dob, p2.dob);
    /* NHS numbers: 999 range, valid check digit, distinct */
    char seen[2000][11];
    for (int i = 0; i < 2000; i++) {
        struct synth_person p;
        synth_person_make(&rg, 5, i, 20000, &p);
        assert_true(p.has_nhs);
        assert_int_equal(strlen(p.nhs), 10);
        assert_memory_equal(p.nhs, "999", 3);
        assert_int_equal(synth_nhs_check_digit(p.nhs), p.nhs[9] - '0');
        memcpy(seen[i], p.nhs, 11);
        assert_true(p.dob <= 20000);
        assert_true(p.gp >= rg.gp_first && p.gp < rg.gp_first + rg.ngp);
    }
    for (int i = 0; i < 2000; i++)
        for (int j = i + 1; j < 2000; j++)
            assert_string_not_equal(seen[i], seen[j]);
    assert_true(synth_nhs_capacity() > 900000);
    /* tiny regions still have several practices */
    synth_region_init(&rg, 10);
    assert_int_equal(rg.ngp, 3);
}

/* ---- validity ------------------------------------------------------------- */

struct counts {
    long hl7_ok, hl7_bad, fhir_ok, fhir_bad, csv_rows, csv_rejected, csv_file_errors;
    long truth_malformed_hl7, truth_malformed_fhir, truth_csv_row_faults;
    long dup_ids; /* (type, id) pairs seen twice within one bundle or HL7 message */
    long neonatal_obs, neonatal_not_birth; /* Observations of a NEONATAL ORU, and how
                                              many of them category.h does not call birth */
    long types[16];
};

/* Count (resourceType, id) pairs that appear more than once among a bundle's
 * entries: the loader rejects such a bundle ("appears twice in the bundle"). */
static long bundle_dup_ids(json_t *bundle, const char *where)
{
    long dups = 0;
    json_t *entries = json_object_get(bundle, "entry");
    size_t n = json_array_size(entries);
    for (size_t i = 0; i < n; i++) {
        json_t *ri = json_object_get(json_array_get(entries, i), "resource");
        const char *ti = json_string_value(json_object_get(ri, "resourceType"));
        const char *ii = json_string_value(json_object_get(ri, "id"));
        if (!ti || !ii)
            continue;
        for (size_t j = i + 1; j < n; j++) {
            json_t *rj = json_object_get(json_array_get(entries, j), "resource");
            const char *tj = json_string_value(json_object_get(rj, "resourceType"));
            const char *ij = json_string_value(json_object_get(rj, "id"));
            if (tj && ij && !strcmp(ti, tj) && !strcmp(ii, ij)) {
                print_message("%s: %s/%s appears twice\n", where, ti, ii);
                dups++;
            }
        }
    }
    return dups;
}

static bool fhir_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

/* Structure checks of one transaction Bundle; returns NULL or why not. */
static const char *check_bundle(json_t *b)
{
    if (!json_is_object(b))
        return "not an object";
    if (!json_is_string(json_object_get(b, "resourceType")) ||
        strcmp(json_string_value(json_object_get(b, "resourceType")), "Bundle"))
        return "not a Bundle";
    const char *type = json_string_value(json_object_get(b, "type"));
    if (!type || strcmp(type, "transaction"))
        return "Bundle.type is not transaction";
    json_t *entries = json_object_get(b, "entry");
    if (!json_is_array(entries) || json_array_size(entries) == 0)
        return "no entries";
    size_t i;
    json_t *e;
    bool has_patient = false;
    json_array_foreach(entries, i, e)
    {
        json_t *r = json_object_get(e, "resource");
        const char *rt = json_string_value(json_object_get(r, "resourceType"));
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *full = json_string_value(json_object_get(e, "fullUrl"));
        json_t *req = json_object_get(e, "request");
        const char *method = json_string_value(json_object_get(req, "method"));
        const char *url = json_string_value(json_object_get(req, "url"));
        if (!rt || !id || !fhir_id_ok(id))
            return "resource without a valid resourceType/id";
        if (!full || strncmp(full, "urn:uuid:", 9) || strlen(full) != 45)
            return "fullUrl is not a urn:uuid";
        if (!method || strcmp(method, "PUT") || !url)
            return "request is not PUT";
        char want[160];
        snprintf(want, sizeof want, "%s/%s", rt, id);
        if (strcmp(url, want))
            return "request.url is not Type/id";
        if (!strcmp(rt, "Patient"))
            has_patient = true;
        /* every reference is Type/id */
        json_t *subj = json_object_get(r, "subject");
        if (!subj)
            subj = json_object_get(r, "patient");
        if (!subj)
            subj = json_object_get(r, "individual");
        if (subj) {
            const char *ref = json_string_value(json_object_get(subj, "reference"));
            if (!ref || strncmp(ref, "Patient/", 8) || !fhir_id_ok(ref + 8))
                return "subject is not Patient/id";
        }
    }
    if (!has_patient)
        return "bundle without its Patient";
    return NULL;
}

/* A maternity system's neonatal ORU (OBR-4 NEONATAL): every Observation in
 * it is a birth detail, although the HL7 mapping calls each OBX laboratory;
 * the LOINC codes the generator sends must be ones category.h reads as birth. */
static void neonatal_categories(json_t *bundle, struct counts *c)
{
    json_t *entries = json_object_get(bundle, "entry");
    size_t i;
    json_t *e;
    bool neonatal = false;
    json_array_foreach(entries, i, e)
    {
        json_t *r = json_object_get(e, "resource");
        const char *rt = json_string_value(json_object_get(r, "resourceType"));
        json_t *cd = json_array_get(json_object_get(json_object_get(r, "code"), "coding"), 0);
        const char *code = json_string_value(json_object_get(cd, "code"));
        if (rt && code && !strcmp(rt, "DiagnosticReport") && !strcmp(code, "NEONATAL"))
            neonatal = true;
    }
    if (!neonatal)
        return;
    json_array_foreach(entries, i, e)
    {
        json_t *r = json_object_get(e, "resource");
        const char *rt = json_string_value(json_object_get(r, "resourceType"));
        if (!rt || strcmp(rt, "Observation"))
            continue;
        c->neonatal_obs++;
        const char *cat = category_of(r);
        if (!cat || strcmp(cat, "birth")) {
            print_message("neonatal Observation %s is %s, not birth\n",
                          json_string_value(json_object_get(r, "id")), cat ? cat : "(none)");
            c->neonatal_not_birth++;
        }
    }
}

static void check_hl7_file(const char *path, const char *ods, struct counts *c)
{
    size_t len;
    char *data = slurp(path, &len);
    struct mllp_decoder d;
    mllp_decoder_init(&d, 0);
    mllp_decoder_feed(&d, data, len);
    struct hl7_msg *m = hl7_msg_new();
    const char *frame;
    size_t flen;
    int rc;
    struct hl7_map_opts mo = {.ods = ods};
    while ((rc = mllp_decoder_next(&d, &frame, &flen)) != 0) {
        assert_int_equal(rc, 1); /* framing is never broken, only content */
        struct hl7_error err;
        bool ok = hl7_msg_parse(m, frame, flen, HL7_PARSE_STRICT, &err) == 0;
        if (ok) {
            struct hl7_map_result r;
            int mrc = hl7_map_message(m, &mo, &r);
            if (mrc != 0) {
                ok = false;
                fprintf(stderr, "map failed in %s: %s\n", path, r.reason);
            } else if (r.kind == HL7_MAP_BUNDLE) {
                const char *why = NULL;
                if (!json_is_array(json_object_get(r.bundle, "entry")))
                    why = "no entries";
                if (why)
                    fail_msg("%s: mapped bundle %s", path, why);
                c->dup_ids += bundle_dup_ids(r.bundle, path);
                neonatal_categories(r.bundle, c);
            }
            hl7_map_result_clear(&r);
        }
        if (ok)
            c->hl7_ok++;
        else
            c->hl7_bad++;
    }
    assert_int_equal(mllp_decoder_pending(&d), 0);
    hl7_msg_free(m);
    mllp_decoder_release(&d);
    free(data);
}

static void check_fhir_file(const char *path, struct counts *c)
{
    size_t len;
    char *data = slurp(path, &len);
    char *line = data, *nl;
    while ((nl = memchr(line, '\n', (size_t)(data + len - line))) != NULL) {
        json_error_t je;
        json_t *b = json_loadb(line, (size_t)(nl - line), 0, &je);
        const char *why = b ? check_bundle(b) : "invalid JSON";
        if (why)
            c->fhir_bad++;
        else
            c->fhir_ok++;
        if (b)
            c->dup_ids += bundle_dup_ids(b, path);
        json_decref(b);
        line = nl + 1;
    }
    assert_true(line == data + len); /* every line ends in LF */
    free(data);
}

static void check_csv_file(const char *path, const char *ods, struct counts *c)
{
    struct socialcare_opts so = {.ods = ods, .feed = "test", .today = "2026-11-01"};
    struct socialcare_report *rep = NULL;
    int rc = socialcare_process_file(path, &so, NULL, NULL, &rep);
    assert_non_null(rep);
    if (rc != 0 || rep->file_error) {
        fprintf(stderr, "%s: %s\n", path, rep->file_error ? rep->file_error : "?");
        c->csv_file_errors++;
    }
    for (size_t i = 0; i < rep->nerrors; i++)
        if (getenv("SYNTH_TEST_VERBOSE"))
            fprintf(stderr, "%s:%zu %s: %s\n", path, rep->errors[i].line,
                    rep->errors[i].column ? rep->errors[i].column : "-", rep->errors[i].reason);
    c->csv_rows += (long)rep->rows_read;
    c->csv_rejected += (long)rep->rows_rejected;
    socialcare_report_free(rep);
}

static void check_region(const char *dir, struct counts *c)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_error_t je;
    json_t *man = json_load_file(path, 0, &je);
    assert_non_null(man);
    json_t *orgs = json_object_get(man, "organisations");
    assert_true(json_array_size(orgs) >= 16 + 3);
    size_t i, j, k;
    json_t *org, *feed, *file;
    json_array_foreach(orgs, i, org)
    {
        const char *ods = json_string_value(json_object_get(org, "ods"));
        const char *type = json_string_value(json_object_get(org, "type"));
        assert_non_null(ods);
        assert_non_null(type);
        json_array_foreach(json_object_get(org, "feeds"), j, feed)
        {
            const char *kind = json_string_value(json_object_get(feed, "kind"));
            json_array_foreach(json_object_get(feed, "files"), k, file)
            {
                snprintf(path, sizeof path, "%s/%s", dir, json_string_value(file));
                if (!strcmp(kind, "hl7v2"))
                    check_hl7_file(path, ods, c);
                else if (!strcmp(kind, "fhir"))
                    check_fhir_file(path, c);
                else
                    check_csv_file(path, ods, c);
            }
        }
    }
    json_decref(man);
    /* what the truth says was broken on purpose */
    snprintf(path, sizeof path, "%s/truth/faults.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        bool hl7 = strstr(line, ".hl7,") != NULL, fhir = strstr(line, ".ndjson,") != NULL;
        bool csv = strstr(line, ".csv,") != NULL;
        if (!strncmp(line, "malformed,", 10)) {
            c->truth_malformed_hl7 += hl7;
            c->truth_malformed_fhir += fhir;
        }
        if (csv && (!strncmp(line, "malformed,", 10) || !strncmp(line, "future-date,", 12) ||
                    !strncmp(line, "unknown-code,", 13)))
            c->truth_csv_row_faults++;
    }
    fclose(f);
}

static void test_clean_region_is_valid_everywhere(void **state)
{
    (void)state;
    char dir[300];
    gen("clean", 1500, 3, "none", dir, sizeof dir);
    struct counts c = {0};
    check_region(dir, &c);
    print_message("clean: hl7 %ld ok %ld bad, fhir %ld ok %ld bad, csv %ld rows %ld rejected\n",
                  c.hl7_ok, c.hl7_bad, c.fhir_ok, c.fhir_bad, c.csv_rows, c.csv_rejected);
    assert_true(c.hl7_ok > 1000);
    assert_int_equal(c.hl7_bad, 0);
    assert_true(c.fhir_ok > 1000);
    assert_int_equal(c.fhir_bad, 0);
    assert_true(c.csv_rows > 100);
    assert_int_equal(c.csv_rejected, 0);
    assert_int_equal(c.csv_file_errors, 0);
    assert_int_equal(c.dup_ids, 0);
    assert_true(c.neonatal_obs > 0);
    assert_int_equal(c.neonatal_not_birth, 0);
}

static void test_faulty_region_breaks_only_what_truth_says(void **state)
{
    (void)state;
    char dir[300];
    gen("faulty", 1500, 4, "malformed=0.02", dir, sizeof dir);
    struct counts c = {0};
    check_region(dir, &c);
    print_message("faulty: hl7 %ld ok %ld bad (truth %ld), fhir %ld ok %ld bad (truth %ld), csv "
                  "%ld rows %ld rejected (truth %ld)\n",
                  c.hl7_ok, c.hl7_bad, c.truth_malformed_hl7, c.fhir_ok, c.fhir_bad,
                  c.truth_malformed_fhir, c.csv_rows, c.csv_rejected, c.truth_csv_row_faults);
    assert_true(c.truth_malformed_hl7 > 10);
    assert_int_equal(c.hl7_bad, c.truth_malformed_hl7);
    assert_true(c.truth_malformed_fhir > 5);
    assert_int_equal(c.fhir_bad, c.truth_malformed_fhir);
    assert_int_equal(c.csv_rejected, c.truth_csv_row_faults);
    assert_int_equal(c.csv_file_errors, 0);
    assert_int_equal(c.dup_ids, 0);
}

/* Two readings of one kind on one day (blood pressure, HbA1c) once got the
 * same Observation id, and the loader refused the whole bundle.  Seed 4 at
 * 2,000 people had such days, clean and with the default faults; no
 * (type, id) may repeat within a bundle or a mapped HL7 message, and with
 * the default faults exactly the malformed records fail. */
static void test_ids_unique_within_each_bundle(void **state)
{
    (void)state;
    char dir[300];
    const char *rates[] = {"none", NULL};
    const char *names[] = {"ids-clean", "ids-default"};
    for (int i = 0; i < 2; i++) {
        gen(names[i], 2000, 4, rates[i], dir, sizeof dir);
        struct counts c = {0};
        check_region(dir, &c);
        print_message("%s: hl7 %ld ok %ld bad (truth %ld), fhir %ld ok %ld bad (truth %ld), %ld "
                      "duplicate ids\n",
                      names[i], c.hl7_ok, c.hl7_bad, c.truth_malformed_hl7, c.fhir_ok, c.fhir_bad,
                      c.truth_malformed_fhir, c.dup_ids);
        assert_true(c.fhir_ok > 2000);
        assert_int_equal(c.dup_ids, 0);
        assert_int_equal(c.hl7_bad, c.truth_malformed_hl7);
        assert_int_equal(c.fhir_bad, c.truth_malformed_fhir);
    }
}

/* ---- categories and fault rates ----------------------------------------- */

static void test_every_category_and_fault_rates(void **state)
{
    (void)state;
    char dir[300], path[400];
    gen("rates", 4000, 11, "typo=0.1,late=0.05", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/truth/summary.json", dir);
    json_error_t je;
    json_t *sum = json_load_file(path, 0, &je);
    assert_non_null(sum);
    json_t *cats = json_object_get(sum, "categories");
    for (int i = 0; i < SYNTH_NCAT; i++) {
        json_int_t n = json_integer_value(json_object_get(cats, category_names[i]));
        if (n <= 0)
            fail_msg("category %s never generated", category_names[i]);
    }
    /* count truth rows per kind */
    long truth[SYNTH_F_COUNT] = {0};
    snprintf(path, sizeof path, "%s/truth/faults.csv", dir);
    FILE *f = fopen(path, "r");
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f)) {
        for (int k = 0; k < SYNTH_F_COUNT; k++) {
            size_t n = strlen(synth_fault_name((enum synth_fault)k));
            if (!strncmp(line, synth_fault_name((enum synth_fault)k), n) && line[n] == ',')
                truth[k]++;
        }
    }
    fclose(f);
    json_t *faults = json_object_get(sum, "faults");
    for (int k = 0; k < SYNTH_F_COUNT; k++) {
        json_t *fk = json_object_get(faults, synth_fault_name((enum synth_fault)k));
        double rate = json_real_value(json_object_get(fk, "rate"));
        if (json_is_integer(json_object_get(fk, "rate")))
            rate = (double)json_integer_value(json_object_get(fk, "rate"));
        long n = (long)json_integer_value(json_object_get(fk, "opportunities"));
        long got = (long)json_integer_value(json_object_get(fk, "injected"));
        double want = n * rate, sd = sqrt(n * rate * (1 - rate));
        print_message("%-18s rate %.3f: %ld of %ld (%.4f)\n", synth_fault_name((enum synth_fault)k),
                      rate, got, n, n ? (double)got / n : 0.0);
        assert_true(n >= 100);
        assert_true(fabs((double)got - want) <= 4 * sd + 2);
        /* every injected fault is in the truth, and nothing else is */
        if (truth[k] != got)
            fail_msg("%s: %ld injected, %ld in truth/faults.csv",
                     synth_fault_name((enum synth_fault)k), got, truth[k]);
    }
    assert_true(fabs(json_real_value(json_object_get(json_object_get(faults, "typo"), "rate")) -
                     0.1) < 1e-9);
    json_decref(sum);
}

static void test_fault_rate_parsing(void **state)
{
    (void)state;
    struct synth_faults f;
    char err[160];
    synth_faults_default(&f);
    assert_int_equal(synth_faults_parse(&f, "typo=0.5,missing-nhs=0", err, sizeof err), 0);
    assert_true(f.rate[SYNTH_F_TYPO] == 0.5);
    assert_true(f.rate[SYNTH_F_MISSING_NHS] == 0);
    assert_int_not_equal(synth_faults_parse(&f, "tpyo=0.5", err, sizeof err), 0);
    assert_non_null(strstr(err, "unknown fault 'tpyo'"));
    assert_int_not_equal(synth_faults_parse(&f, "typo=1.5", err, sizeof err), 0);
    assert_int_not_equal(synth_faults_parse(&f, "typo", err, sizeof err), 0);
    assert_int_equal(synth_faults_parse(&f, "none", err, sizeof err), 0);
    for (int k = 0; k < SYNTH_F_COUNT; k++)
        assert_true(f.rate[k] == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_person_is_a_function_of_seed_and_index),
        cmocka_unit_test(test_fault_rate_parsing),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_clean_region_is_valid_everywhere),
        cmocka_unit_test(test_faulty_region_breaks_only_what_truth_says),
        cmocka_unit_test(test_ids_unique_within_each_bundle),
        cmocka_unit_test(test_every_category_and_fault_rates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
