/* test_server.c - the HTTP server and the FHIR API against a real SQLite
 * store on a free port: routing, authentication, errors as
 * OperationOutcome, read/vread/history, search, paging across concurrent
 * inserts, limits, static files with traversal attempts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "feeds/feeds_http.h"
#include "fhir/api.h"
#include "http/auth.h"
#include "http/server.h"
#include "http/static.h"
#include "store/access.h"
#include "store/records.h"
#include "store/store.h"

#define TOKEN "test-token-read-write"
#define TOKEN_RO "test-token-read-only"
#define TOKEN_NOORG "test-token-no-org"

static char dir[256];
static char dbpath[300];
static struct http_server *srv;
static int port;
static struct store *st;
static char person[64];
static char patient_id[STORE_ID_LEN + 1];

struct resp {
    int status;
    char *headers;
    char *body;
    size_t body_len;
    json_t *json;
};

static void resp_free(struct resp *r)
{
    free(r->headers);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* One request on a fresh connection; extra_headers end with "\r\n" each. */
static struct resp http(const char *method, const char *path, const char *extra_headers,
                        const char *body, size_t body_len)
{
    struct resp r;
    memset(&r, 0, sizeof r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct buf req = BUF_INIT;
    buf_addf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s", method, path,
             port, extra_headers ? extra_headers : "");
    if (body)
        buf_addf(&req, "Content-Length: %zu\r\n", body_len);
    buf_adds(&req, "\r\n");
    if (body)
        buf_add(&req, body, body_len);
    size_t off = 0;
    while (off < req.len) {
        ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer and close before reading it all */
        off += (size_t)w;
    }
    buf_release(&req);
    struct buf in = BUF_INIT;
    char tmp[65536];
    ssize_t n;
    while ((n = recv(fd, tmp, sizeof tmp, 0)) > 0)
        buf_add(&in, tmp, (size_t)n);
    close(fd);
    char *sep = strstr(in.data, "\r\n\r\n");
    assert_non_null(sep);
    r.status = atoi(in.data + 9);
    r.headers = xstrndup(in.data, (size_t)(sep - in.data));
    r.body_len = in.len - (size_t)(sep + 4 - in.data);
    r.body = xstrndup(sep + 4, r.body_len);
    buf_release(&in);
    r.json = json_loads(r.body, 0, NULL);
    return r;
}

static struct resp get(const char *path, const char *token)
{
    char h[256] = "";
    if (token)
        snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    return http("GET", path, h, NULL, 0);
}

static const char *header(const struct resp *r, const char *name)
{
    static char val[512];
    const char *p = r->headers;
    size_t n = strlen(name);
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t len = e ? (size_t)(e - v) : strlen(v);
            if (len >= sizeof val)
                len = sizeof val - 1;
            memcpy(val, v, len);
            val[len] = 0;
            return val;
        }
    }
    return NULL;
}

/* The response is an OperationOutcome whose first diagnostics contain want. */
static void assert_outcome(const struct resp *r, int status, const char *want)
{
    if (r->status != status)
        fail_msg("status %d, wanted %d: %s", r->status, status, r->body);
    assert_non_null(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "resourceType")),
                        "OperationOutcome");
    json_t *issue = json_array_get(json_object_get(r->json, "issue"), 0);
    const char *diag = json_string_value(json_object_get(issue, "diagnostics"));
    assert_non_null(diag);
    if (want && !strstr(diag, want))
        fail_msg("diagnostics '%s' lack '%s'", diag, want);
    const char *ct = header(r, "Content-Type");
    assert_non_null(ct);
    assert_non_null(strstr(ct, "application/fhir+json"));
}

static void put(const char *type, const char *source_id, const char *person_id, const char *cat,
                const char *effective, const char *code, const char *extra_json)
{
    char id[STORE_ID_LEN + 1];
    store_resource_id("TEST1", type, source_id, id);
    struct buf j = BUF_INIT;
    buf_addf(&j, "{\"resourceType\":\"%s\",\"id\":\"%s\"%s%s}", type, id, extra_json ? "," : "",
             extra_json ? extra_json : "");
    struct store_put p = {.type = type,
                          .source_org = "TEST1",
                          .source_id = source_id,
                          .person_id = person_id,
                          .category = cat,
                          .effective = effective,
                          .code = code,
                          .json = j.data,
                          .json_len = j.len};
    const char *terms[] = {"family",     "Testperson", "given",
                           "Alex",       "identifier", "urn:weft:id:TEST1:mrn|M1",
                           "identifier", "M1"};
    if (strcmp(type, "Patient") == 0) {
        p.terms = terms;
        p.nterms = 4;
    }
    enum store_put_outcome out;
    int version;
    char got[STORE_ID_LEN + 1];
    assert_int_equal(store_resource_put(st, &p, &out, got, &version), 0);
    assert_string_equal(got, id);
    buf_release(&j);
}

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_WARN);
    snprintf(dir, sizeof dir, "%s/weft-http-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/t.db", dir);
    char *msg = NULL;
    assert_int_equal(store_open(&st, dbpath, true, &msg), 0);
    int from, to;
    assert_int_equal(store_migrate(st, &from, &to), 0);
    char hash[HTTP_AUTH_HASH_HEX + 1];
    int64_t cid;
    http_auth_token_hash(TOKEN, hash);
    assert_int_equal(
        store_client_add(st, "rw", "TEST1", "system/*.rs system/*.cud", hash, NULL, &cid), 0);
    http_auth_token_hash(TOKEN_RO, hash);
    assert_int_equal(store_client_add(st, "ro", "TEST1", "system/*.rs", hash, NULL, &cid), 0);
    http_auth_token_hash(TOKEN_NOORG, hash);
    assert_int_equal(
        store_client_add(st, "noorg", NULL, "system/*.rs system/*.cud", hash, NULL, &cid), 0);
    /* the clients' organisation takes part only with an agreement in force */
    assert_int_equal(store_org_put(st, "TEST1", "Test organisation", "acute"), 0);
    assert_int_equal(store_agreement_add(st, "TEST1", "jca", "2020-01-01", NULL, &cid), 0);
    http_auth_token_hash("revoked-token", hash);
    assert_int_equal(store_client_add(st, "gone", "TEST1", "system/*.rs", hash, NULL, &cid), 0);
    assert_int_equal(store_client_revoke(st, cid), 0);

    char *pid = NULL;
    assert_int_equal(store_person_by_nhs(st, "9990000018", &pid), 0);
    snprintf(person, sizeof person, "%s", pid);
    free(pid);
    put("Patient", "pat-1", person, "demographics", NULL, NULL,
        "\"name\":[{\"family\":\"Testperson\",\"given\":[\"Alex\"]}]");
    store_resource_id("TEST1", "Patient", "pat-1", patient_id);
    for (int i = 0; i < 25; i++) {
        char sid[32], eff[32], extra[160];
        snprintf(sid, sizeof sid, "obs-%02d", i);
        snprintf(eff, sizeof eff, "2020-%02d-15T10:00:00", 1 + i % 12);
        snprintf(extra, sizeof extra,
                 "\"status\":\"final\",\"effectiveDateTime\":\"%s\",\"valueQuantity\":{"
                 "\"value\":%d}",
                 eff, i);
        put("Observation", sid, person, i % 2 ? "results" : "observations", eff,
            i % 5 == 0 ? "http://loinc.org|8867-4" : "http://loinc.org|2339-0", extra);
    }
    put("Condition", "cond-1", person, "conditions", "2019-05-01", "http://snomed.info/sct|1",
        NULL);
    put("Observation", "obs-other", NULL, "observations", "2020-01-01", NULL, NULL);

    mkdir(dir, 0700);
    char sub[400];
    snprintf(sub, sizeof sub, "%s/www", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/www/app.css", dir);
    FILE *f = fopen(sub, "w");
    fputs("body{}", f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/secret.txt", dir);
    f = fopen(sub, "w");
    fputs("secret", f);
    fclose(f);

    struct http_server_config cfg = {.host = "127.0.0.1",
                                     .port = 0,
                                     .threads = 2,
                                     .store_url = dbpath,
                                     .version = "test",
                                     .max_body = 1 << 20};
    assert_int_equal(http_server_init(&srv, &cfg), 0);
    /* as weft serve does: the feeds keep every write in the inbox first */
    struct fhir_api_config acfg = {.write_hook = &feeds_fhir_write_hook};
    assert_int_equal(fhir_api_register(srv, NULL), WEFT_EINVAL); /* no write hook */
    assert_int_equal(fhir_api_register(srv, &acfg), 0);
    snprintf(sub, sizeof sub, "%s/www", dir);
    assert_int_equal(http_static_route(srv, "/assets", sub), 0);
    char *err = NULL;
    assert_int_equal(http_server_start(srv, &err), 0);
    port = http_server_port(srv);
    assert_true(port > 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(srv, 1000);
    http_server_free(srv);
    store_close(st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_health(void **state)
{
    (void)state;
    struct resp r = get("/health", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(r.json, "version")), "test");
    assert_true(json_integer_value(json_object_get(r.json, "schemaVersion")) > 0);
    assert_true(json_is_integer(json_object_get(r.json, "uptimeSeconds")));
    assert_non_null(header(&r, "X-Request-Id"));
    resp_free(&r);
}

static void test_auth(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/fhir/Patient/%s", patient_id);
    struct resp r = get(path, NULL);
    assert_outcome(&r, 401, "authentication required");
    assert_non_null(strstr(header(&r, "WWW-Authenticate"), "Bearer"));
    resp_free(&r);
    r = get(path, "wrong-token");
    assert_outcome(&r, 401, "not valid");
    assert_non_null(strstr(header(&r, "WWW-Authenticate"), "invalid_token"));
    resp_free(&r);
    r = get(path, "revoked-token");
    assert_outcome(&r, 401, "not valid");
    resp_free(&r);
    r = http("GET", path, "Authorization: Basic dXNlcjpwdw==\r\n", NULL, 0);
    assert_outcome(&r, 401, "authentication required");
    resp_free(&r);
    r = get(path, TOKEN_RO);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* metadata needs no token */
    r = get("/fhir/metadata", NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_read_vread_history(void **state)
{
    (void)state;
    char path[200];
    snprintf(path, sizeof path, "/fhir/Patient/%s", patient_id);
    struct resp r = get(path, TOKEN);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), patient_id);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r.json, "name"), 0), "family")),
                        "Testperson");
    assert_string_equal(header(&r, "ETag"), "W/\"1\"");
    assert_non_null(header(&r, "Last-Modified"));
    assert_non_null(strstr(header(&r, "Content-Type"), "application/fhir+json"));
    resp_free(&r);

    /* conditional read: the version held is current -> 304 without a body */
    struct buf h = BUF_INIT;
    buf_addf(&h, "Authorization: Bearer %s\r\nIf-None-Match: W/\"1\"\r\n", TOKEN);
    snprintf(path, sizeof path, "/fhir/Patient/%s", patient_id);
    r = http("GET", path, h.data, NULL, 0);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    resp_free(&r);
    buf_release(&h);

    /* a new version, then vread both and the history */
    put("Patient", "pat-1", person, "demographics", NULL, NULL,
        "\"name\":[{\"family\":\"Testperson\",\"given\":[\"Alexandra\"]}]");
    r = get(path, TOKEN);
    assert_string_equal(header(&r, "ETag"), "W/\"2\"");
    resp_free(&r);
    /* the version held is no longer current -> the new one */
    r = http("GET", path, "Authorization: Bearer " TOKEN "\r\nIf-None-Match: W/\"1\"\r\n", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "ETag"), "W/\"2\"");
    resp_free(&r);
    snprintf(path, sizeof path, "/fhir/Patient/%s/_history/1", patient_id);
    r = get(path, TOKEN);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"Alex\""));
    resp_free(&r);
    snprintf(path, sizeof path, "/fhir/Patient/%s/_history/7", patient_id);
    r = get(path, TOKEN);
    assert_outcome(&r, 404, "has no version 7");
    resp_free(&r);
    snprintf(path, sizeof path, "/fhir/Patient/%s/_history/x1", patient_id);
    r = get(path, TOKEN);
    assert_outcome(&r, 400, "not a version id");
    resp_free(&r);
    snprintf(path, sizeof path, "/fhir/Patient/%s/_history", patient_id);
    r = get(path, TOKEN);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "type")), "history");
    assert_int_equal(json_array_size(json_object_get(r.json, "entry")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    resp_free(&r);
    r = get("/fhir/Patient/_history?_count=1", TOKEN);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "entry")), 1);
    resp_free(&r);
    r = get("/fhir/Patient/_history?foo=1", TOKEN);
    assert_outcome(&r, 400, "'foo'");
    resp_free(&r);
}

static void test_errors(void **state)
{
    (void)state;
    struct resp r = get("/fhir/Patient/doesnotexist", TOKEN);
    assert_outcome(&r, 404, "Patient/doesnotexist is not known");
    resp_free(&r);
    r = get("/fhir/Wibble/1", TOKEN);
    assert_outcome(&r, 404, "'Wibble' is not a FHIR R4 resource type");
    resp_free(&r);
    r = get("/fhir/Wibble?code=1", TOKEN);
    assert_outcome(&r, 404, "'Wibble'");
    resp_free(&r);
    r = get("/fhir/Patient/bad%20id", TOKEN);
    assert_outcome(&r, 400, "not a valid resource id");
    resp_free(&r);
    r = get("/fhir/Observation?colour=red", TOKEN);
    assert_outcome(&r, 400, "unknown search parameter 'colour'");
    resp_free(&r);
    r = get("/fhir/Observation?date=tomorrow", TOKEN);
    assert_outcome(&r, 400, "not a valid date");
    resp_free(&r);
    r = get("/fhir/Observation?code=%zz", TOKEN);
    assert_outcome(&r, 400, "malformed query");
    resp_free(&r);
    r = http("GET", "/fhir/Observation", "Authorization: Bearer " TOKEN "\r\nAccept: text/html\r\n",
             NULL, 0);
    assert_outcome(&r, 406, "JSON");
    resp_free(&r);
    r = http("GET", "/fhir/Observation",
             "Authorization: Bearer " TOKEN "\r\nAccept: text/html, application/fhir+json\r\n",
             NULL, 0);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = http("DELETE", "/fhir/Observation/x", "Authorization: Bearer " TOKEN "\r\n", NULL, 0);
    assert_outcome(&r, 405, "DELETE");
    assert_non_null(strstr(header(&r, "Allow"), "GET"));
    resp_free(&r);
    r = get("/nowhere", NULL);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "\"error\""));
    resp_free(&r);
}

static void test_post_bundle_errors(void **state)
{
    (void)state;
    const char *auth = "Authorization: Bearer " TOKEN "\r\nContent-Type: application/fhir+json\r\n";
    struct resp r =
        http("POST", "/fhir", auth, "{\"resourceType\": \"Bundle\",\n \"type\": tr", 39);
    assert_outcome(&r, 400, "line 2");
    resp_free(&r);
    const char *p = "{\"resourceType\":\"Patient\"}";
    r = http("POST", "/fhir", auth, p, strlen(p));
    assert_outcome(&r, 400, "not a Patient");
    resp_free(&r);
    p = "{\"type\":\"batch\"}";
    r = http("POST", "/fhir", auth, p, strlen(p));
    assert_outcome(&r, 400, "no resourceType");
    resp_free(&r);
    p = "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[]}";
    r = http("POST", "/fhir", auth, p, strlen(p));
    assert_outcome(&r, 400, "transaction or batch");
    resp_free(&r);
    p = "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[]}";
    r = http("POST", "/fhir", "Authorization: Bearer " TOKEN "\r\nContent-Type: text/plain\r\n", p,
             strlen(p));
    assert_outcome(&r, 415, "text/plain");
    resp_free(&r);
    r = http("POST", "/fhir",
             "Authorization: Bearer " TOKEN_RO "\r\nContent-Type: application/fhir+json\r\n", p,
             strlen(p));
    assert_outcome(&r, 403, "may not write");
    resp_free(&r);
    r = http("POST", "/fhir",
             "Authorization: Bearer " TOKEN_NOORG "\r\nContent-Type: application/fhir+json\r\n", p,
             strlen(p));
    assert_outcome(&r, 403, "no organisation");
    resp_free(&r);
    /* non-UTF-8 bytes */
    const char bad[] = "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"x\":\"\xff\xfe\"}";
    r = http("POST", "/fhir", auth, bad, sizeof bad - 1);
    assert_outcome(&r, 400, "not valid JSON");
    resp_free(&r);
    /* over the 1 MiB limit of this server: refused before reading */
    size_t big = (1 << 20) + 10;
    char *body = xmalloc(big);
    memset(body, ' ', big);
    r = http("POST", "/fhir", auth, body, big);
    assert_outcome(&r, 413, "exceeds the limit");
    resp_free(&r);
    free(body);
}

static json_t *entries(const struct resp *r)
{
    return json_object_get(r->json, "entry");
}

static void test_search(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "/fhir/Observation?patient=Patient/%s&_count=100", patient_id);
    struct resp r = get(path, TOKEN);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "type")), "searchset");
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 25);
    assert_int_equal(json_array_size(entries(&r)), 25);
    json_t *e0 = json_array_get(entries(&r), 0);
    assert_non_null(strstr(json_string_value(json_object_get(e0, "fullUrl")), "http://127.0.0.1:"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(e0, "search"), "mode")),
                        "match");
    /* within one patient the default order is newest first */
    const char *prev = "9999";
    size_t k;
    json_t *e;
    json_array_foreach(entries(&r), k, e)
    {
        const char *d =
            json_string_value(json_object_get(json_object_get(e, "resource"), "effectiveDateTime"));
        assert_non_null(d);
        if (strcmp(d, prev) > 0)
            fail_msg("default order not newest first: %s after %s", d, prev);
        prev = d;
    }
    resp_free(&r);

    snprintf(path, sizeof path,
             "/fhir/Observation?subject=%s&code=http://"
             "loinc.org%%7C8867-4&_record-category=observations",
             patient_id);
    r = get(path, TOKEN);
    assert_int_equal(r.status, 200);
    /* i % 5 == 0 and i even: 0, 10, 20 */
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 3);
    resp_free(&r);

    snprintf(path, sizeof path,
             "/fhir/Observation?patient=%s&date=ge2020-03&date=lt2020-05&_sort=-date", patient_id);
    r = get(path, TOKEN);
    /* months 3 and 4: i = 2, 3, 14, 15 */
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 4);
    const char *d0 = json_string_value(
        json_object_get(json_object_get(json_array_get(entries(&r), 0), "resource"), "id"));
    assert_non_null(d0);
    resp_free(&r);

    /* _total=none: no Bundle.total */
    snprintf(path, sizeof path, "/fhir/Observation?patient=%s&_total=none&_count=2", patient_id);
    r = get(path, TOKEN);
    assert_int_equal(r.status, 200);
    assert_null(json_object_get(r.json, "total"));
    assert_int_equal(json_array_size(entries(&r)), 2);
    resp_free(&r);

    /* across people: includes the Observation without a person */
    r = get("/fhir/Observation?_count=0", TOKEN);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 26);
    assert_int_equal(json_array_size(entries(&r)), 0);
    resp_free(&r);

    r = get("/fhir/Patient?family=testp&given=ALE", TOKEN);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    resp_free(&r);
    r = get("/fhir/Patient?identifier=urn:weft:id:TEST1:mrn%7CM1", TOKEN);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    resp_free(&r);
    r = get("/fhir/Patient?identifier=M1", TOKEN);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    resp_free(&r);
    r = get("/fhir/Patient?family=nobody", TOKEN);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 0);
    resp_free(&r);
    snprintf(path, sizeof path, "/fhir/Patient?_id=%s,unknownid", patient_id);
    r = get(path, TOKEN);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    resp_free(&r);

    /* lenient: the unknown parameter becomes a warning in the bundle */
    r = http("GET", "/fhir/Observation?colour=red&_count=1",
             "Authorization: Bearer " TOKEN "\r\nPrefer: handling=lenient\r\n", NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *last = json_array_get(entries(&r), json_array_size(entries(&r)) - 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(last, "search"), "mode")),
                        "outcome");
    assert_non_null(strstr(r.body, "'colour'"));
    resp_free(&r);

    /* POST _search with a form */
    snprintf(path, sizeof path, "patient=Patient%%2F%s&code=8867-4", patient_id);
    r = http("POST", "/fhir/Observation/_search",
             "Authorization: Bearer " TOKEN
             "\r\nContent-Type: application/x-www-form-urlencoded\r\n",
             path, strlen(path));
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 5);
    resp_free(&r);

    /* unknown patient: empty, with a warning */
    r = get("/fhir/Observation?patient=nosuchpatient", TOKEN);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 0);
    resp_free(&r);
}

/* Follow next links from first; collect ids; check no duplicates and the
 * count equals total. */
static int collect_pages(const char *first, char ids[][STORE_ID_LEN + 1], int max, int *pages,
                         void (*between)(int page))
{
    char path[1024];
    snprintf(path, sizeof path, "%s", first);
    int n = 0;
    long long total = -1;
    *pages = 0;
    for (;;) {
        struct resp r = get(path, TOKEN);
        assert_int_equal(r.status, 200);
        long long t = json_integer_value(json_object_get(r.json, "total"));
        if (total < 0)
            total = t;
        assert_int_equal(t, total);
        size_t i;
        json_t *e;
        json_array_foreach(entries(&r), i, e)
        {
            const char *id =
                json_string_value(json_object_get(json_object_get(e, "resource"), "id"));
            for (int k = 0; k < n; k++)
                if (strcmp(ids[k], id) == 0)
                    fail_msg("duplicate %s on page %d", id, *pages);
            assert_true(n < max);
            snprintf(ids[n++], STORE_ID_LEN + 1, "%s", id);
        }
        (*pages)++;
        const char *next = NULL;
        json_array_foreach(json_object_get(r.json, "link"), i, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "relation")), "next") == 0)
                next = json_string_value(json_object_get(e, "url"));
        }
        if (!next) {
            resp_free(&r);
            break;
        }
        const char *p = strstr(next, "/fhir/");
        assert_non_null(p);
        snprintf(path, sizeof path, "%s", p);
        resp_free(&r);
        if (between)
            between(*pages);
    }
    assert_int_equal(n, total);
    return n;
}

static void insert_more(int page)
{
    /* a new item for the same person during paging must not appear, and
     * must not push another item off a page */
    char sid[32];
    snprintf(sid, sizeof sid, "late-%d", page);
    put("Observation", sid, person, "results", "2000-01-01", "http://loinc.org|1", NULL);
}

static void test_everything_paging(void **state)
{
    (void)state;
    static char ids[200][STORE_ID_LEN + 1];
    char path[300];
    int pages;
    snprintf(path, sizeof path, "/fhir/Patient/%s/$everything?_count=4", patient_id);
    int n = collect_pages(path, ids, 200, &pages, NULL);
    assert_int_equal(n, 27); /* patient + 25 observations + condition */
    assert_int_equal(pages, 7);

    /* concurrent inserts while paging: still exactly the 27 of the snapshot */
    n = collect_pages(path, ids, 200, &pages, insert_more);
    assert_int_equal(n, 27);
    /* and a new search sees them */
    n = collect_pages(path, ids, 200, &pages, NULL);
    assert_int_equal(n, 27 + 6);

    snprintf(path, sizeof path, "/fhir/Observation?patient=%s&_count=7&_sort=date", patient_id);
    n = collect_pages(path, ids, 200, &pages, NULL);
    assert_int_equal(n, 25 + 6);

    struct resp r = get("/fhir/Patient/nosuch/$everything", TOKEN);
    assert_outcome(&r, 404, "Patient/nosuch is not known");
    resp_free(&r);
    snprintf(path, sizeof path, "/fhir/Patient/%s/$everything?_cursor=garbage", patient_id);
    r = get(path, TOKEN);
    assert_outcome(&r, 400, "_cursor");
    resp_free(&r);
}

static void test_metadata(void **state)
{
    (void)state;
    struct resp r = get("/fhir/metadata", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "resourceType")),
                        "CapabilityStatement");
    assert_string_equal(json_string_value(json_object_get(r.json, "fhirVersion")), "4.0.1");
    json_t *rest = json_array_get(json_object_get(r.json, "rest"), 0);
    bool patient = false, observation = false, claim = false;
    size_t i;
    json_t *res;
    json_array_foreach(json_object_get(rest, "resource"), i, res)
    {
        const char *t = json_string_value(json_object_get(res, "type"));
        patient = patient || strcmp(t, "Patient") == 0;
        observation = observation || strcmp(t, "Observation") == 0;
        claim = claim || strcmp(t, "Claim") == 0;
        if (strcmp(t, "Patient") == 0) {
            char *text = json_dumps(res, 0);
            bool has = strstr(text, "\"everything\"") != NULL;
            free(text);
            assert_true(has);
        }
    }
    assert_true(patient && observation && !claim);
    resp_free(&r);
}

static void test_static(void **state)
{
    (void)state;
    struct resp r = get("/assets/app.css", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "body{}");
    assert_non_null(strstr(header(&r, "Content-Type"), "text/css"));
    resp_free(&r);
    const char *attacks[] = {"/assets/../secret.txt",   "/assets/%2e%2e/secret.txt",
                             "/assets/..%2fsecret.txt", "/assets/%2E%2E%2Fsecret.txt",
                             "/assets/.hidden",         "/assets/app.css%00.png",
                             "/assets/nothing.css"};
    for (size_t k = 0; k < sizeof attacks / sizeof attacks[0]; k++) {
        r = get(attacks[k], NULL);
        if (r.status == 200 || strstr(r.body, "secret"))
            fail_msg("%s served: %d %s", attacks[k], r.status, r.body);
        resp_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_read_vread_history),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_post_bundle_errors),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_everything_paging),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_static),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
