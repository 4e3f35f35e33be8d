/* fuzz_html_text.c - libFuzzer target for the reader's handling of untrusted
 * markup (html_text_from_markup: FHIR narratives, text/html attachments) and
 * for plain text (html_text_lines).  Invariant checked on every input: the
 * output contains no markup of its own except the "<br>" line breaks it
 * emits, and no NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/html.h"

static void check_safe(const struct buf *b)
{
    if (memchr(b->data, 0, b->len))
        abort();
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '>' || b->data[i] == '"' || b->data[i] == '\'')
            abort();
        if (b->data[i] == '<') {
            if (b->len - i < 4 || memcmp(b->data + i, "<br>", 4) != 0)
                abort();
            i += 3;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf b = BUF_INIT;
    html_text_from_markup(&b, (const char *)data, size);
    check_safe(&b);
    buf_reset(&b);
    html_text_lines(&b, (const char *)data, size);
    check_safe(&b);
    buf_release(&b);
    return 0;
}
