/*
 * audit_serve.c - the audit writer's part of `weft serve` (see audit.h,
 * "the process's audit sink"): started before every part that reads or
 * changes anything, it opens the one group-commit audit log and installs
 * it, so that every audit_record() of every part (access, FHIR API, web
 * pages, citizen pages, reports) queues on the same writer.  Stopped after
 * them (parts stop in reverse order), committing everything queued.
 */
#include <stdio.h>

#include "audit/audit.h"
#include "core/err.h"
#include "http/serve.h"

int audit_serve_start(const struct serve_ctx *ctx, void **state)
{
    struct audit_log *log = NULL;
    int rc = audit_log_open(&log, ctx->db);
    if (rc) {
        fprintf(stderr, "weft serve: cannot start the audit writer: %s\n", weft_strerror(rc));
        return rc;
    }
    audit_set_log(log);
    *state = log;
    return WEFT_OK;
}

void audit_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    audit_set_log(NULL);
    audit_log_close(state); /* commits everything queued */
}
