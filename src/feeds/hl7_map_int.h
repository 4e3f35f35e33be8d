/*
 * hl7_map_int.h - what the files of the HL7 v2 mapping share.  Internal: only
 * src/feeds/hl7_map*.c include it; everyone else uses feeds/hl7_map.h.
 *
 * One mapping context (struct mctx) per message, passed to every function.
 * The mapping is split by concern, one file each:
 *   hl7_map.c             the entry point: message type → the mappings it needs
 *   hl7_map_value.c       reading values: unescape, UTF-8, trim, the HL7 null
 *   hl7_map_datetime.c    DTM/TS → FHIR date, dateTime, instant
 *   hl7_map_codes.c       coding systems, Coding and CodeableConcept
 *   hl7_map_bundle.c      ids, fullUrls, entries, references, failures
 *   hl7_map_keep.c        omitted fields and the HL7 null (LOAD_KEEP_ABSENT)
 *   hl7_map_patient.c     Patient (PID, PD1, NK1)
 *   hl7_map_encounter.c   Encounter (PV1, PV2) and references to the visit
 *   hl7_map_clinical.c    AL1, DG1, PR1, ZMH
 *   hl7_map_obx.c         OBX values shared by ORU, MDM and SIU
 *   hl7_map_oru.c         ORU^R01: DiagnosticReport + Observation
 *   hl7_map_mdm.c         MDM^T02: DocumentReference
 *   hl7_map_siu.c         SIU^S12-S15: Appointment
 *   hl7_map_merge.c       A40/A34 merge, A24/A37 link and unlink
 *
 * Names shared between these files carry the prefix hm_.
 */
#ifndef WEFT_FEEDS_HL7_MAP_INT_H
#define WEFT_FEEDS_HL7_MAP_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/buf.h"
#include "feeds/hl7.h"
#include "feeds/hl7_map.h"
#include "fhir/datatype.h"
#include "domain/systems.h"

struct mctx {
    const struct hl7_msg *m;
    const struct hl7_delims *d;
    const char *ods;
    struct hl7_map_result *r;
    struct buf t; /* scratch: last hm_get() value */
    json_t *entries;
    json_t *seen; /* "Type/id" → true, to keep ids unique in the bundle */
    char pat_id[65], pat_url[64];
    char enc_id[65], enc_url[64];
    int have_enc;
    json_t *visit_ref; /* ORU/MDM: logical reference to the visit (PV1-19), or NULL */
};

/* ---- small helpers (inline: every mapping calls them per value) -------- */

static inline bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* v without surrounding white space. */
static inline struct hl7_span span_trim(struct hl7_span v)
{
    while (v.len && is_space(v.p[0]))
        v.p++, v.len--;
    while (v.len && is_space(v.p[v.len - 1]))
        v.len--;
    return v;
}

/* snprintf's result as the length actually written into a buffer of cap. */
static inline size_t clamp_len(int n, size_t cap)
{
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static inline void set_if(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new(o, key, v);
}

static inline void append_if(json_t *a, json_t *v)
{
    if (v)
        json_array_append_new(a, v);
}

/* Set o[key] to a if it has items, else drop it. */
static inline void set_array(json_t *o, const char *key, json_t *a)
{
    if (json_array_size(a) > 0)
        json_object_set_new(o, key, a);
    else
        json_decref(a);
}

static inline int span_eq_ci(struct hl7_span s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a = s.p[i], b = lit[i];
        if (a >= 'a' && a <= 'z')
            a = (char)(a - 32);
        if (a != b)
            return 0;
    }
    return 1;
}

/* ---- hl7_map_value.c ------------------------------------------------------ */

/* Make b valid UTF-8 and drop control characters other than tab/LF/CR. */
void hm_clean_text(struct buf *b);
void hm_trim(struct buf *b);
/* Decode span v into c->t (trimmed, UTF-8).  Returns c->t.len; the HL7 null
 * "" (also with white space around it) counts as empty. */
size_t hm_dec(struct mctx *c, struct hl7_span v);
/* Value of segment index seg into c->t; returns its length (0 = absent). */
size_t hm_get(struct mctx *c, long seg, size_t f, size_t r, size_t comp, size_t sub);
/* JSON string of the value, or NULL if absent. */
json_t *hm_jget(struct mctx *c, long seg, size_t f, size_t r, size_t comp, size_t sub);
json_t *hm_jspan(struct mctx *c, struct hl7_span v);
/* Repetitions of field f of segment seg in one pass; none when the field is
 * absent or empty (as hl7_seg_rep_count() counts them). */
void hm_reps_init(struct mctx *c, long seg, size_t f, struct hl7_iter *it);
#define FOR_REPS(c, seg, f, it, v)                                                                 \
    for (hm_reps_init(c, seg, f, &(it)); hl7_iter_next(&(it), (c)->d->rep, &(v));)

/* ---- hl7_map_datetime.c ----------------------------------------------------- */

/* Date/time value at the given place as a JSON string, or NULL. */
json_t *hm_jdate(struct mctx *c, long seg, size_t f, size_t r, size_t comp, int kind);

/* ---- hl7_map_codes.c -------------------------------------------------------- */

/* CodeableConcept from a CE/CWE/CNE span (first repetition given). */
json_t *hm_concept_span(struct mctx *c, struct hl7_span v, const char *dflt_system);
json_t *hm_concept(struct mctx *c, long seg, size_t f, size_t r, const char *dflt_system);

/* ---- hl7_map_bundle.c ------------------------------------------------------- */

/* Add resource res (stolen) as type/id; writes its fullUrl to url_out. */
void hm_add_entry(struct mctx *c, const char *type, const char *want_id, json_t *res, char *id_out,
                  char url_out[64]);
json_t *hm_ref(const char *url);
json_t *hm_patient_ref(struct mctx *c);
/* An id from parts joined with '-'. */
void hm_make_id(char out[65], const char *a, const char *b, const char *d);
int hm_fail(struct mctx *c, int rc, const char *seg, int field, int code, const char *why);

/* ---- hl7_map_keep.c --------------------------------------------------------- */

/* omitted fields and the HL7 null (see the top of hl7_map.c) */
/* What field values say about the element they map to. */
enum presence {
    P_OMITTED = 0, /* not sent, empty or only delimiters: no information */
    P_NULL,        /* only "" (and delimiters): the HL7 null, delete the value */
    P_VALUED,      /* anything else */
};

/* Presence of field f of segment seg (P_OMITTED when either is not there). */
enum presence hm_presence(struct mctx *c, long seg, size_t f);
/* The rule for one Patient element made from fields whose presences are
 * p[0..n-1]: when the mapping set it (set), nothing to do; else, when a
 * field was the HL7 null, the element is cleared (left out, not listed);
 * else it is named in keep, so the loader keeps the previous value.  A field
 * sent with a value that maps to nothing (an impossible date, an unknown
 * code) counts as omitted: the sender did not ask to delete anything. */
void hm_keep_or_clear(json_t *keep, const char *element, bool set, const enum presence *p,
                      size_t n);
/* The last entry added gets keep as its LOAD_KEEP_ABSENT (stolen; dropped
 * when empty). */
void hm_keep_attach(struct mctx *c, json_t *keep);

/* ---- the mappings ---------------------------------------------------------- */

/* hl7_map_patient.c */
/* FHIR Identifier from a CX span; kind_out gets the identifier type (lower
 * case, "nhs" for NHS numbers).  NULL when the CX has no value. */
json_t *hm_identifier_cx(struct mctx *c, struct hl7_span cx, char kind_out[16]);
/* Patient from PID (+ PD1, NK1).  Returns 0 or a failure. */
int hm_map_patient(struct mctx *c);

/* hl7_map_encounter.c */
int hm_map_encounter(struct mctx *c, const char *trigger);
/* The encounter reference for res: the bundle's Encounter, or for results
 * and documents a logical reference by visit number (they do not restate
 * the visit: an ORU must not reopen an encounter an A03 finished). */
json_t *hm_encounter_ref(struct mctx *c);
void hm_add_encounter_ref(struct mctx *c, json_t *res, const char *key);
void hm_link_visit(struct mctx *c);

/* hl7_map_clinical.c */
/* A short stable key from a coded field: the code, else the text. */
void hm_code_key(struct mctx *c, long seg, size_t f, char out[80]);
void hm_map_allergies(struct mctx *c);
void hm_map_conditions(struct mctx *c);
void hm_map_procedures(struct mctx *c);
void hm_map_mha(struct mctx *c);

/* hl7_map_obx.c */
/* Parse a decimal number (HL7 NM) into a JSON real/integer; NULL if not one. */
json_t *hm_number(const char *s, size_t n);
/* Join every repetition of OBX-5 into c->t with line feeds. */
void hm_obx_text(struct mctx *c, long obx, struct buf *out);
void hm_base64(const char *s, size_t n, struct buf *out);
/* ED value (source^type^subtype^encoding^data) → FHIR Attachment, or NULL. */
json_t *hm_ed_attachment(struct mctx *c, struct hl7_span v);

/* hl7_map_oru.c */
int hm_map_oru(struct mctx *c);

/* hl7_map_mdm.c */
int hm_map_mdm(struct mctx *c);

/* hl7_map_siu.c */
int hm_map_siu(struct mctx *c, const char *trigger);

/* hl7_map_merge.c */
int hm_map_merge(struct mctx *c);
/* Two PID segments: the first patient (kept) and the second (linked to it,
 * or unlinked from it).  Carried as a merge instruction; the trigger tells
 * ingest which (feeds/ingest.c). */
int hm_map_link(struct mctx *c);

#endif
