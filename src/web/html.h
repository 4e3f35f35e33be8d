/*
 * html.h - the small HTML templating helper every web page is built with.
 *
 * Escaping is the default: html_addf() is printf with one difference, every
 * %s argument is HTML-escaped (text and attribute values alike), so a page
 * cannot be broken or scripted by data from the record.  Raw markup enters a
 * page only through html_raw(), whose argument must be a literal or markup
 * this module built; there is no format flag for "unescaped".
 *
 * The compiler checks the format against the arguments (printf attribute),
 * so the usual type mistakes are build errors.
 *
 * Other helpers:
 *   html_url_addf()  %s arguments percent-encoded (query strings, paths);
 *   html_text_from_markup()  a plain-text rendering of untrusted markup
 *                    (FHIR narrative, text/html attachments), for readers.
 */
#ifndef WEFT_WEB_HTML_H
#define WEFT_WEB_HTML_H

#include <stddef.h>

#include "core/buf.h"

/* printf into b with every %s argument HTML-escaped (NULL prints nothing).
 * %.*s escapes exactly the given number of bytes. */
void html_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append trusted markup unchanged (literals and markup built by this
 * module only). */
void html_raw(struct buf *b, const char *markup);

/* printf into b with every %s argument percent-encoded for a URL component
 * (unreserved characters A-Z a-z 0-9 - . _ ~ kept).  The result still needs
 * HTML escaping when it goes into an attribute: pass it to html_addf's %s. */
void html_url_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append to b, HTML-escaped, the text content of untrusted markup s: tags and
 * comments removed, <br>, </p>, </div>, </li>, </tr> and headings become line
 * breaks, the five XML entities and numeric character references decoded
 * (then re-escaped).  Script and style element content is dropped.  Blank
 * lines are collapsed.  Line breaks are emitted as "<br>". */
void html_text_from_markup(struct buf *b, const char *s, size_t n);

/* Append plain text s HTML-escaped with each newline as "<br>". */
void html_text_lines(struct buf *b, const char *s, size_t n);

#endif
