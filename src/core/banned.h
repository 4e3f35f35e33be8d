/*
 * banned.h - unsafe string functions made into compile errors.
 *
 * Included (via -include in the Makefile) by every translation unit after the
 * system headers would have declared these, so any use is a build failure.
 * Use struct buf (core/buf.h) or snprintf with a checked result instead.
 */
#ifndef WEFT_CORE_BANNED_H
#define WEFT_CORE_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef strtok
#define strtok(x, y) BANNED(strtok)

#endif
