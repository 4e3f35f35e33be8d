/*
 * my.h - the citizen's pages under /my/ (issue 17): sign-in with an OpenID
 * provider in the shape of NHS login (web/my_login.c), then, for a person
 * proved to P9, their record by category with where each item came from, who
 * has viewed it, their objection to sharing, copies of their record (subject
 * access requests), and plain-English explanations of the national data
 * opt-out and the Summary Care Record.
 *
 * A serve part of its own (cmd_serve.c's table): its routes, its audit log.
 */
#ifndef WEFT_WEB_MY_H
#define WEFT_WEB_MY_H

struct serve_ctx;

int my_serve_start(const struct serve_ctx *ctx, void **state);
void my_serve_stop(const struct serve_ctx *ctx, void *state);

#endif
