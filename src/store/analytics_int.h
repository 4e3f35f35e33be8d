/*
 * analytics_int.h - the table of analytics operations a backend fills
 * (store/analytics.h is the contract).  Only src/store/ includes this.  The
 * backend's main table (struct store_ops) points at it through its member
 * `analytics`, like every noun's table (store_int.h); STORE_CALL(s,
 * analytics, op, ...) dispatches, and a backend without the table answers
 * WEFT_EUNSUPPORTED.
 */
#ifndef WEFT_STORE_ANALYTICS_INT_H
#define WEFT_STORE_ANALYTICS_INT_H

#include "store/analytics.h"
#include "store/store_int.h"

struct store_analytics_ops {
    int (*optout_list_add)(struct store *, const struct store_optout_list *, const char *const *nhs,
                           int64_t n, int64_t *id_out);
    int (*optout_list_current)(struct store *, struct store_optout_list *);
    int (*optout_list_get)(struct store *, int64_t id, struct store_optout_list *);
    int (*optout_list_all)(struct store *, struct store_optout_list **, int *);
    int (*optout_cleared_scan)(struct store *, int64_t id, int (*fn)(const char *, void *),
                               void *ctx);
    int (*output_add)(struct store *, const struct store_analytics_output *, int64_t *id_out);
    int (*output_list)(struct store *, int limit, struct store_analytics_output **, int *);
    int (*result_put)(struct store *, const struct store_analytics_result *);
    int (*result_get)(struct store *, const char *name, const char *params,
                      struct store_analytics_result *);
    int (*result_keys)(struct store *, struct store_analytics_result **, int *);
    int (*scan)(struct store *, const char *const *types, const char *const *person_ids, int n,
                int (*fn)(const struct store_analytics_item *, void *), void *ctx);
    int (*org_persons)(struct store *, const char *org, int (*fn)(const char *, void *), void *ctx);
    int (*org_has_person)(struct store *, const char *org, const char *person_id, bool *yes);
    int (*state_get)(struct store *, unsigned char **blob, size_t *len, int64_t *seq,
                     int64_t *moved, int64_t *generation);
    int (*state_put)(struct store *, const unsigned char *blob, size_t len, int64_t seq,
                     int64_t moved, int64_t generation);
    int (*contrib_get)(struct store *, const char *const *person_ids, int n,
                       int (*fn)(const char *, const unsigned char *, size_t, void *), void *ctx);
    int (*contrib_put)(struct store *, const char *const *person_ids,
                       const unsigned char *const *blobs, const size_t *lens, int n);
    int (*contrib_clear)(struct store *);
    int (*marks)(struct store *, int64_t *seq, int64_t *moved);
    int (*changed)(struct store *, int64_t seq, int64_t moved, int (*fn)(const char *, void *),
                   void *ctx);
    int (*risk_put)(struct store *, const struct store_analytics_risk *rows, int n);
    int (*risk_clear)(struct store *);
    int (*risk_scan)(struct store *, const char *practice,
                     int (*fn)(const struct store_analytics_risk *, void *), void *ctx);
    int (*risk_day_get)(struct store *, int64_t *day, char computed[32]);
    int (*risk_day_put)(struct store *, int64_t day, const char *computed);
};

#endif
