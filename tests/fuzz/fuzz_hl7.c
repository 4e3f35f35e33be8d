/*
 * fuzz_hl7.c - libFuzzer target for the HL7 v2 parser, splitter, mapping
 * and ACK builder.  The input is treated as a file: split into messages,
 * each parsed (strict, then lax), every field located and decoded, the
 * message re-encoded and parsed again (it must parse: the encoder only
 * writes canonical text), mapped to FHIR and acknowledged.
 * Built by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/hl7.h"
#include "feeds/hl7_ack.h"
#include "feeds/hl7_map.h"

static void exercise(struct hl7_msg *m, const char *data, size_t len)
{
    const struct hl7_delims *d = hl7_msg_delims(m);
    char out[256];
    for (size_t k = 0; k < hl7_seg_count(m); k++) {
        for (size_t f = 1; f <= hl7_seg_field_count(m, k); f++) {
            struct hl7_span v;
            if (hl7_seg_get(m, k, f, 0, 0, 0, &v))
                abort(); /* every counted field exists */
            if (v.p < data || v.p + v.len > data + len)
                abort();
            hl7_unescape(d, v, out, sizeof out);
            for (size_t r = 1; r <= 2; r++)
                for (size_t c = 1; c <= 2; c++)
                    if (!hl7_seg_get(m, k, f, r, c, 2, &v))
                        hl7_unescape(d, v, out, sizeof out);
        }
    }
    struct buf enc = BUF_INIT;
    hl7_msg_encode(m, NULL, &enc);
    struct hl7_msg *m2 = hl7_msg_new();
    struct hl7_error e;
    if (hl7_msg_parse(m2, enc.data, enc.len, 0, &e) != 0)
        abort(); /* re-encoded output must always parse */
    if (hl7_seg_count(m2) != hl7_seg_count(m))
        abort();
    hl7_msg_free(m2);
    buf_release(&enc);
    struct hl7_map_opts o = {.ods = "FUZZ"};
    struct hl7_map_result r;
    int rc = hl7_map_message(m, &o, &r);
    struct buf ack = BUF_INIT;
    hl7_ack_build_ex(m, rc ? "AR" : "AA", rc ? r.reason : NULL, rc ? &r.err : NULL, &ack);
    if (r.bundle) {
        char *j = json_dumps(r.bundle, 0);
        if (!j)
            abort();
        free(j);
    }
    hl7_map_result_clear(&r);
    buf_release(&ack);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct hl7_msg *m = hl7_msg_new();
    struct hl7_error e;
    if (hl7_msg_parse(m, p, size, 0, &e) == 0) {
        exercise(m, p, size);
    } else {
        if (e.text[0] == 0)
            abort(); /* every failure explains itself */
        struct buf nak = BUF_INIT;
        hl7_ack_build_nak(p, size, "AR", NULL, &e, &nak);
        struct hl7_msg *a = hl7_msg_new();
        if (hl7_msg_parse(a, nak.data, nak.len, 0, &e) != 0)
            abort(); /* the NAK must itself be valid HL7 */
        hl7_msg_free(a);
        buf_release(&nak);
        if (hl7_msg_parse(m, p, size, HL7_PARSE_LAX_ESCAPES, &e) == 0)
            exercise(m, p, size);
    }
    struct hl7_split s;
    struct hl7_span msg;
    hl7_split_init(&s, p, size);
    int n = 0;
    while (hl7_split_next(&s, &msg, &e) == 1 && n++ < 64)
        if (hl7_msg_parse(m, msg.p, msg.len, 0, &e) == 0)
            exercise(m, msg.p, msg.len);
    hl7_msg_free(m);
    return 0;
}
