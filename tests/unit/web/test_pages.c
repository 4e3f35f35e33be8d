/* test_pages.c - the record pages against a real store: a small record
 * loaded through the real loading pipeline (two organisations), rendered by
 * web_view() as different roles.  Checks what each role may and may not see
 * on every page, that record data is escaped, that withheld items leave no
 * trace, that documents are readable, charts drawn, filters validated, and
 * that the page cache never serves one scope's page to another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "access/policy.h"
#include "core/buf.h"
#include "fhir/load.h"
#include "http/server.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/records.h"
#include "store/store.h"
#include "web/cache.h"
#include "web/web.h"
#include "web/web_int.h"

#define GP "A81001"
#define HOSP "RVV"
#define NHS "9990000018"

/* "Reports of <b>bold</b>\nline 2" in base64 */
#define DOC_B64 "UmVwb3J0cyBvZiA8Yj5ib2xkPC9iPgpsaW5lIDI="

static const char gp_bundle[] =
    "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
    "{\"fullUrl\":\"urn:uuid:p1\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p1\","
    "\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"" NHS "\"}],"
    "\"name\":[{\"use\":\"official\",\"family\":\"Testpatient\",\"given\":[\"Alice\"],"
    "\"prefix\":[\"Ms\"]}],\"gender\":\"female\",\"birthDate\":\"1950-02-03\","
    "\"address\":[{\"use\":\"home\",\"line\":[\"1 Test Street\"],\"city\":\"Maidstone\","
    "\"postalCode\":\"ME1 1AA\"}],\"generalPractitioner\":[{\"display\":\"Test Surgery\"}],"
    "\"contact\":[{\"relationship\":[{\"text\":\"Daughter\"}],\"name\":{\"given\":[\"Beth\"],"
    "\"family\":\"Testpatient\"},\"telecom\":[{\"system\":\"phone\",\"value\":\"01234 "
    "567890\"}]}]}},"
    "{\"resource\":{\"resourceType\":\"Condition\",\"id\":\"c1\",\"subject\":{\"reference\":"
    "\"urn:uuid:p1\"},\"clinicalStatus\":{\"coding\":[{\"code\":\"active\"}]},\"code\":{\"text\":"
    "\"Diabetes <script>alert(1)</script>\"},\"onsetDateTime\":\"2010-01-01\"}},"
    "{\"resource\":{\"resourceType\":\"MedicationRequest\",\"id\":\"m1\",\"status\":\"active\","
    "\"intent\":\"order\",\"subject\":{\"reference\":\"urn:uuid:p1\"},"
    "\"medicationCodeableConcept\":{\"text\":\"Metformin 500mg tablets\"},\"authoredOn\":"
    "\"2020-01-01\",\"dosageInstruction\":[{\"text\":\"One twice a day\"}]}},"
    "{\"resource\":{\"resourceType\":\"AllergyIntolerance\",\"id\":\"a1\",\"patient\":{"
    "\"reference\":\"urn:uuid:p1\"},\"code\":{\"text\":\"Penicillin\"},\"recordedDate\":"
    "\"2001-01-01\"}},"
    "{\"resource\":{\"resourceType\":\"Flag\",\"id\":\"f1\",\"status\":\"active\",\"subject\":{"
    "\"reference\":\"urn:uuid:p1\"},\"code\":{\"text\":\"Lives alone, key safe 1234\"},"
    "\"period\":{\"start\":\"2022-01-01\"}}},"
    "{\"resource\":{\"resourceType\":\"Appointment\",\"id\":\"ap1\",\"status\":\"booked\","
    "\"description\":\"Diabetes review\",\"start\":\"2099-01-01T10:00:00Z\",\"participant\":[{"
    "\"actor\":{\"reference\":\"urn:uuid:p1\"},\"status\":\"accepted\"}]}}]}";

#define OBS(id, date, v, flag)                                                                     \
    "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"" id "\",\"status\":\"final\","      \
    "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-"  \
    "category\",\"code\":\"laboratory\"}]}],\"code\":{\"coding\":[{\"system\":"                    \
    "\"http://loinc.org\",\"code\":\"4548-4\",\"display\":\"HbA1c\"}]},\"subject\":{"              \
    "\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"" NHS "\"}},"    \
    "\"effectiveDateTime\":\"" date "\",\"valueQuantity\":{\"value\":" v ",\"unit\":"              \
    "\"mmol/mol\"},\"referenceRange\":[{\"low\":{\"value\":20},\"high\":{\"value\":41}}]}}"

static const char hosp_bundle[] =
    "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
    "{\"fullUrl\":\"urn:uuid:hp\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"hp\","
    "\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"" NHS "\"}],"
    "\"name\":[{\"family\":\"Testpatient\",\"given\":[\"Alice\"]}]}}," OBS(
        "o1", "2021-01-05", "48",
        "H") "," OBS("o2", "2022-01-05", "39",
                     "N") "," OBS("o3", "2023-01-05", "62",
                                  "H") ","
                                       "{\"resource\":{\"resourceType\":\"DocumentReference\","
                                       "\"id\":\"d1\",\"status\":\"current\","
                                       "\"type\":{\"text\":\"Discharge "
                                       "summary\"},\"subject\":{\"reference\":\"urn:uuid:hp\"},"
                                       "\"date\":\"2023-02-01T12:00:00Z\",\"content\":[{"
                                       "\"attachment\":{\"contentType\":"
                                       "\"text/plain\",\"data\":\"" DOC_B64 "\"}}]}}]}";

struct fx {
    char dir[256];
    char db[300];
    struct store *s;
    struct web *w;
    char *person;
    char *obs_id, *doc_id;
};

static int load(struct store *s, const char *text, const char *org)
{
    json_error_t err;
    json_t *b = json_loads(text, 0, &err);
    if (!b) {
        fprintf(stderr, "fixture json: %s line %d\n", err.text, err.line);
        return -1;
    }
    struct load_ctx lc = {.org = org, .feed = "test"};
    struct load_report rep;
    load_report_init(&rep);
    int rc = fhir_load_bundle(s, b, &lc, &rep, NULL);
    for (int i = 0; i < rep.nrejections; i++)
        fprintf(stderr, "rejected entry %ld: %s\n", rep.rejections[i].entry,
                rep.rejections[i].reason);
    long rejected = rep.rejected;
    load_report_free(&rep);
    json_decref(b);
    return rc == 0 && rejected == 0 ? 0 : -1;
}

static char *first_id(struct store *s, const char *person, const char *type)
{
    struct store_query q = {.person_id = person, .type = type, .limit = 1};
    struct store_result r = {0};
    assert_int_equal(store_search(s, &q, &r), 0);
    assert_int_equal(r.nrows, 1);
    char *id = xstrdup(r.rows[0].id);
    store_result_clear(&r);
    return id;
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    const char *tmp = getenv("WEFT_TMP");
    snprintf(f->dir, sizeof f->dir, "%s/web-pages-XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    char *msg = NULL;
    int a, b;
    assert_int_equal(store_open(&f->s, f->db, true, &msg), 0);
    assert_int_equal(store_migrate(f->s, &a, &b), 0);
    FILE *pf = fopen("policy/default.policy", "rb");
    assert_non_null(pf);
    struct buf pol = BUF_INIT;
    char tmpb[4096];
    size_t n;
    while ((n = fread(tmpb, 1, sizeof tmpb, pf)) > 0)
        buf_add(&pol, tmpb, n);
    fclose(pf);
    assert_int_equal(policy_install(f->s, pol.data, pol.len, "test", NULL, &msg), 0);
    buf_release(&pol);
    int64_t id;
    assert_int_equal(store_org_put(f->s, GP, "Test Surgery", "gp"), 0);
    assert_int_equal(store_org_put(f->s, HOSP, "Test Hospital <NHS> Trust", "acute"), 0);
    assert_int_equal(store_agreement_add(f->s, GP, "jca", "2020-01-01", NULL, &id), 0);
    assert_int_equal(store_agreement_add(f->s, HOSP, "jca", "2020-01-01", NULL, &id), 0);
    assert_int_equal(load(f->s, gp_bundle, GP), 0);
    assert_int_equal(load(f->s, hosp_bundle, HOSP), 0);
    assert_int_equal(store_person_by_nhs(f->s, NHS, &f->person), 0);
    f->obs_id = first_id(f->s, f->person, "Observation");
    f->doc_id = first_id(f->s, f->person, "DocumentReference");
    struct web_config cfg = {0};
    assert_int_equal(web_init(&f->w, &cfg), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    web_free(f->w);
    store_close(f->s);
    policy_cache_release();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f->person);
    free(f->obs_id);
    free(f->doc_id);
    free(f);
    return 0;
}

/* Render one page as role of org; returns status, HTML in out. */
static int view(struct fx *f, const char *role, const char *org, const char *page,
                const char *query, const char *type, const char *rid, struct buf *out)
{
    struct http_req req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.request_id = "test";
    char path[256];
    snprintf(path, sizeof path, "/patient/%s%s%s", f->person, page ? "/" : "", page ? page : "");
    req.path = path;
    req.query = query ? query : "";
    req.params[req.nparams++] = (struct url_kv){"id", f->person};
    if (page)
        req.params[req.nparams++] = (struct url_kv){"page", (char *)page};
    if (type) {
        req.params[req.nparams++] = (struct url_kv){"type", (char *)type};
        req.params[req.nparams++] = (struct url_kv){"rid", (char *)rid};
    }
    struct url_kv *args = NULL;
    int nargs = 0;
    if (query)
        assert_int_equal(url_query_parse(query, strlen(query), &args, &nargs, 16), 0);
    req.args = args;
    req.nargs = nargs;
    req.principal = (struct principal){.kind = PRINCIPAL_USER,
                                       .user_id = "100000000001",
                                       .user_name = "Test User",
                                       .role = role,
                                       .org = org,
                                       .launcher = "test",
                                       .purpose = "TREAT",
                                       .person_id = f->person};
    int status = web_view(f->w, &req, f->s, out);
    url_kv_free(args, nargs);
    return status;
}

struct audit_seen {
    const char *want_outcome, *want_what;
    int n;
    int64_t count;
};

static int audit_cb(const struct store_audit_row *r, void *arg)
{
    struct audit_seen *a = arg;
    if (r->outcome && strcmp(r->outcome, a->want_outcome) == 0 && r->what &&
        strncmp(r->what, a->want_what, strlen(a->want_what)) == 0) {
        a->n++;
        a->count = r->count;
    }
    return 0;
}

/* Entries about the person with this outcome whose "what" starts with what. */
static int audited(struct fx *f, const char *outcome, const char *what, int64_t *count)
{
    struct audit_seen a = {outcome, what, 0, 0};
    struct store_audit_filter flt = {.person_id = f->person};
    assert_int_equal(store_audit_search(f->s, &flt, audit_cb, &a), 0);
    if (count)
        *count = a.count;
    return a.n;
}

static void test_clinician_summary(void **state)
{
    struct fx *f = *state;
    struct buf b = BUF_INIT;
    assert_int_equal(view(f, "R8000", GP, NULL, NULL, NULL, NULL, &b), 200);
    assert_non_null(strstr(b.data, "TESTPATIENT, Alice"));
    assert_non_null(strstr(b.data, "999 000 0018"));
    assert_non_null(strstr(b.data, "3 Feb 1950 ("));
    assert_non_null(strstr(b.data, "1 Test Street, Maidstone, ME1 1AA"));
    assert_non_null(strstr(b.data, "Test Surgery"));
    /* The alert flag in the banner and the summary sections with sources. */
    assert_non_null(strstr(b.data, "weft-flag--alert"));
    assert_non_null(strstr(b.data, "Metformin 500mg tablets"));
    assert_non_null(strstr(b.data, "Penicillin"));
    assert_non_null(strstr(b.data, "Diabetes review"));
    assert_non_null(strstr(b.data, "Test Hospital &lt;NHS&gt; Trust"));
    assert_non_null(strstr(b.data, "62 mmol/mol"));
    /* Record data is escaped, never markup. */
    assert_null(strstr(b.data, "<script>alert(1)"));
    assert_non_null(strstr(b.data, "Diabetes &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_null(strstr(b.data, "<script"));
    /* The view is audited with what it showed. */
    int64_t count = 0;
    assert_true(audited(f, "success", "page:summary", &count) >= 1);
    assert_true(count >= 5);
    buf_release(&b);
}

static void test_results_page_and_chart(void **state)
{
    struct fx *f = *state;
    struct buf b = BUF_INIT;
    assert_int_equal(view(f, "R8000", GP, "results", NULL, NULL, NULL, &b), 200);
    assert_non_null(strstr(b.data, "<svg"));
    assert_non_null(strstr(b.data, "20 to 41"));
    assert_non_null(strstr(b.data, "weft-oor\">High"));
    assert_non_null(strstr(b.data, "3 values from 5 Jan 2021 to 5 Jan 2023"));
    buf_reset(&b);
    assert_int_equal(view(f, "R8000", GP, "chart", "m=hba1c", NULL, NULL, &b), 200);
    assert_non_null(strstr(b.data, "id=\"chart-values\""));
    assert_int_equal(view(f, "R8000", GP, "chart", "m=nonsense", NULL, NULL, &b), 404);
    buf_release(&b);
}

static void test_document_reader(void **state)
{
    struct fx *f = *state;
    struct buf b = BUF_INIT;
    assert_int_equal(view(f, "R8000", GP, NULL, NULL, "DocumentReference", f->doc_id, &b), 200);
    assert_non_null(strstr(b.data, "Discharge summary"));
    assert_non_null(strstr(b.data, "Reports of &lt;b&gt;bold&lt;/b&gt;<br>line 2"));
    buf_reset(&b);
    assert_int_equal(view(f, "R8000", GP, "documents", NULL, NULL, NULL, &b), 200);
    assert_non_null(strstr(b.data, f->doc_id));
    buf_reset(&b);
    /* An id that is not this person's: not found, nothing revealed. */
    assert_int_equal(view(f, "R8000", GP, NULL, NULL, "DocumentReference", "0123abcd", &b), 404);
    buf_release(&b);
}

/* A receptionist's profile (admin) has no clinical categories: no result may
 * appear on any page, chart or item, and the item page of a result is "not
 * found", exactly as for an id that does not exist. */
static void test_admin_sees_no_results(void **state)
{
    struct fx *f = *state;
    struct buf b = BUF_INIT;
    const char *pages[] = {NULL, "timeline", "appointments", "demographics"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        buf_reset(&b);
        assert_int_equal(view(f, "R8009", GP, pages[i], NULL, NULL, NULL, &b), 200);
        assert_null(strstr(b.data, "HbA1c"));
        assert_null(strstr(b.data, "mmol/mol"));
        assert_null(strstr(b.data, f->obs_id));
        assert_null(strstr(b.data, "Metformin"));
        assert_null(strstr(b.data, "Discharge"));
        /* issue 11: the notice only where something is withheld from the
         * page: the summary and timeline span the categories the role lacks
         * (and this record has items in them); a category page the role may
         * see withholds nothing of its category. */
        if (i < 2)
            assert_non_null(strstr(b.data, "withheld-notice"));
        else
            assert_null(strstr(b.data, "withheld-notice"));
        assert_null(strstr(b.data, "/break-glass")); /* the admin role may not use it */
    }
    assert_non_null(strstr(b.data, "TESTPATIENT"));
    buf_reset(&b);
    int before = audited(f, "denied", "page:results", NULL);
    assert_int_equal(view(f, "R8009", GP, "results", NULL, NULL, NULL, &b), 403);
    assert_null(strstr(b.data, "HbA1c"));
    assert_int_equal(audited(f, "denied", "page:results", NULL), before + 1);
    buf_reset(&b);
    assert_int_equal(view(f, "R8009", GP, "chart", "m=hba1c", NULL, NULL, &b), 403);
    assert_null(strstr(b.data, "<svg"));
    assert_null(strstr(b.data, "mmol/mol"));
    buf_reset(&b);
    struct buf nf = BUF_INIT;
    assert_int_equal(view(f, "R8009", GP, NULL, NULL, "Observation", f->obs_id, &b), 404);
    assert_int_equal(view(f, "R8009", GP, NULL, NULL, "Observation", "ffffffff", &nf), 404);
    assert_string_equal(b.data, nf.data);
    buf_release(&nf);
    buf_reset(&b);
    /* The timeline's filter choices do not name the hospital either. */
    assert_int_equal(view(f, "R8009", GP, "timeline", NULL, NULL, NULL, &b), 200);
    assert_null(strstr(b.data, "Test Hospital"));
    buf_release(&b);
}

static void test_filters(void **state)
{
    struct fx *f = *state;
    struct buf b = BUF_INIT;
    assert_int_equal(view(f, "R8000", GP, "timeline", "org=" HOSP, NULL, NULL, &b), 200);
    assert_non_null(strstr(b.data, "Discharge summary"));
    assert_null(strstr(b.data, "Metformin"));
    buf_reset(&b);
    assert_int_equal(
        view(f, "R8000", GP, "timeline", "from=2022-01-01&to=2022-12-31", NULL, NULL, &b), 200);
    assert_non_null(strstr(b.data, "39 mmol/mol"));
    assert_null(strstr(b.data, "62 mmol/mol"));
    assert_null(strstr(b.data, "48 mmol/mol"));
    buf_reset(&b);
    assert_int_equal(view(f, "R8000", GP, "timeline", "from=2022-02-30", NULL, NULL, &b), 400);
    assert_non_null(strstr(b.data, "There is a problem"));
    assert_non_null(strstr(b.data, "value=\"2022-02-30\""));
    buf_reset(&b);
    assert_int_equal(view(f, "R8000", GP, "timeline", "from=<x>", NULL, NULL, &b), 400);
    assert_null(strstr(b.data, "<x>"));
    buf_reset(&b);
    assert_int_equal(view(f, "R8000", GP, "medications", "status=stopped", NULL, NULL, &b), 200);
    assert_non_null(strstr(b.data, "id=\"no-items\""));
    buf_release(&b);
}

static void test_patient_item_and_empty_person(void **state)
{
    struct fx *f = *state;
    struct buf b = BUF_INIT;
    char *pid = NULL;
    struct store_query q = {.person_id = f->person,
                            .type = "Patient",
                            .limit = 10,
                            .source_orgs = (const char *const[]){GP},
                            .nsource_orgs = 1};
    struct store_result r = {0};
    assert_int_equal(store_search(f->s, &q, &r), 0);
    assert_int_equal(r.nrows, 1);
    pid = xstrdup(r.rows[0].id);
    store_result_clear(&r);
    assert_int_equal(view(f, "R8000", GP, NULL, NULL, "Patient", pid, &b), 200);
    assert_non_null(strstr(b.data, "People to contact"));
    assert_non_null(strstr(b.data, "Beth Testpatient"));
    assert_non_null(strstr(b.data, "Daughter; 01234 567890"));
    assert_non_null(strstr(b.data, "999 000 0018"));
    free(pid);
    buf_reset(&b);
    /* A person the store knows (e.g. created by a launch) with no record:
     * "Patient not found", saying what to do next. */
    char *empty = NULL;
    assert_int_equal(store_person_by_nhs(f->s, "9990000026", &empty), 0);
    char *keep = f->person;
    f->person = empty;
    int st = view(f, "R8000", GP, NULL, NULL, NULL, NULL, &b);
    f->person = keep;
    free(empty);
    assert_int_equal(st, 404);
    assert_non_null(strstr(b.data, "Patient not found"));
    assert_non_null(strstr(b.data, "What to do next"));
    buf_release(&b);
}

/* The page cache is keyed by the version of this person's record: a write
 * about someone else keeps the cached page, a write about this person shows
 * at once. */
static void test_cache_follows_the_person(void **state)
{
    struct fx *f = *state;
    struct buf b = BUF_INIT, again = BUF_INIT;
    uint64_t hits0, hits1, misses;
    size_t n, bytes;
    assert_int_equal(view(f, "R8000", GP, "conditions", NULL, NULL, NULL, &b), 200);
    web_cache_stats(f->w->cache, &hits0, &misses, &n, &bytes);
    assert_int_equal(load(f->s,
                          "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{"
                          "\"resource\":{\"resourceType\":\"Patient\",\"id\":\"other\","
                          "\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\","
                          "\"value\":\"9990000034\"}],\"name\":[{\"family\":\"Else\"}]}}]}",
                          GP),
                     0);
    assert_int_equal(view(f, "R8000", GP, "conditions", NULL, NULL, NULL, &again), 200);
    web_cache_stats(f->w->cache, &hits1, &misses, &n, &bytes);
    assert_true(hits1 > hits0);
    assert_string_equal(b.data, again.data);
    assert_int_equal(load(f->s,
                          "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{"
                          "\"resource\":{\"resourceType\":\"Condition\",\"id\":\"c2\","
                          "\"subject\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/"
                          "nhs-number\",\"value\":\"" NHS "\"}},\"clinicalStatus\":{\"coding\":"
                          "[{\"code\":\"active\"}]},\"code\":{\"text\":\"Asthma\"},"
                          "\"onsetDateTime\":\"2024-05-05\"}}]}",
                          GP),
                     0);
    assert_int_equal(view(f, "R8000", GP, "conditions", NULL, NULL, NULL, &again), 200);
    assert_non_null(strstr(again.data, "Asthma"));
    assert_null(strstr(b.data, "Asthma"));
    buf_release(&b);
    buf_release(&again);
}

static void test_not_in_context_and_unknown(void **state)
{
    struct fx *f = *state;
    struct buf b = BUF_INIT;
    /* Unknown role: refused with a page that says what to do. */
    assert_int_equal(view(f, "R9999", GP, NULL, NULL, NULL, NULL, &b), 403);
    assert_non_null(strstr(b.data, "What to do next"));
    assert_null(strstr(b.data, "TESTPATIENT"));
    buf_reset(&b);
    assert_int_equal(view(f, "R8000", GP, "no-such-page", NULL, NULL, NULL, &b), 404);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clinician_summary),
        cmocka_unit_test(test_results_page_and_chart),
        cmocka_unit_test(test_document_reader),
        cmocka_unit_test(test_admin_sees_no_results),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_patient_item_and_empty_person),
        cmocka_unit_test(test_cache_follows_the_person),
        cmocka_unit_test(test_not_in_context_and_unknown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
