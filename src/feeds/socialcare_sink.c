/*
 * socialcare_sink.c - the social care store sink: each Bundle of an extract
 * loaded into the record through the loading pipeline (fhir/load.h), one
 * store transaction per batch when grouped (see socialcare.h).
 */
#include "feeds/socialcare.h"

#include <assert.h>
#include <stdbool.h>

#include "core/err.h"
#include "fhir/load.h"
#include "store/store.h"
#include "store/txn.h"

/* ---- loading into the record --------------------------------------------- */

/* The sink runs on the calling thread; with socialcare_store_prepare as
 * opts.prepare, fhir_load_prepare() ran on the reading thread and only the
 * store half is left here. */
int socialcare_store_commit(void *arg)
{
    struct socialcare_store_sink *ss = arg;
    int rc = ss->broken;
    ss->broken = 0;
    if (ss->open) {
        assert(rc == 0);
        rc = store_commit(ss->store);
        if (rc != 0)
            store_rollback(ss->store);
        ss->open = false;
    }
    return rc;
}

int socialcare_store_sink(void *arg, json_t *bundle, struct socialcare_batch *batch)
{
    struct socialcare_store_sink *ss = arg;
    struct load_ctx lc = {.org = ss->org, .feed = ss->feed, .file = ss->file};
    if (ss->grouped) {
        /* the batch already failed: its transaction is gone */
        if (ss->broken)
            return ss->broken;
        if (!ss->open) {
            int brc = store_begin(ss->store);
            if (brc != 0) {
                ss->broken = brc;
                socialcare_batch_broken(batch);
                return brc;
            }
            ss->open = true;
        }
        lc.nested = true;
    }
    struct load_report local;
    struct load_report *lr = ss->load;
    if (!lr) {
        load_report_init(&local);
        lr = &local;
    }
    json_t *resp = NULL;
    struct load_prep *prep = socialcare_batch_prep(batch);
    int rc = prep ? fhir_load_prepared(ss->store, prep, &lc, lr, &resp)
                  : fhir_load_bundle(ss->store, bundle, &lc, lr, &resp);
    if (rc == WEFT_OK) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(resp, "entry"), i, e)
        {
            json_t *r = json_object_get(e, "response");
            const char *status = json_string_value(json_object_get(r, "status"));
            if (status && (status[0] == '4' || status[0] == '5')) {
                const char *why = json_string_value(json_object_get(
                    json_array_get(json_object_get(json_object_get(r, "outcome"), "issue"), 0),
                    "diagnostics"));
                socialcare_batch_fail(batch, i, why ? why : status);
            }
        }
    }
    json_decref(resp);
    if (lr == &local)
        load_report_free(&local);
    if (ss->grouped && store_broken(rc)) {
        /* the transaction may be half rolled back by SQLite: drop all of it so
         * that nothing of the batch is stored and every row of it fails */
        store_rollback(ss->store);
        ss->open = false;
        ss->broken = rc;
        socialcare_batch_broken(batch);
    }
    return rc;
}

void *socialcare_store_prepare(void *arg, json_t *bundle)
{
    const struct socialcare_store_sink *ss = arg;
    struct load_ctx lc = {.org = ss->org, .feed = ss->feed, .file = ss->file};
    return fhir_load_prepare(bundle, &lc);
}

void socialcare_store_prep_free(void *prep)
{
    fhir_load_prep_free(prep);
}
