/*
 * register.c - register a generated region's organisations, agreements and
 * feeds (see register.h).  It goes through the same store and registry
 * calls as `weft org` and `weft feed add`, so what it creates is exactly what
 * an operator would create by hand, and each change is audited as theirs is.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "feeds/registry.h"
#include "store/access.h"
#include "store/feeds.h"
#include "store/store.h"
#include "store/txn.h"
#include "synth/register.h"

static void audit_admin(struct store *s, const char *what, const char *reason)
{
    const char *user = getenv("USER");
    struct buf by = BUF_INIT;
    buf_addf(&by, "cli:%s", user ? user : "unknown");
    struct audit_event ev = {.action = AUDIT_ADMIN,
                             .outcome = AUDIT_OK,
                             .client = by.data,
                             .what = what,
                             .count = -1,
                             .reason = reason};
    audit_append(s, &ev, NULL);
    buf_release(&by);
}

static int add_org(struct store *s, json_t *org, const char *from, const char *asof,
                   struct synth_register_stats *st, char *err, size_t errlen)
{
    const char *ods = json_string_value(json_object_get(org, "ods"));
    const char *name = json_string_value(json_object_get(org, "name"));
    const char *type = json_string_value(json_object_get(org, "type"));
    if (!ods || !name || !type) {
        snprintf(err, errlen, "manifest: organisation without ods, name or type");
        return WEFT_EINVAL;
    }
    struct store_txn txn;
    int rc = store_txn_begin(&txn, s);
    if (!rc)
        rc = store_org_put(s, ods, name, type);
    bool in_force = false;
    if (!rc)
        rc = store_agreement_in_force(s, ods, asof, &in_force);
    int64_t id;
    if (!rc && !in_force) {
        rc = store_agreement_add(s, ods, "jca", from, NULL, &id);
        if (!rc)
            st->agreements++;
    }
    if (!rc) {
        struct buf what = BUF_INIT;
        buf_addf(&what, "org/%s type=%s", ods, type);
        audit_admin(s, what.data, "organisation registered by weft synth register");
        buf_release(&what);
        rc = store_txn_commit(&txn);
    } else {
        store_txn_rollback(&txn);
    }
    if (rc)
        snprintf(err, errlen, "organisation %s: %s", ods, store_errmsg(s));
    else
        st->orgs++;
    return rc;
}

int synth_register(const struct synth_register_opts *o, struct synth_register_stats *st, char *err,
                   size_t errlen)
{
    memset(st, 0, sizeof *st);
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", o->dir);
    json_error_t je;
    json_t *man = json_load_file(path, 0, &je);
    if (!man) {
        snprintf(err, errlen, "cannot read '%s': %s", path, je.text);
        return WEFT_EINVAL;
    }
    const char *asof = json_string_value(json_object_get(man, "as_of"));
    struct store *s = NULL;
    char *serr = NULL;
    int rc = store_open(&s, o->db, false, &serr);
    if (rc) {
        snprintf(err, errlen, "%s", serr ? serr : weft_strerror(rc));
        free(serr);
        json_decref(man);
        return rc;
    }
    int v = 0;
    if (store_schema_version(s, &v) != 0 || v == 0) {
        snprintf(err, errlen, "'%s' has no schema: run 'weft init --db %s' first", o->db, o->db);
        store_close(s);
        json_decref(man);
        return WEFT_EINVAL;
    }
    json_t *creds = json_object();
    json_t *list = json_array();
    json_object_set_new(creds, "feeds", list);
    size_t i, j;
    json_t *org, *feed;
    json_array_foreach(json_object_get(man, "organisations"), i, org)
    {
        if ((rc = add_org(s, org, o->from, asof ? asof : o->from, st, err, errlen)) != 0)
            goto done;
        const char *ods = json_string_value(json_object_get(org, "ods"));
        json_array_foreach(json_object_get(org, "feeds"), j, feed)
        {
            const char *kind = json_string_value(json_object_get(feed, "kind"));
            const char *name = json_string_value(json_object_get(feed, "name"));
            struct buf folder = BUF_INIT;
            if (!strcmp(kind, "csv")) {
                if (!o->drop_root) {
                    snprintf(err, errlen, "--drop-root DIR is needed for the CSV feeds");
                    rc = WEFT_EINVAL;
                    goto done;
                }
                buf_addf(&folder, "%s/%s", o->drop_root, name);
            }
            struct feed_spec spec = {.org = ods,
                                     .kind = kind,
                                     .name = name,
                                     .facility =
                                         json_string_value(json_object_get(feed, "facility")),
                                     .folder = folder.len ? folder.data : NULL};
            char *token = NULL;
            int64_t id;
            char ferr[200];
            json_t *c = json_object();
            json_object_set_new(c, "name", json_string(name));
            json_object_set_new(c, "kind", json_string(kind));
            json_object_set_new(c, "org", json_string(ods));
            rc = feed_registry_add(s, &spec, &id, &token, ferr, sizeof ferr);
            if (rc == WEFT_EEXIST) {
                struct store_feed sf;
                if (store_feed_by_name(s, name, &sf) == 0) {
                    if (sf.folder)
                        json_object_set_new(c, "folder", json_string(sf.folder));
                    store_feed_clear(&sf);
                }
                json_object_set_new(c, "note", json_string("feed existed; token not shown again"));
                st->feeds_existing++;
                rc = 0;
            } else if (rc) {
                snprintf(err, errlen, "feed %s: %s", name, ferr);
                json_decref(c);
                buf_release(&folder);
                goto done;
            } else {
                st->feeds_added++;
                if (token)
                    json_object_set_new(c, "token", json_string(token));
                if (folder.len)
                    json_object_set_new(c, "folder", json_string(folder.data));
            }
            if (spec.facility)
                json_object_set_new(c, "facility", json_string(spec.facility));
            free(token);
            buf_release(&folder);
            json_array_append_new(list, c);
        }
    }
    /* credentials: created 0600, written whole, then renamed into place */
    char tmp[1200];
    const char *out = o->credentials;
    char def[1100];
    if (!out) {
        snprintf(def, sizeof def, "%s/credentials.json", o->dir);
        out = def;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *text = json_dumps(creds, JSON_INDENT(2));
    if (fd < 0 || !text) {
        snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
        rc = WEFT_EIO;
    } else {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off != len || fsync(fd) != 0 || rename(tmp, out) != 0) {
            snprintf(err, errlen, "cannot write '%s': %s", out, strerror(errno));
            rc = WEFT_EIO;
        }
    }
    if (fd >= 0)
        close(fd);
    free(text);
done:
    json_decref(creds);
    json_decref(man);
    store_close(s);
    return rc;
}
