/* test_model_txn.c - the identity model as the feed path reads it
 * (mpi_model_acquire), on the backend under test: read once per
 * transaction, and a model stored between two transactions - by
 * mpi_model_save, or written to the store's meta by someone else (another
 * process's `weft person estimate`) - is the one the next transaction gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/err.h"
#include "identity/model.h"
#include "identity/mpi.h"
#include "store/meta.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

static int setup(void **state)
{
    return testdb_setup(state, "model-txn");
}

/* the version of the model a new transaction on s is given */
static int version_in_txn(struct store *s, int times)
{
    assert_int_equal(store_begin(s), WEFT_OK);
    int v = -1;
    for (int i = 0; i < times; i++) {
        const struct idmodel *m = mpi_model_acquire(s);
        assert_true(i == 0 || m->version == v);
        v = m->version;
        mpi_model_release(m);
    }
    assert_int_equal(store_commit(s), WEFT_OK);
    return v;
}

/* what another process's estimate leaves in meta: a model with its own id */
static void store_foreign(struct store *s, int version, const char *id)
{
    struct idmodel m;
    idmodel_init_default(&m);
    m.version = version;
    snprintf(m.id, sizeof m.id, "%s", id);
    json_t *j = idmodel_to_json(&m);
    char *body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    idmodel_free(&m);
    char ver[16];
    snprintf(ver, sizeof ver, "%d", version);
    assert_int_equal(store_begin(s), WEFT_OK);
    assert_int_equal(store_meta_set(s, "identity.model", body), WEFT_OK);
    assert_int_equal(store_meta_set(s, "identity.model.version", ver), WEFT_OK);
    assert_int_equal(store_meta_set(s, "identity.model.id", id), WEFT_OK);
    assert_int_equal(store_commit(s), WEFT_OK);
    free(body);
}

static void test_model_per_txn(void **state)
{
    struct store *s = *state;
    struct idmodel d;
    idmodel_init_default(&d);
    int v0 = d.version;
    idmodel_free(&d);
    assert_int_equal(version_in_txn(s, 3), v0); /* none stored: the default */

    struct idmodel m;
    idmodel_init_default(&m);
    assert_int_equal(mpi_model_save(s, &m), WEFT_OK);
    int v1 = m.version;
    idmodel_free(&m);
    assert_true(v1 != v0);
    assert_int_equal(version_in_txn(s, 3), v1);

    /* written behind mpi.c's back, between two transactions */
    store_foreign(s, 41, "0123456789abcdef0123456789abcdef");
    assert_int_equal(version_in_txn(s, 2), 41);
    store_foreign(s, 42, "fedcba9876543210fedcba9876543210");
    assert_int_equal(version_in_txn(s, 2), 42);
    /* and outside any transaction it is read every time */
    store_foreign(s, 43, "00112233445566778899aabbccddeeff");
    const struct idmodel *o = mpi_model_acquire(s);
    assert_int_equal(o->version, 43);
    mpi_model_release(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_per_txn, setup, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
