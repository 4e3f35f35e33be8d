/*
 * log.h - the operational log: one line per event on stderr.
 *
 * Format: "2026-11-24T22:05:24.123Z LEVEL component: message key=value ...".
 * NEVER put patient-identifying data here (names, NHS numbers, dates of birth,
 * addresses, resource content): that belongs only in the audit log.  Log ids
 * (resource ids, request ids, feed names), counts and timings instead.
 */
#ifndef WEFT_CORE_LOG_H
#define WEFT_CORE_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

/* Set the minimum level written (default LOG_INFO).  Thread-safe to read. */
void log_set_level(enum log_level level);
/* Parse "debug"/"info"/"warn"/"error"/"off"; returns 0 or WEFT_EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
enum log_level log_get_level(void);

/* Write one line if level is enabled.  component is a short module name. */
void log_msg(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(c, ...) log_msg(LOG_DEBUG, c, __VA_ARGS__)
#define log_info(c, ...) log_msg(LOG_INFO, c, __VA_ARGS__)
#define log_warn(c, ...) log_msg(LOG_WARN, c, __VA_ARGS__)
#define log_error(c, ...) log_msg(LOG_ERROR, c, __VA_ARGS__)

#endif
