/*
 * hl7_ack.h - HL7 v2 acknowledgements (original mode ACK: MSH + MSA [+ ERR]).
 *
 * For the MLLP listener: after storing and applying (or refusing) a message
 * it answers with one of
 *   AA  applied (the message's resources are committed),
 *   AE  an error in the message content (a required field, a bad value),
 *   AR  refused (unsupported message type, unknown sender, no agreement,
 *       input that is not a message at all).
 * The ACK's MSH swaps sender and receiver (MSH-3/4 <-> MSH-5/6), carries a
 * new control id, the original's processing id (MSH-11) and version
 * (MSH-12), and MSH-9 "ACK^<trigger>^ACK".  MSA-2 is the original control id
 * and MSA-3 the text.  AE/AR carry an ERR segment: for v2.5 and later
 * ERR-2 (location SEG^seq^field), ERR-3 (HL7 table 0357 code), ERR-4
 * severity E and ERR-8 (the text); for v2.4 and earlier ERR-1
 * (SEG^seq^field^code&text&HL70357).  The text is escaped with the message's
 * delimiters, so no reason can break the ACK's structure.  Segments end in
 * CR; no MLLP framing (mllp_encode() does that).
 */
#ifndef WEFT_FEEDS_HL7_ACK_H
#define WEFT_FEEDS_HL7_ACK_H

#include <stddef.h>

#include "core/buf.h"
#include "feeds/hl7.h"

/* HL7 table 0357 message error condition codes used by Weft. */
enum hl7_ack_errcode {
    HL7_ERR_SEGMENT_SEQUENCE = 100,
    HL7_ERR_REQUIRED_FIELD = 101,
    HL7_ERR_DATA_TYPE = 102,
    HL7_ERR_TABLE_VALUE = 103,
    HL7_ERR_UNSUPPORTED_MESSAGE_TYPE = 200,
    HL7_ERR_UNSUPPORTED_EVENT = 201,
    HL7_ERR_UNSUPPORTED_PROCESSING_ID = 202,
    HL7_ERR_UNSUPPORTED_VERSION = 203,
    HL7_ERR_UNKNOWN_KEY = 204,
    HL7_ERR_DUPLICATE_KEY = 205,
    HL7_ERR_RECORD_LOCKED = 206,
    HL7_ERR_INTERNAL = 207,
};

/* Optional detail for AE/AR: where the error is and its table 0357 code. */
struct hl7_ack_detail {
    const char *segment;    /* e.g. "PID"; NULL = no location */
    int seg_seq;            /* 1-based occurrence of that segment */
    int field;              /* 1-based field, 0 = whole segment */
    int code;               /* enum hl7_ack_errcode; 0 = 207 for AE, 200 for AR */
    const char *control_id; /* the ACK's own MSH-10; NULL = generated */
};

/* Append the ACK for msg to out.  ack_code is "AA", "AE" or "AR" (also
 * "CA"/"CE"/"CR" for enhanced mode); text may be NULL for AA.
 * Returns 0 or WEFT_EINVAL for an unknown ack_code. */
int hl7_ack_build(const struct hl7_msg *msg, const char *ack_code, const char *text,
                  struct buf *out);
int hl7_ack_build_ex(const struct hl7_msg *msg, const char *ack_code, const char *text,
                     const struct hl7_ack_detail *detail, struct buf *out);

/* A NAK for input that could not be parsed (no usable MSH, bad delimiters):
 * takes what it can from the first line (sender, receiver, control id,
 * processing id, version, escaped as plain text) and answers with
 * ack_code (normally "AR") and the parser's error text.  When perr is given
 * its location goes into ERR.  Always produces a well-formed ACK with the
 * standard delimiters "|^~\&". */
int hl7_ack_build_nak(const char *data, size_t len, const char *ack_code, const char *text,
                      const struct hl7_error *perr, struct buf *out);

/* A fresh control id for outgoing messages ("W" + time + counter, at most
 * 20 characters, unique within the process).  Writes into out[cap]. */
void hl7_ack_control_id(char *out, size_t cap);

#endif
