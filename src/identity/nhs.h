/*
 * nhs.h - NHS numbers: validation (modulus 11) and display formatting.
 *
 * An NHS number is 10 digits; digit 10 is a check digit: multiply digits
 * 1-9 by weights 10..2, sum, 11 - (sum mod 11); 11 means 0 and 10 means the
 * number is invalid.  Input may carry spaces or hyphens between digit groups
 * ("943 476 5919", "943-476-5919"), as people type them.
 */
#ifndef WEFT_IDENTITY_NHS_H
#define WEFT_IDENTITY_NHS_H

#include <stdbool.h>

/* NHS_NUMBER_SYSTEM, the identifier system of these numbers */
#include "domain/systems.h"

/* True when s is a valid NHS number.  When out is not NULL it receives the
 * 10 digits without separators (out must hold 11 bytes), also when the check
 * digit is wrong but the shape is right. */
bool nhs_number_valid(const char *s, char out[11]);

/* Format 10 digits as "XXX XXX XXXX" into out (13 bytes).  Returns false
 * (out untouched) when s is not 10 digits after removing separators. */
bool nhs_number_format(const char *s, char out[13]);

/* True for the range reserved for testing (starts 999). */
bool nhs_number_is_test(const char *digits);

#endif
