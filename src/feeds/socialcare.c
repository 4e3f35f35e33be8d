/*
 * socialcare.c - social care CSV extracts: kinds, header and row validation,
 * row -> FHIR R4 mapping, batching into Bundles, the per-file report.
 *
 * The schema lives in docs/feeds/csv-social-care.md; the tables below are
 * its executable form (one table of columns per extract kind, one code list
 * per coded column).  Each row goes through three steps:
 *
 *   1. fields are trimmed and checked against their column's format (date,
 *      yes/no, code, list of codes, decimal, NHS number, ODS code); every
 *      problem is reported, and any error rejects the row;
 *   2. the kind's map function checks what involves several columns (end
 *      before start, ...) and builds the resource(s) with jansson;
 *   3. the resources join the current Bundle, handed to the sink every
 *      batch_rows rows.
 *
 * With opts.pipeline the three steps (and the sink's prepare) run on a second
 * thread while the calling thread runs the sink: see "two halves" below.
 *
 * Workload: files of up to millions of rows read once; the per-row work is a
 * handful of small allocations in jansson, so the mapping runs at a few
 * hundred thousand rows per second (bench/bench_csv.c).
 */
#include "feeds/socialcare.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/powerloss.h"
#include "fhir/category.h"
#include "fhir/load.h"
#include "identity/identity.h"
#include "identity/nhs.h"
#include "store/store.h"

#define REC_CAT_SYSTEM "https://weft.nhs.uk/CodeSystem/record-category"
#define CS_BASE "https://weft.nhs.uk/CodeSystem/"
#define EXT_BASE "https://weft.nhs.uk/StructureDefinition/"
#define NHS_SYSTEM "https://fhir.nhs.uk/Id/nhs-number"
#define ODS_SYSTEM "https://fhir.nhs.uk/Id/ods-organization-code"
#define NHS_VER_EXT                                                                                \
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
#define NHS_VER_SYSTEM "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus"
#define ROLE_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
#define V2_0131_SYSTEM "http://terminology.hl7.org/CodeSystem/v2-0131"
#define MAX_COLS 32
#define MAX_LIST 16

/* ---- code lists ---------------------------------------------------------- */

/* One accepted value.  code is what Weft writes (in the column's code
 * system), fhir the FHIR element value where that differs, aliases more
 * accepted spellings, '|'-separated, already normalised (lower case, hyphens). */
struct code {
    const char *code;
    const char *display;
    const char *fhir;
    const char *aliases;
};

static const struct code sex_codes[] = {
    {"male", "Male", NULL, "m"},
    {"female", "Female", NULL, "f"},
    {"other", "Other", NULL, "o|i|indeterminate"},
    {"unknown", "Unknown", NULL, "u|not-known|not-specified"},
    {0},
};

static const struct code nhs_ver_codes[] = {
    {"01", "Number present and verified", NULL, "y|yes|true|1"},
    {"02", "Number present but not traced", NULL, "n|no|false|0"},
    {"03", "Trace required", NULL, NULL},
    {"04", "Trace attempted - No match or multiple match found", NULL, NULL},
    {"05", "Trace needs to be resolved - (NHS number or patient detail conflict)", NULL, NULL},
    {"06", "Trace in progress", NULL, NULL},
    {"07", "Number not present and trace not required", NULL, NULL},
    {"08", "Trace postponed (baby under six weeks old)", NULL, NULL},
    {0},
};

static const struct code assessment_types[] = {
    {"needs-assessment", "Care Act needs assessment", NULL, "care-act-assessment"},
    {"carers-assessment", "Carer's assessment", NULL, "carer-assessment|carer's-assessment"},
    {"review", "Review", NULL, NULL},
    {"financial-assessment", "Financial assessment", NULL, NULL},
    {"mental-capacity", "Mental capacity assessment", NULL, NULL},
    {"occupational-therapy", "Occupational therapy assessment", NULL, NULL},
    {"chc-checklist", "NHS Continuing Healthcare checklist", NULL, NULL},
    {"other", "Other assessment", NULL, NULL},
    {0},
};

static const struct code assessment_status[] = {
    {"completed", "Completed", "completed", "complete"},
    {"in-progress", "In progress", "in-progress", NULL},
    {"cancelled", "Cancelled", "stopped", "stopped"},
    {"entered-in-error", "Entered in error", "entered-in-error", NULL},
    {0},
};

static const struct code care_act_outcomes[] = {
    {"nutrition", "Managing and maintaining nutrition", NULL, NULL},
    {"hygiene", "Maintaining personal hygiene", NULL, NULL},
    {"toilet", "Managing toilet needs", NULL, NULL},
    {"clothing", "Being appropriately clothed", NULL, NULL},
    {"home-safety", "Being able to make use of the home safely", NULL, NULL},
    {"habitable-home", "Maintaining a habitable home environment", NULL, NULL},
    {"relationships", "Developing and maintaining family or other personal relationships", NULL,
     NULL},
    {"work-education", "Accessing and engaging in work, training, education or volunteering", NULL,
     NULL},
    {"community", "Making use of necessary facilities or services in the local community", NULL,
     NULL},
    {"caring-for-child", "Carrying out any caring responsibilities for a child", NULL, NULL},
    {0},
};

static const struct code service_types[] = {
    {"home-care", "Home care", NULL, "domiciliary-care"},
    {"day-care", "Day care", NULL, NULL},
    {"residential-care", "Residential care", NULL, "residential"},
    {"nursing-care", "Nursing care", NULL, "nursing"},
    {"reablement", "Reablement", NULL, NULL},
    {"equipment", "Equipment and adaptations", NULL, NULL},
    {"meals", "Meals", NULL, NULL},
    {"respite", "Respite care", NULL, NULL},
    {"supported-living", "Supported living", NULL, NULL},
    {"direct-payment", "Direct payment", NULL, NULL},
    {"telecare", "Telecare", NULL, NULL},
    {"other", "Other service", NULL, NULL},
    {0},
};

static const struct code service_status[] = {
    {"planned", "Planned", "planned", NULL},
    {"active", "Active", "active", NULL},
    {"on-hold", "On hold", "onhold", "onhold|suspended"},
    {"ended", "Ended", "finished", "finished|closed"},
    {"cancelled", "Cancelled", "cancelled", NULL},
    {"entered-in-error", "Entered in error", "entered-in-error", NULL},
    {0},
};

static const struct code abuse_categories[] = {
    {"physical", "Physical abuse", NULL, NULL},
    {"domestic", "Domestic abuse", NULL, "domestic-violence"},
    {"sexual", "Sexual abuse", NULL, NULL},
    {"psychological", "Psychological abuse", NULL, "emotional"},
    {"financial", "Financial or material abuse", NULL, "material"},
    {"modern-slavery", "Modern slavery", NULL, NULL},
    {"discriminatory", "Discriminatory abuse", NULL, NULL},
    {"organisational", "Organisational abuse", NULL, "organizational|institutional"},
    {"neglect", "Neglect and acts of omission", NULL, NULL},
    {"self-neglect", "Self-neglect", NULL, NULL},
    {0},
};

static const struct code safeguarding_status[] = {
    {"open", "Open", "active", "active"},
    {"closed", "Closed", "inactive", "inactive"},
    {"entered-in-error", "Entered in error", "entered-in-error", NULL},
    {0},
};

static const struct code place_of_death[] = {
    {"home", "Home", NULL, "usual-place-of-residence"},
    {"care-home", "Care home", NULL, "nursing-home|residential-home"},
    {"hospice", "Hospice", NULL, NULL},
    {"hospital", "Hospital", NULL, NULL},
    {"other", "Other", NULL, NULL},
    {"not-discussed", "Not discussed", NULL, "not-stated|unknown"},
    {0},
};

static const struct code lpa_codes[] = {
    {"none", "None", NULL, "no"},
    {"health-and-welfare", "Health and welfare", NULL, "health"},
    {"property-and-financial", "Property and financial affairs", NULL,
     "property-and-financial-affairs|financial"},
    {"both", "Health and welfare, and property and financial affairs", NULL, NULL},
    {0},
};

/* Relationship words -> v3-RoleCode (not a closed list: unknown words are
 * kept as text). */
static const struct code relationships[] = {
    {"SPS", "spouse", NULL, "spouse"},
    {"HUSB", "husband", NULL, "husband"},
    {"WIFE", "wife", NULL, "wife"},
    {"DOMPART", "domestic partner", NULL, "partner|domestic-partner|civil-partner"},
    {"MTH", "mother", NULL, "mother"},
    {"FTH", "father", NULL, "father"},
    {"PRN", "parent", NULL, "parent"},
    {"SONC", "son", NULL, "son"},
    {"DAUC", "daughter", NULL, "daughter"},
    {"CHILD", "child", NULL, "child"},
    {"BRO", "brother", NULL, "brother"},
    {"SIS", "sister", NULL, "sister"},
    {"SIB", "sibling", NULL, "sibling"},
    {"GRPRN", "grandparent", NULL, "grandparent|grandmother|grandfather"},
    {"GRNDCHILD", "grandchild", NULL, "grandchild|grandson|granddaughter"},
    {"AUNT", "aunt", NULL, "aunt"},
    {"UNCLE", "uncle", NULL, "uncle"},
    {"NIECE", "niece", NULL, "niece"},
    {"NEPHEW", "nephew", NULL, "nephew"},
    {"COUSN", "cousin", NULL, "cousin"},
    {"FRND", "unrelated friend", NULL, "friend"},
    {"NBOR", "neighbor", NULL, "neighbour|neighbor"},
    {"FAMMEMB", "family member", NULL, "other-relative|relative|family-member|extended-family"},
    {0},
};

/* ---- columns ------------------------------------------------------------- */

enum fmt { F_TEXT, F_KEY, F_DATE, F_BOOL, F_CODE, F_LIST, F_DECIMAL, F_NHS, F_ODS };

#define NOT_FUTURE 1u  /* a date after the processing day is a row error */
#define WARN_FUTURE 2u /* ... is a warning: the row is kept (docs §2) */

struct coldef {
    const char *name;
    char req; /* 'R' required value, 'H' column required, 'O' optional */
    enum fmt fmt;
    const struct code *codes;
    unsigned flags;
};

/* clang-format off */
enum {
    P_ID, P_NHS, P_NHS_VER, P_TITLE, P_FAMILY, P_GIVEN, P_DOB, P_SEX, P_ADDR1, P_ADDR2, P_ADDR3,
    P_TOWN, P_COUNTY, P_POSTCODE, P_PHONE, P_MOBILE, P_EMAIL, P_GP, P_DOD, P_RECORDED, P_N
};
/* clang-format on */
static const struct coldef people_cols[P_N] = {
    [P_ID] = {"person_id", 'R', F_KEY, NULL, 0},
    [P_NHS] = {"nhs_number", 'H', F_NHS, NULL, 0},
    [P_NHS_VER] = {"nhs_number_verified", 'O', F_CODE, nhs_ver_codes, 0},
    [P_TITLE] = {"title", 'O', F_TEXT, NULL, 0},
    [P_FAMILY] = {"family_name", 'R', F_TEXT, NULL, 0},
    [P_GIVEN] = {"given_names", 'H', F_TEXT, NULL, 0},
    [P_DOB] = {"date_of_birth", 'H', F_DATE, NULL, NOT_FUTURE},
    [P_SEX] = {"sex", 'H', F_CODE, sex_codes, 0},
    [P_ADDR1] = {"address_line_1", 'O', F_TEXT, NULL, 0},
    [P_ADDR2] = {"address_line_2", 'O', F_TEXT, NULL, 0},
    [P_ADDR3] = {"address_line_3", 'O', F_TEXT, NULL, 0},
    [P_TOWN] = {"town", 'O', F_TEXT, NULL, 0},
    [P_COUNTY] = {"county", 'O', F_TEXT, NULL, 0},
    [P_POSTCODE] = {"postcode", 'H', F_TEXT, NULL, 0},
    [P_PHONE] = {"phone", 'O', F_TEXT, NULL, 0},
    [P_MOBILE] = {"mobile", 'O', F_TEXT, NULL, 0},
    [P_EMAIL] = {"email", 'O', F_TEXT, NULL, 0},
    [P_GP] = {"gp_practice_ods", 'O', F_ODS, NULL, 0},
    [P_DOD] = {"date_of_death", 'O', F_DATE, NULL, WARN_FUTURE},
    [P_RECORDED] = {"date_recorded", 'O', F_DATE, NULL, WARN_FUTURE},
};

/* clang-format off */
enum {
    C_ID, C_PERSON, C_FAMILY, C_GIVEN, C_REL, C_CARER, C_SUPPORT, C_NOK, C_EMERG, C_PHONE,
    C_MOBILE, C_EMAIL, C_ADDR1, C_ADDR2, C_TOWN, C_POSTCODE, C_START, C_END, C_N
};
/* clang-format on */
static const struct coldef contacts_cols[C_N] = {
    [C_ID] = {"contact_id", 'R', F_KEY, NULL, 0},
    [C_PERSON] = {"person_id", 'R', F_KEY, NULL, 0},
    [C_FAMILY] = {"family_name", 'H', F_TEXT, NULL, 0},
    [C_GIVEN] = {"given_names", 'H', F_TEXT, NULL, 0},
    [C_REL] = {"relationship", 'H', F_TEXT, NULL, 0},
    [C_CARER] = {"is_carer", 'H', F_BOOL, NULL, 0},
    [C_SUPPORT] = {"carer_support", 'O', F_TEXT, NULL, 0},
    [C_NOK] = {"is_next_of_kin", 'O', F_BOOL, NULL, 0},
    [C_EMERG] = {"is_emergency_contact", 'O', F_BOOL, NULL, 0},
    [C_PHONE] = {"phone", 'O', F_TEXT, NULL, 0},
    [C_MOBILE] = {"mobile", 'O', F_TEXT, NULL, 0},
    [C_EMAIL] = {"email", 'O', F_TEXT, NULL, 0},
    [C_ADDR1] = {"address_line_1", 'O', F_TEXT, NULL, 0},
    [C_ADDR2] = {"address_line_2", 'O', F_TEXT, NULL, 0},
    [C_TOWN] = {"town", 'O', F_TEXT, NULL, 0},
    [C_POSTCODE] = {"postcode", 'O', F_TEXT, NULL, 0},
    [C_START] = {"start_date", 'O', F_DATE, NULL, 0},
    [C_END] = {"end_date", 'O', F_DATE, NULL, 0},
};

/* clang-format off */
enum {
    A_ID, A_PERSON, A_TYPE, A_DATE, A_STATUS, A_OUTCOME, A_NEEDS, A_TEAM, A_SUMMARY, A_REVIEW,
    A_N
};
/* clang-format on */
static const struct coldef assessments_cols[A_N] = {
    [A_ID] = {"assessment_id", 'R', F_KEY, NULL, 0},
    [A_PERSON] = {"person_id", 'R', F_KEY, NULL, 0},
    [A_TYPE] = {"assessment_type", 'R', F_CODE, assessment_types, 0},
    [A_DATE] = {"assessment_date", 'R', F_DATE, NULL, WARN_FUTURE},
    [A_STATUS] = {"status", 'O', F_CODE, assessment_status, 0},
    [A_OUTCOME] = {"outcome", 'H', F_TEXT, NULL, 0},
    [A_NEEDS] = {"eligible_needs", 'O', F_LIST, care_act_outcomes, 0},
    [A_TEAM] = {"assessor_team", 'O', F_TEXT, NULL, 0},
    [A_SUMMARY] = {"summary", 'O', F_TEXT, NULL, 0},
    [A_REVIEW] = {"review_date", 'O', F_DATE, NULL, 0},
};

enum { S_ID, S_PERSON, S_TYPE, S_PROVIDER, S_PROVIDER_ODS, S_START, S_END, S_HOURS, S_STATUS, S_N };
static const struct coldef services_cols[S_N] = {
    [S_ID] = {"service_id", 'R', F_KEY, NULL, 0},
    [S_PERSON] = {"person_id", 'R', F_KEY, NULL, 0},
    [S_TYPE] = {"service_type", 'R', F_CODE, service_types, 0},
    [S_PROVIDER] = {"provider_name", 'O', F_TEXT, NULL, 0},
    [S_PROVIDER_ODS] = {"provider_ods", 'O', F_ODS, NULL, 0},
    [S_START] = {"start_date", 'R', F_DATE, NULL, 0},
    [S_END] = {"end_date", 'O', F_DATE, NULL, 0},
    [S_HOURS] = {"hours_per_week", 'O', F_DECIMAL, NULL, 0},
    [S_STATUS] = {"status", 'R', F_CODE, service_status, 0},
};

/* clang-format off */
enum {
    G_ID, G_PERSON, G_RAISED, G_CATEGORY, G_STATUS, G_CLOSED, G_OUTCOME, G_TEAM, G_SUMMARY, G_N
};
/* clang-format on */
static const struct coldef safeguarding_cols[G_N] = {
    [G_ID] = {"concern_id", 'R', F_KEY, NULL, 0},
    [G_PERSON] = {"person_id", 'R', F_KEY, NULL, 0},
    [G_RAISED] = {"date_raised", 'R', F_DATE, NULL, WARN_FUTURE},
    [G_CATEGORY] = {"category_of_abuse", 'H', F_LIST, abuse_categories, 0},
    [G_STATUS] = {"status", 'R', F_CODE, safeguarding_status, 0},
    [G_CLOSED] = {"date_closed", 'O', F_DATE, NULL, 0},
    [G_OUTCOME] = {"outcome", 'O', F_TEXT, NULL, 0},
    [G_TEAM] = {"lead_team", 'O', F_TEXT, NULL, 0},
    [G_SUMMARY] = {"summary", 'O', F_TEXT, NULL, 0},
};

/* clang-format off */
enum {
    E_ID, E_PERSON, E_RECORDED, E_PPD, E_DNACPR, E_DNACPR_DATE, E_RESPECT, E_RESPECT_DATE,
    E_LPA, E_LPA_NAME, E_PREFS, E_N
};
/* clang-format on */
static const struct coldef eol_cols[E_N] = {
    [E_ID] = {"record_id", 'R', F_KEY, NULL, 0},
    [E_PERSON] = {"person_id", 'R', F_KEY, NULL, 0},
    [E_RECORDED] = {"date_recorded", 'R', F_DATE, NULL, WARN_FUTURE},
    [E_PPD] = {"preferred_place_of_death", 'O', F_CODE, place_of_death, 0},
    [E_DNACPR] = {"dnacpr", 'O', F_BOOL, NULL, 0},
    [E_DNACPR_DATE] = {"dnacpr_date", 'O', F_DATE, NULL, WARN_FUTURE},
    [E_RESPECT] = {"respect_plan", 'O', F_BOOL, NULL, 0},
    [E_RESPECT_DATE] = {"respect_date", 'O', F_DATE, NULL, WARN_FUTURE},
    [E_LPA] = {"lasting_power_of_attorney", 'O', F_CODE, lpa_codes, 0},
    [E_LPA_NAME] = {"lpa_attorney_name", 'O', F_TEXT, NULL, 0},
    [E_PREFS] = {"preferences", 'O', F_TEXT, NULL, 0},
};

/* ---- per-file state ------------------------------------------------------ */

struct val {
    const char *s; /* trimmed value, NULL when blank or the column is absent */
    size_t len;
    char date[11];                     /* F_DATE: normalised YYYY-MM-DD */
    int b;                             /* F_BOOL: 0/1 */
    double dec;                        /* F_DECIMAL */
    char nhs[11];                      /* F_NHS: the digits when valid */
    int nhs_ok;                        /* F_NHS: 1 valid */
    char id[65];                       /* F_KEY: sanitised FHIR id */
    const struct code *code;           /* F_CODE */
    const struct code *list[MAX_LIST]; /* F_LIST */
    size_t nlist;
};

struct proc;
struct kinddef {
    enum socialcare_kind kind;
    const char *name;
    const char *key;     /* the row's own id column (header detection) */
    const char *id_kind; /* kind in urn:weft:id:{ODS}:{kind} */
    const struct coldef *cols;
    size_t ncols;
    int (*map)(struct proc *p);
};

/*
 * Two halves, which may run on two threads (opts.pipeline):
 *
 *   reading side (struct proc): read a row, check it, map it, add its
 *       resources to the Bundle being built; every bundle_rows rows (or at the
 *       end of a batch) the Bundle is prepared (opts.prepare) and handed on
 *       as a struct chunk;
 *   loading side (struct socialcare_batch): for each chunk, in order: the
 *       issues found while reading its rows go into the report, the Bundle
 *       goes to the sink, and at the end of a batch the commit hook runs and
 *       the batch's rows are counted.
 *
 * On one thread a chunk is delivered as soon as it is made; with pipeline it
 * goes through a queue (struct pipe) of at most SOCIALCARE_PIPE_DEPTH chunks
 * to the calling thread.  Each chunk, its Bundle and its prepared form belong
 * to the reading side until queued, to the loading side until delivered, and
 * then (handed back through the queue) to the reading side again, which
 * frees them: only one thread at a time ever touches a Bundle's tree.  The
 * report belongs to the loading side alone while both run (the reading side
 * counts rows in struct proc and the caller adds them after the join).
 * Nothing stops the reading side early: every row must be read, checked and
 * counted for the report to be the same.  When the sink gives a batch up
 * (socialcare_batch_broken) the reading side stops preparing that batch's
 * Bundles, which the sink will refuse unread.  Carrying the reading side's
 * issues in the chunks keeps the report's issue order exactly what one
 * thread makes: rows' issues up to a Bundle, then that Bundle's load
 * failures.
 */

/* An issue found while reading, on its way to the report. */
struct pend_issue {
    size_t line;
    char *column; /* owned, may be NULL */
    char *reason; /* owned */
    bool error;
};

/* What the reading side hands to the loading side: a Bundle (or none) with
 * the file line of each entry's row, the issues of the rows read since the
 * previous chunk, and whether the batch ends with it. */
struct chunk {
    json_t *bundle; /* NULL: no entries (issues, rows without resources, batch end) */
    json_t *entries;
    size_t *lines; /* row line per entry */
    size_t nlines, linecap;
    size_t rows;    /* mapped rows */
    bool end_batch; /* commit and count the batch after this chunk */
    void *prep;     /* opts->prepare(bundle), or NULL */
    struct pend_issue *issues;
    size_t nissues, issuecap;
    size_t errors_dropped, warnings_dropped; /* beyond SOCIALCARE_MAX_ISSUES: counted only */
    struct chunk *next;
};
/* Issues a chunk without a Bundle holds before it is handed on by itself
 * (rows that map to nothing, e.g. a file of invalid rows, must not pile up). */
#define CHUNK_MAX_ISSUES 256

/* The loading side's batch: batch_rows rows reaching the sink as one or more
 * Bundles.  lines covers the whole batch; the current Bundle's entries are
 * lines[base .. nentries). */
struct socialcare_batch {
    size_t *lines; /* row line per entry */
    size_t nentries, cap;
    size_t base;          /* first entry of the current Bundle */
    size_t rows;          /* rows in this batch */
    size_t *failed_lines; /* rows already failed by the sink (to count once) */
    size_t nfailed, failcap;
    void *prep; /* the current Bundle's prepared form (socialcare_batch_prep) */
    size_t seq; /* batches ended so far */
    struct socialcare_report *rep;
    const struct socialcare_opts *o;
    socialcare_sink_fn sink;
    void *ctx;
    /* seq + 1 of a batch the sink gave up (socialcare_batch_broken), 0 none:
     * the only field the reading side reads while both sides run */
    atomic_size_t broken;
};

/* The queue between the two threads. */
struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_take;
    struct chunk *head, *tail;
    size_t n;
    bool done;           /* the reading side has handed its last chunk */
    struct chunk *spent; /* delivered, handed back to be freed by the reading side */
};

struct proc {
    const struct socialcare_opts *o;
    const struct kinddef *k;
    char today[11];
    char id_system[96]; /* urn:weft:id:{ODS}:{kind of this file} */
    char person_system[96];
    int colmap[MAX_COLS]; /* column -> field index, -1 absent */
    size_t nheader;
    size_t line; /* current row */
    struct val v[MAX_COLS];
    int row_errors;
    struct chunk *cur;  /* being built (NULL: none yet) */
    size_t batch_rows;  /* mapped rows in the current batch */
    size_t bundle_rows; /* mapped rows in the current Bundle */
    size_t seq;         /* batches ended so far */
    size_t rows_read, rows_mapped, rows_rejected, blank_lines; /* for the report */
    size_t errors_made, warnings_made;                         /* issues made so far (the cap) */
    struct csv_reader *r;
    socialcare_sink_fn sink;
    void *ctx;
    struct socialcare_batch *out; /* the loading side: direct delivery, .broken */
    struct pipe *q;               /* NULL: one thread */
    int rrc;                      /* the reader's last result (thread) */
};

/* ---- report -------------------------------------------------------------- */

static void issue_add(struct socialcare_report *rep, int is_error, size_t line, const char *column,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Count one issue; whether the report has room to keep it. */
static bool issue_count(struct socialcare_report *rep, int is_error)
{
    size_t n = is_error ? rep->nerrors : rep->nwarnings;
    if (is_error)
        rep->errors_count++;
    else
        rep->warnings_count++;
    if (n >= SOCIALCARE_MAX_ISSUES) {
        rep->truncated = true;
        return false;
    }
    return true;
}

/* Keep a counted issue; column and reason are taken (heap or NULL). */
static void issue_keep(struct socialcare_report *rep, int is_error, size_t line, char *column,
                       char *reason)
{
    struct socialcare_issue **list = is_error ? &rep->errors : &rep->warnings;
    size_t *n = is_error ? &rep->nerrors : &rep->nwarnings;
    /* capacity doubles whenever n reaches a power of two (0 -> 1 -> 2 -> 4 ...) */
    if ((*n & (*n - 1)) == 0) {
        size_t cap = *n ? *n * 2 : 1;
        *list = xrealloc(*list, cap * sizeof **list);
    }
    struct socialcare_issue *is = &(*list)[(*n)++];
    is->line = line;
    is->column = column;
    is->reason = reason;
}

static void issue_add(struct socialcare_report *rep, int is_error, size_t line, const char *column,
                      const char *fmt, ...)
{
    if (!issue_count(rep, is_error))
        return;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    issue_keep(rep, is_error, line, column ? xstrdup(column) : NULL, buf_detach(&b, NULL));
}

static struct chunk *chunk_cur(struct proc *p)
{
    if (!p->cur)
        p->cur = xcalloc(1, sizeof *p->cur);
    return p->cur;
}

/* An issue of the current row, from the reading side: it travels with the
 * chunk to the report.  Once the reading side alone has made
 * SOCIALCARE_MAX_ISSUES of a kind, the report is full of that kind whatever
 * the loading side added: the issue is only counted. */
static void row_issue(struct proc *p, bool error, const char *column, const char *reason)
{
    struct chunk *c = chunk_cur(p);
    size_t *made = error ? &p->errors_made : &p->warnings_made;
    if ((*made)++ >= SOCIALCARE_MAX_ISSUES) {
        if (error)
            c->errors_dropped++;
        else
            c->warnings_dropped++;
        return;
    }
    if (c->nissues == c->issuecap) {
        c->issuecap = c->issuecap ? c->issuecap * 2 : 8;
        c->issues = xrealloc(c->issues, c->issuecap * sizeof *c->issues);
    }
    c->issues[c->nissues++] = (struct pend_issue){.line = p->line,
                                                  .column = column ? xstrdup(column) : NULL,
                                                  .reason = xstrdup(reason),
                                                  .error = error};
}

static void row_error(struct proc *p, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row_error(struct proc *p, const char *column, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    row_issue(p, true, column, msg);
    p->row_errors++;
}

static void row_warning(struct proc *p, const char *column, const char *msg)
{
    row_issue(p, false, column, msg);
}

void socialcare_report_free(struct socialcare_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->nerrors; i++) {
        free(rep->errors[i].column);
        free(rep->errors[i].reason);
    }
    for (size_t i = 0; i < rep->nwarnings; i++) {
        free(rep->warnings[i].column);
        free(rep->warnings[i].reason);
    }
    free(rep->errors);
    free(rep->warnings);
    free(rep->file);
    free(rep->org);
    free(rep->feed);
    free(rep->file_error);
    free(rep);
}

const char *socialcare_report_status(const struct socialcare_report *rep)
{
    if (rep->file_error)
        return "failed";
    if (rep->rows_read > 0 && rep->rows_loaded == 0)
        return "failed";
    if (rep->rows_rejected || rep->rows_load_failed)
        return "partial";
    return "ok";
}

static json_t *issues_json(const struct socialcare_issue *is, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:I,s:s?,s:s}", "line", (json_int_t)is[i].line,
                                           "column", is[i].column, "reason", is[i].reason));
    return a;
}

json_t *socialcare_report_json(const struct socialcare_report *rep)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(rep->file ? rep->file : ""));
    json_object_set_new(o, "kind", json_string(socialcare_kind_name(rep->kind)));
    json_object_set_new(o, "org", json_string(rep->org ? rep->org : ""));
    json_object_set_new(o, "feed", rep->feed ? json_string(rep->feed) : json_null());
    json_object_set_new(o, "status", json_string(socialcare_report_status(rep)));
    json_object_set_new(o, "file_error",
                        rep->file_error ? json_string(rep->file_error) : json_null());
#define NUM(f) json_object_set_new(o, #f, json_integer((json_int_t)rep->f))
    NUM(rows_read);
    NUM(rows_mapped);
    NUM(rows_rejected);
    NUM(rows_loaded);
    NUM(rows_load_failed);
    NUM(errors_count);
    NUM(warnings_count);
    NUM(blank_lines);
    NUM(resources);
    NUM(bundles);
#undef NUM
    json_object_set_new(o, "errors", issues_json(rep->errors, rep->nerrors));
    json_object_set_new(o, "warnings", issues_json(rep->warnings, rep->nwarnings));
    json_object_set_new(o, "truncated", json_boolean(rep->truncated));
    return o;
}

int socialcare_report_write(const struct socialcare_report *rep, const char *path)
{
    struct buf tmp = BUF_INIT;
    buf_addf(&tmp, "%s.tmp", path);
    json_t *o = socialcare_report_json(rep);
    int rc = WEFT_OK;
    FILE *fp = fopen(tmp.data, "w");
    if (!fp) {
        rc = WEFT_EIO;
    } else {
        powerloss_created(tmp.data);
        if (json_dumpf(o, fp, JSON_INDENT(2)) != 0 || fputc('\n', fp) == EOF)
            rc = WEFT_EIO;
        if (fclose(fp) != 0)
            rc = WEFT_EIO;
        /* content durable before the name: a power cut leaves the old
         * report or the whole new one, never an empty one */
        if (rc == WEFT_OK &&
            (powerloss_sync_file(tmp.data) != 0 || powerloss_rename(tmp.data, path) != 0))
            rc = WEFT_EIO;
        if (rc != WEFT_OK)
            remove(tmp.data);
    }
    json_decref(o);
    buf_release(&tmp);
    return rc;
}

/* ---- kinds and names ----------------------------------------------------- */

static int map_people(struct proc *p);
static int map_contacts(struct proc *p);
static int map_assessments(struct proc *p);
static int map_services(struct proc *p);
static int map_safeguarding(struct proc *p);
static int map_end_of_life(struct proc *p);

static const struct kinddef kinds[] = {
    {SOCIALCARE_PEOPLE, "people", "person_id", "person", people_cols, P_N, map_people},
    {SOCIALCARE_CONTACTS, "contacts", "contact_id", "contact", contacts_cols, C_N, map_contacts},
    {SOCIALCARE_ASSESSMENTS, "assessments", "assessment_id", "assessment", assessments_cols, A_N,
     map_assessments},
    {SOCIALCARE_SERVICES, "services", "service_id", "service", services_cols, S_N, map_services},
    {SOCIALCARE_SAFEGUARDING, "safeguarding", "concern_id", "safeguarding-concern",
     safeguarding_cols, G_N, map_safeguarding},
    {SOCIALCARE_END_OF_LIFE, "end_of_life", "record_id", "end-of-life-record", eol_cols, E_N,
     map_end_of_life},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const struct kinddef *kind_def(enum socialcare_kind k)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i].kind == k)
            return &kinds[i];
    return NULL;
}

const char *socialcare_kind_name(enum socialcare_kind kind)
{
    const struct kinddef *k = kind_def(kind);
    return k ? k->name : "unknown";
}

enum socialcare_kind socialcare_kind_parse(const char *name)
{
    if (!name)
        return SOCIALCARE_UNKNOWN;
    for (size_t i = 0; i < NKINDS; i++)
        if (strcasecmp(name, kinds[i].name) == 0)
            return kinds[i].kind;
    return SOCIALCARE_UNKNOWN;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

enum socialcare_kind socialcare_kind_from_filename(const char *path)
{
    if (!path)
        return SOCIALCARE_UNKNOWN;
    const char *b = base_name(path);
    size_t n = strlen(b);
    if (n < 4 || strcasecmp(b + n - 4, ".csv") != 0)
        return SOCIALCARE_UNKNOWN;
    for (size_t i = 0; i < NKINDS; i++) {
        size_t kl = strlen(kinds[i].name);
        if (n - 4 >= kl && strncasecmp(b, kinds[i].name, kl) == 0)
            return kinds[i].kind;
    }
    return SOCIALCARE_UNKNOWN;
}

/* ---- ids ----------------------------------------------------------------- */

static int id_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.';
}

void socialcare_fhir_id(const char *key, size_t len, char out[65])
{
    int ok = len >= 1 && len <= 64;
    for (size_t i = 0; ok && i < len; i++)
        ok = id_char((unsigned char)key[i]) && (unsigned char)key[i] < 0x80;
    if (ok) {
        memcpy(out, key, len);
        out[len] = '\0';
        return;
    }
    size_t n = len < 40 ? len : 40;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        out[i] = (c < 0x80 && id_char(c)) ? (char)c : '-';
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL);
    static const char hex[] = "0123456789abcdef";
    out[n] = '-';
    for (size_t i = 0; i < 8; i++) {
        out[n + 1 + 2 * i] = hex[md[i] >> 4];
        out[n + 2 + 2 * i] = hex[md[i] & 15];
    }
    out[n + 17] = '\0';
}

/* ---- value formats ------------------------------------------------------- */

/* Normalise a code-ish value: lower case, ' ' and '_' -> '-'. */
static void norm_code(const char *s, size_t len, char *out, size_t outsz)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '_')
            c = '-';
        out[j++] = (char)tolower(c);
    }
    out[j] = '\0';
}

static int alias_match(const char *aliases, const char *v)
{
    if (!aliases)
        return 0;
    size_t vl = strlen(v);
    const char *a = aliases;
    while (*a) {
        const char *bar = strchr(a, '|');
        size_t al = bar ? (size_t)(bar - a) : strlen(a);
        if (al == vl && memcmp(a, v, vl) == 0)
            return 1;
        if (!bar)
            break;
        a = bar + 1;
    }
    return 0;
}

/* Whether table string t, normalised like norm_code(), equals the
 * normalised value v (no copies: this runs for every coded cell). */
static int norm_eq(const char *t, const char *v)
{
    for (; *t && *v; t++, v++) {
        unsigned char c = (unsigned char)*t;
        if (c == ' ' || c == '_')
            c = '-';
        if ((unsigned char)tolower(c) != (unsigned char)*v)
            return 0;
    }
    return *t == *v;
}

static const struct code *code_find(const struct code *codes, const char *s, size_t len)
{
    char v[128];
    if (len >= sizeof v)
        return NULL;
    norm_code(s, len, v, sizeof v);
    for (const struct code *k = codes; k->code; k++)
        if (norm_eq(k->code, v) || alias_match(k->aliases, v) || norm_eq(k->display, v))
            return k;
    return NULL;
}

static void codes_list(const struct code *codes, struct buf *b)
{
    for (const struct code *k = codes; k->code; k++)
        buf_addf(b, "%s%s", k == codes ? "" : ", ", k->code);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Parse YYYY-MM-DD or D/M/YYYY (docs §2) into out "YYYY-MM-DD". */
/* Length of s without a trailing time of day that spreadsheets add to dates
 * ("2026-03-02T10:15:00Z", "02/03/2026 00:00"): the date part is kept, the
 * time dropped (docs §2).  Returns len when there is no such suffix. */
static size_t strip_time(const char *s, size_t len)
{
    const char *sep = NULL;
    for (size_t i = 8; i < len && !sep; i++)
        if (s[i] == 'T' || s[i] == ' ')
            sep = s + i;
    if (!sep)
        return len;
    const char *t = sep + 1, *end = s + len;
    /* hh:mm[:ss[.fff]][Z|+hh:mm|-hh:mm] */
    if (end - t < 5 || !isdigit((unsigned char)t[0]) || !isdigit((unsigned char)t[1]) ||
        t[2] != ':' || !isdigit((unsigned char)t[3]) || !isdigit((unsigned char)t[4]))
        return len;
    for (const char *q = t + 5; q < end; q++)
        if (!isdigit((unsigned char)*q) && !strchr(":.Z+-", *q))
            return len;
    return (size_t)(sep - s);
}

static int parse_date(const char *s, size_t len, char out[11])
{
    int y = 0, m = 0, d = 0;
    size_t i = 0;
    len = strip_time(s, len);
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        for (i = 0; i < 10; i++)
            if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
                return -1;
        y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        m = (s[5] - '0') * 10 + (s[6] - '0');
        d = (s[8] - '0') * 10 + (s[9] - '0');
    } else {
        int parts[3] = {0, 0, 0};
        size_t digits[3] = {0, 0, 0};
        int pi = 0;
        for (i = 0; i < len; i++) {
            if (s[i] == '/') {
                if (++pi > 2)
                    return -1;
            } else if (isdigit((unsigned char)s[i])) {
                if (++digits[pi] > 4)
                    return -1;
                parts[pi] = parts[pi] * 10 + (s[i] - '0');
            } else {
                return -1;
            }
        }
        if (pi != 2 || digits[0] < 1 || digits[0] > 2 || digits[1] < 1 || digits[1] > 2 ||
            digits[2] != 4)
            return -1;
        d = parts[0];
        m = parts[1];
        y = parts[2];
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1870 || y > 2200 || m < 1 || m > 12 || d < 1)
        return -1;
    if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
        return -1;
    /* y, m, d are range-checked above: write the digits directly */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
    return 0;
}

static int parse_bool(const char *s, size_t len, int *out)
{
    char v[8];
    if (len >= sizeof v)
        return -1;
    norm_code(s, len, v, sizeof v);
    if (!strcmp(v, "y") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(v, "n") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_decimal(const char *s, size_t len, double *out)
{
    char tmp[32];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    int dot = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (dot++)
                return -1;
        } else if (isdigit((unsigned char)s[i])) {
            digits++;
        } else {
            return -1;
        }
    }
    if (!digits)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    *out = strtod(tmp, NULL);
    return 0;
}

/* NHS number (identity/nhs.h).  Returns 1 valid, 0 the right shape but a
 * bad check digit, -1 not 10 digits; out receives the digits when 10. */
static int nhs_check(const char *s, char out[11])
{
    out[0] = '\0';
    if (nhs_number_valid(s, out))
        return 1;
    return out[0] ? 0 : -1;
}

static int valid_ods(const char *s, size_t len)
{
    if (len < 3 || len > 10)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Check one value against its column; fill v.  Errors go to the report. */
static void check_value(struct proc *p, const struct coldef *cd, struct val *v)
{
    if (!v->s) {
        if (cd->req == 'R')
            row_error(p, cd->name, "required value is blank");
        return;
    }
    switch (cd->fmt) {
    case F_TEXT:
        break;
    case F_KEY:
        socialcare_fhir_id(v->s, v->len, v->id);
        break;
    case F_DATE:
        if (parse_date(v->s, v->len, v->date) != 0)
            row_error(p, cd->name, "not a valid date (use YYYY-MM-DD or DD/MM/YYYY)");
        else if ((cd->flags & NOT_FUTURE) && strcmp(v->date, p->today) > 0)
            row_error(p, cd->name, "date is in the future");
        else if ((cd->flags & WARN_FUTURE) && strcmp(v->date, p->today) > 0)
            row_warning(p, cd->name, "date is in the future; kept");
        break;
    case F_BOOL:
        if (parse_bool(v->s, v->len, &v->b) != 0)
            row_error(p, cd->name, "not a yes/no value (use Y or N)");
        break;
    case F_DECIMAL:
        if (parse_decimal(v->s, v->len, &v->dec) != 0)
            row_error(p, cd->name, "not a decimal number");
        break;
    case F_NHS: {
        int r = nhs_check(v->s, v->nhs);
        v->nhs_ok = r == 1;
        if (r == 0)
            row_warning(p, cd->name,
                        "invalid NHS number (check digit); kept, not used for linking");
        else if (r < 0)
            row_warning(p, cd->name,
                        "invalid NHS number (not 10 digits); kept, not used for "
                        "linking");
        break;
    }
    case F_ODS:
        if (!valid_ods(v->s, v->len))
            row_error(p, cd->name, "not an ODS code (3 to 10 letters or digits)");
        break;
    case F_CODE:
        v->code = code_find(cd->codes, v->s, v->len);
        if (!v->code) {
            struct buf b = BUF_INIT;
            codes_list(cd->codes, &b);
            row_error(p, cd->name, "unknown code \"%.*s\" (accepted: %s)",
                      v->len > 40 ? 40 : (int)v->len, v->s, b.data);
            buf_release(&b);
        }
        break;
    case F_LIST: {
        const char *s = v->s, *end = v->s + v->len;
        while (s < end) {
            const char *semi = memchr(s, ';', (size_t)(end - s));
            const char *e = semi ? semi : end;
            const char *a = s, *z = e;
            while (a < z && is_space(*a))
                a++;
            while (z > a && is_space(z[-1]))
                z--;
            if (z > a) {
                const struct code *c = code_find(cd->codes, a, (size_t)(z - a));
                if (!c) {
                    struct buf b = BUF_INIT;
                    codes_list(cd->codes, &b);
                    row_error(p, cd->name, "unknown code \"%.*s\" (accepted: %s)",
                              z - a > 40 ? 40 : (int)(z - a), a, b.data);
                    buf_release(&b);
                } else if (v->nlist == MAX_LIST) {
                    row_error(p, cd->name, "more than %d values", MAX_LIST);
                    break;
                } else {
                    int dup = 0;
                    for (size_t i = 0; i < v->nlist; i++)
                        dup |= v->list[i] == c;
                    if (!dup)
                        v->list[v->nlist++] = c;
                }
            }
            s = e + 1;
        }
        break;
    }
    }
}

/* ---- JSON building ------------------------------------------------------- */

static json_t *jsn(const char *s, size_t len)
{
    /* values were checked to be UTF-8 without NUL by the reader */
    return json_stringn_nocheck(s, len);
}

static json_t *jval(const struct val *v)
{
    return v->s ? jsn(v->s, v->len) : NULL;
}

static void set_opt(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new_nocheck(o, key, v);
}

static json_t *coding(const char *system, const char *code, const char *display)
{
    json_t *c = json_object();
    json_object_set_new_nocheck(c, "system", json_string_nocheck(system));
    json_object_set_new_nocheck(c, "code", json_string_nocheck(code));
    if (display)
        json_object_set_new_nocheck(c, "display", json_string_nocheck(display));
    return c;
}

/* CodeableConcept with one coding and an optional text. */
static json_t *cc(const char *system, const char *code, const char *display, json_t *text)
{
    json_t *c = json_object();
    json_t *a = json_array();
    json_array_append_new(a, coding(system, code, display));
    json_object_set_new_nocheck(c, "coding", a);
    set_opt(c, "text", text);
    return c;
}

static json_t *category_cc(const char *category, const char *display)
{
    return cc(REC_CAT_SYSTEM, category, display, NULL);
}

static json_t *identifier(const char *system, const struct val *v)
{
    json_t *i = json_object();
    json_object_set_new_nocheck(i, "system", json_string_nocheck(system));
    json_object_set_new_nocheck(i, "value", jval(v));
    return i;
}

static json_t *patient_ref(const struct val *person)
{
    char ref[80];
    size_t n = strlen(person->id); /* at most 64 */
    memcpy(ref, "Patient/", 8);
    memcpy(ref + 8, person->id, n + 1);
    json_t *r = json_object();
    json_object_set_new_nocheck(r, "reference", json_string_nocheck(ref));
    return r;
}

static json_t *display_ref(const struct val *v)
{
    if (!v->s)
        return NULL;
    json_t *r = json_object();
    json_object_set_new_nocheck(r, "display", jval(v));
    return r;
}

/* A new resource with its record category stated as a meta.tag (the
 * explicit form fhir/category.h honours first). */
static json_t *resource(const char *type, const char *id, const char *category)
{
    json_t *r = json_object();
    json_object_set_new_nocheck(r, "resourceType", json_string_nocheck(type));
    json_object_set_new_nocheck(r, "id", json_string_nocheck(id));
    json_t *meta = json_object();
    json_t *tags = json_array();
    json_t *tag = json_object();
    json_object_set_new_nocheck(tag, "system", json_string_nocheck(FHIR_CATEGORY_TAG_SYSTEM));
    json_object_set_new_nocheck(tag, "code", json_string_nocheck(category));
    json_array_append_new(tags, tag);
    json_object_set_new_nocheck(meta, "tag", tags);
    json_object_set_new_nocheck(r, "meta", meta);
    return r;
}

static void ext_add(json_t **exts, const char *url, const char *value_key, json_t *value)
{
    if (!value)
        return;
    if (!*exts)
        *exts = json_array();
    json_t *e = json_object();
    json_object_set_new_nocheck(e, "url", json_string_nocheck(url));
    json_object_set_new_nocheck(e, value_key, value);
    json_array_append_new(*exts, e);
}

static void arr_add(json_t **arr, json_t *v)
{
    if (!v)
        return;
    if (!*arr)
        *arr = json_array();
    json_array_append_new(*arr, v);
}

/* HumanName from family / given (split on spaces) / prefix columns (-1: none). */
static json_t *human_name(struct proc *p, int title, int family, int given, const char *use)
{
    const struct val *v = p->v;
    if (!v[family].s && !v[given].s && (title < 0 || !v[title].s))
        return NULL;
    json_t *n = json_object();
    if (use)
        json_object_set_new_nocheck(n, "use", json_string_nocheck(use));
    set_opt(n, "family", jval(&v[family]));
    if (v[given].s) {
        json_t *g = json_array();
        const char *s = v[given].s, *end = s + v[given].len;
        while (s < end) {
            while (s < end && (is_space(*s) || *s == '\n' || *s == '\r'))
                s++;
            const char *e = s;
            while (e < end && !is_space(*e) && *e != '\n' && *e != '\r')
                e++;
            if (e > s)
                json_array_append_new(g, jsn(s, (size_t)(e - s)));
            s = e;
        }
        json_object_set_new_nocheck(n, "given", g);
    }
    if (title >= 0 && v[title].s) {
        json_t *pre = json_array();
        json_array_append_new(pre, jval(&v[title]));
        json_object_set_new_nocheck(n, "prefix", pre);
    }
    return n;
}

static json_t *telecom1(const char *system, const char *use, const struct val *v)
{
    if (!v->s)
        return NULL;
    json_t *t = json_object();
    json_object_set_new_nocheck(t, "system", json_string_nocheck(system));
    json_object_set_new_nocheck(t, "value", jval(v));
    if (use)
        json_object_set_new_nocheck(t, "use", json_string_nocheck(use));
    return t;
}

static json_t *telecoms(struct proc *p, int phone, int mobile, int email)
{
    json_t *a = NULL;
    arr_add(&a, telecom1("phone", "home", &p->v[phone]));
    arr_add(&a, telecom1("phone", "mobile", &p->v[mobile]));
    arr_add(&a, telecom1("email", NULL, &p->v[email]));
    return a;
}

/* Upper case; "ME141AA" -> "ME14 1AA" when it has no space (docs §4.1). */
static json_t *postcode(const struct val *v)
{
    if (!v->s)
        return NULL;
    char pc[16];
    size_t n = 0;
    int plain = 1;
    for (size_t i = 0; i < v->len; i++) {
        unsigned char c = (unsigned char)v->s[i];
        if (c == ' ')
            continue;
        if (!isalnum(c) || c >= 0x80 || n >= 7) {
            plain = 0;
            break;
        }
        pc[n++] = (char)toupper(c);
    }
    if (!plain || n < 5) {
        /* not a UK-shaped postcode: keep it as sent, upper-cased */
        char *u = xstrndup(v->s, v->len);
        for (char *q = u; *q; q++)
            *q = (char)toupper((unsigned char)*q);
        json_t *j = jsn(u, v->len);
        free(u);
        return j;
    }
    char out[16];
    memcpy(out, pc, n - 3);
    out[n - 3] = ' ';
    memcpy(out + n - 2, pc + n - 3, 3);
    return jsn(out, n + 1);
}

static json_t *address(struct proc *p, const int *lines, size_t nlines, int town, int county,
                       int pc)
{
    const struct val *v = p->v;
    json_t *line = NULL;
    for (size_t i = 0; i < nlines; i++)
        arr_add(&line, jval(&v[lines[i]]));
    json_t *city = jval(&v[town]);
    json_t *district = county >= 0 ? jval(&v[county]) : NULL;
    json_t *post = postcode(&v[pc]);
    if (!line && !city && !district && !post)
        return NULL;
    json_t *a = json_object();
    json_object_set_new_nocheck(a, "use", json_string_nocheck("home"));
    set_opt(a, "line", line);
    set_opt(a, "city", city);
    set_opt(a, "district", district);
    set_opt(a, "postalCode", post);
    json_t *arr = json_array();
    json_array_append_new(arr, a);
    return arr;
}

static json_t *jdate(const struct val *v)
{
    return v->s ? json_string_nocheck(v->date) : NULL;
}

static json_t *period(const struct val *start, const struct val *end)
{
    if (!start->s && !end->s)
        return NULL;
    json_t *o = json_object();
    set_opt(o, "start", jdate(start));
    set_opt(o, "end", jdate(end));
    return o;
}

/* Row error when column later holds a date before column earlier's. */
static int date_before(struct proc *p, int later, int earlier)
{
    const struct val *v = p->v;
    if (v[later].s && v[earlier].s && strcmp(v[later].date, v[earlier].date) < 0) {
        row_error(p, p->k->cols[later].name, "%s is before %s", p->k->cols[later].name,
                  p->k->cols[earlier].name);
        return 1;
    }
    return 0;
}

/* ---- batches ------------------------------------------------------------- */

size_t socialcare_batch_entries(const struct socialcare_batch *b)
{
    return b->nentries - b->base;
}

size_t socialcare_batch_line(const struct socialcare_batch *b, size_t entry)
{
    return entry < b->nentries - b->base ? b->lines[b->base + entry] : 0;
}

/* Count the row at line as a load failure once per batch. */
static void batch_fail_line(struct socialcare_batch *b, size_t line, const char *reason)
{
    for (size_t i = 0; i < b->nfailed; i++)
        if (b->failed_lines[i] == line)
            return;
    if (b->nfailed == b->failcap) {
        b->failcap = b->failcap ? b->failcap * 2 : 16;
        b->failed_lines = xrealloc(b->failed_lines, b->failcap * sizeof *b->failed_lines);
    }
    b->failed_lines[b->nfailed++] = line;
    issue_add(b->rep, 1, line, NULL, "load failed: %s", reason);
}

void socialcare_batch_fail(struct socialcare_batch *b, size_t entry, const char *reason)
{
    if (entry >= b->nentries - b->base)
        return;
    batch_fail_line(b, b->lines[b->base + entry], reason ? reason : "refused by the loader");
}

void *socialcare_batch_prep(const struct socialcare_batch *b)
{
    return b->prep;
}

void socialcare_batch_broken(struct socialcare_batch *b)
{
    atomic_store(&b->broken, b->seq + 1);
}

static void emit(struct proc *p, const char *type, const char *id, json_t *res)
{
    struct chunk *c = chunk_cur(p);
    if (!c->bundle) {
        c->bundle = json_object();
        json_object_set_new_nocheck(c->bundle, "resourceType", json_string_nocheck("Bundle"));
        json_object_set_new_nocheck(c->bundle, "type", json_string_nocheck("batch"));
        c->entries = json_array();
        json_object_set_new_nocheck(c->bundle, "entry", c->entries);
    }
    char url[96]; /* type names are short, ids at most 64 */
    size_t tl = strlen(type), il = strlen(id);
    assert(tl + 1 + il < sizeof url);
    memcpy(url, type, tl);
    url[tl] = '/';
    memcpy(url + tl + 1, id, il + 1);
    json_t *req = json_object();
    json_object_set_new_nocheck(req, "method", json_string_nocheck("PUT"));
    json_object_set_new_nocheck(req, "url", json_string_nocheck(url));
    json_t *e = json_object();
    json_object_set_new_nocheck(e, "resource", res);
    json_object_set_new_nocheck(e, "request", req);
    json_array_append_new(c->entries, e);
    if (c->nlines == c->linecap) {
        c->linecap = c->linecap ? c->linecap * 2 : 64;
        c->lines = xrealloc(c->lines, c->linecap * sizeof *c->lines);
    }
    c->lines[c->nlines++] = p->line;
}

static void chunk_free(struct chunk *c, void (*prep_free)(void *))
{
    if (c->prep)
        prep_free(c->prep);
    json_decref(c->bundle);
    for (size_t i = 0; i < c->nissues; i++) {
        free(c->issues[i].column);
        free(c->issues[i].reason);
    }
    free(c->issues);
    free(c->lines);
    free(c);
}

/* Every row of entries [from, to) of the batch fails with rc's reason. */
static void fail_entries(struct socialcare_batch *b, size_t from, size_t to, int rc)
{
    for (size_t i = from; i < to; i++)
        if (i == from || b->lines[i] != b->lines[i - 1])
            batch_fail_line(b, b->lines[i], weft_strerror(rc));
}

/* The loading side: a chunk's issues into the report, its Bundle to the
 * sink, and at the end of a batch the commit and the batch's counts.  The
 * caller frees the chunk (chunk_free). */
static void deliver(struct socialcare_batch *b, struct chunk *c)
{
    struct socialcare_report *rep = b->rep;
    for (size_t i = 0; i < c->nissues; i++) {
        struct pend_issue *is = &c->issues[i];
        if (issue_count(rep, is->error)) {
            issue_keep(rep, is->error, is->line, is->column, is->reason);
            is->column = is->reason = NULL;
        }
    }
    /* the reading side dropped these because the list was full already */
    assert(!c->errors_dropped || rep->nerrors == SOCIALCARE_MAX_ISSUES);
    assert(!c->warnings_dropped || rep->nwarnings == SOCIALCARE_MAX_ISSUES);
    for (size_t i = 0; i < c->errors_dropped; i++)
        issue_count(rep, 1);
    for (size_t i = 0; i < c->warnings_dropped; i++)
        issue_count(rep, 0);
    if (c->bundle) {
        b->base = b->nentries;
        if (b->nentries + c->nlines > b->cap) {
            while (b->nentries + c->nlines > b->cap)
                b->cap = b->cap ? b->cap * 2 : 64;
            b->lines = xrealloc(b->lines, b->cap * sizeof *b->lines);
        }
        memcpy(b->lines + b->nentries, c->lines, c->nlines * sizeof *c->lines);
        b->nentries += c->nlines;
        rep->bundles++;
        rep->resources += c->nlines;
        if (b->sink) {
            b->prep = c->prep;
            int rc = b->sink(b->ctx, c->bundle, b);
            b->prep = NULL;
            if (rc < 0)
                fail_entries(b, b->base, b->nentries, rc);
        }
        b->base = b->nentries;
    }
    b->rows += c->rows;
    if (c->end_batch) {
        if (b->sink && b->o->commit) {
            int rc = b->o->commit(b->ctx);
            if (rc < 0)
                fail_entries(b, 0, b->nentries, rc);
        }
        rep->rows_load_failed += b->nfailed;
        rep->rows_loaded += b->rows - b->nfailed;
        b->nfailed = 0;
        b->nentries = 0;
        b->base = 0;
        b->rows = 0;
        b->seq++;
    }
}

static void chunks_free(struct chunk *c, void (*prep_free)(void *))
{
    while (c) {
        struct chunk *next = c->next;
        chunk_free(c, prep_free);
        c = next;
    }
}

/* Queue c; returns the chunks handed back since the last call, for the
 * reading side to free.  Freeing them here rather than on the loading
 * thread takes that work (a Bundle's tree and its prepared form, allocated
 * on this thread) off the thread that limits the pace. */
static struct chunk *pipe_put(struct pipe *q, struct chunk *c)
{
    pthread_mutex_lock(&q->mu);
    while (q->n >= SOCIALCARE_PIPE_DEPTH)
        pthread_cond_wait(&q->can_put, &q->mu);
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->n++;
    struct chunk *spent = q->spent;
    q->spent = NULL;
    pthread_cond_signal(&q->can_take);
    pthread_mutex_unlock(&q->mu);
    return spent;
}

/* Hand back done (delivered; may be NULL) and take the next chunk, or NULL
 * when the reading side is done and all are taken. */
static struct chunk *pipe_take(struct pipe *q, struct chunk *done)
{
    pthread_mutex_lock(&q->mu);
    if (done) {
        done->next = q->spent;
        q->spent = done;
    }
    while (!q->head && !q->done)
        pthread_cond_wait(&q->can_take, &q->mu);
    struct chunk *c = q->head;
    if (c) {
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        c->next = NULL;
        pthread_cond_signal(&q->can_put);
    }
    pthread_mutex_unlock(&q->mu);
    return c;
}

static void pipe_finish(struct pipe *q)
{
    pthread_mutex_lock(&q->mu);
    q->done = true;
    pthread_cond_signal(&q->can_take);
    pthread_mutex_unlock(&q->mu);
}

/* The reading side hands the current chunk on: prepared (unless its batch
 * was given up), then delivered at once (one thread) or queued. */
static void hand(struct proc *p, bool end_batch)
{
    struct chunk *c = chunk_cur(p);
    p->cur = NULL;
    c->end_batch = end_batch;
    if (c->bundle && p->sink && p->o->prepare && atomic_load(&p->out->broken) != p->seq + 1)
        c->prep = p->o->prepare(p->ctx, c->bundle);
    if (end_batch)
        p->seq++;
    if (p->q) {
        chunks_free(pipe_put(p->q, c), p->o->prep_free);
    } else {
        deliver(p->out, c);
        chunk_free(c, p->o->prep_free);
    }
}

/* The current Bundle (if any) is complete. */
static void flush_bundle(struct proc *p)
{
    p->bundle_rows = 0;
    if (p->cur && p->cur->bundle)
        hand(p, false);
}

/* End the batch: its last Bundle, the commit, then count its rows. */
static void flush(struct proc *p)
{
    if (!p->batch_rows)
        return;
    p->bundle_rows = 0;
    p->batch_rows = 0;
    hand(p, true);
}

/* ---- the six mappings (docs §4) ------------------------------------------ */

static int map_people(struct proc *p)
{
    const struct val *v = p->v;
    if (date_before(p, P_DOD, P_DOB))
        return -1;
    json_t *r = resource("Patient", v[P_ID].id, "demographics");
    json_t *ext = NULL;
    ext_add(&ext, EXT_BASE "date-recorded", "valueDate", jdate(&v[P_RECORDED]));
    set_opt(r, "extension", ext);

    json_t *ids = json_array();
    json_array_append_new(ids, identifier(p->id_system, &v[P_ID]));
    if (v[P_NHS].s && v[P_NHS].nhs_ok) {
        const struct code *ver = v[P_NHS_VER].code ? v[P_NHS_VER].code : &nhs_ver_codes[1];
        json_t *id = json_object();
        json_t *x = NULL;
        ext_add(&x, NHS_VER_EXT, "valueCodeableConcept",
                cc(NHS_VER_SYSTEM, ver->code, ver->display, NULL));
        json_object_set_new_nocheck(id, "extension", x);
        json_object_set_new_nocheck(id, "system", json_string_nocheck(NHS_SYSTEM));
        json_object_set_new_nocheck(id, "value", json_string_nocheck(v[P_NHS].nhs));
        json_array_append_new(ids, id);
    } else if (v[P_NHS].s) {
        /* kept as sent (digits only when it has ten), flagged the way the
         * linker flags it (identity/identity.h), which never links on it */
        json_t *id = json_object();
        json_t *x = NULL;
        ext_add(&x, LINK_TAG_SYSTEM, "valueCode", json_string_nocheck(LINK_TAG_INVALID_NHS));
        json_object_set_new_nocheck(id, "extension", x);
        json_object_set_new_nocheck(id, "system", json_string_nocheck(NHS_SYSTEM));
        json_object_set_new_nocheck(
            id, "value", v[P_NHS].nhs[0] ? json_string_nocheck(v[P_NHS].nhs) : jval(&v[P_NHS]));
        json_array_append_new(ids, id);
    }
    json_object_set_new_nocheck(r, "identifier", ids);
    json_object_set_new_nocheck(r, "active", json_true());
    json_t *names = NULL;
    arr_add(&names, human_name(p, P_TITLE, P_FAMILY, P_GIVEN, "official"));
    set_opt(r, "name", names);
    set_opt(r, "telecom", telecoms(p, P_PHONE, P_MOBILE, P_EMAIL));
    if (v[P_SEX].code)
        json_object_set_new_nocheck(r, "gender", json_string_nocheck(v[P_SEX].code->code));
    set_opt(r, "birthDate", jdate(&v[P_DOB]));
    set_opt(r, "deceasedDateTime", jdate(&v[P_DOD]));
    static const int lines[] = {P_ADDR1, P_ADDR2, P_ADDR3};
    set_opt(r, "address", address(p, lines, 3, P_TOWN, P_COUNTY, P_POSTCODE));
    if (v[P_GP].s) {
        char ods[11];
        for (size_t i = 0; i <= v[P_GP].len; i++)
            ods[i] = (char)toupper((unsigned char)v[P_GP].s[i]);
        json_t *gp = json_object();
        json_object_set_new_nocheck(gp, "type", json_string_nocheck("Organization"));
        json_t *gid = json_object();
        json_object_set_new_nocheck(gid, "system", json_string_nocheck(ODS_SYSTEM));
        json_object_set_new_nocheck(gid, "value", json_string_nocheck(ods));
        json_object_set_new_nocheck(gp, "identifier", gid);
        json_t *a = json_array();
        json_array_append_new(a, gp);
        json_object_set_new_nocheck(r, "generalPractitioner", a);
    }
    emit(p, "Patient", v[P_ID].id, r);
    return 0;
}

static int map_contacts(struct proc *p)
{
    const struct val *v = p->v;
    if (!v[C_FAMILY].s && !v[C_GIVEN].s) {
        row_error(p, "family_name", "family_name and given_names are both blank");
        return -1;
    }
    if (date_before(p, C_END, C_START))
        return -1;
    json_t *r = resource("RelatedPerson", v[C_ID].id, "contacts");
    json_t *ext = NULL;
    ext_add(&ext, EXT_BASE "carer-support", "valueString", jval(&v[C_SUPPORT]));
    set_opt(r, "extension", ext);
    json_t *ids = json_array();
    json_array_append_new(ids, identifier(p->id_system, &v[C_ID]));
    json_object_set_new_nocheck(r, "identifier", ids);
    int active = !(v[C_END].s && strcmp(v[C_END].date, p->today) < 0);
    json_object_set_new_nocheck(r, "active", json_boolean(active));
    json_object_set_new_nocheck(r, "patient", patient_ref(&v[C_PERSON]));

    json_t *rel = NULL;
    if (v[C_REL].s) {
        const struct code *c = code_find(relationships, v[C_REL].s, v[C_REL].len);
        json_t *t = jval(&v[C_REL]);
        if (c) {
            arr_add(&rel, cc(ROLE_SYSTEM, c->code, c->display, t));
        } else {
            json_t *o = json_object();
            json_object_set_new_nocheck(o, "text", t);
            arr_add(&rel, o);
        }
    }
    if (v[C_CARER].s && v[C_CARER].b)
        arr_add(&rel, cc(CS_BASE "contact-role", "carer", "Carer", NULL));
    if (v[C_NOK].s && v[C_NOK].b)
        arr_add(&rel, cc(V2_0131_SYSTEM, "N", "Next-of-Kin", NULL));
    if (v[C_EMERG].s && v[C_EMERG].b)
        arr_add(&rel, cc(V2_0131_SYSTEM, "C", "Emergency Contact", NULL));
    set_opt(r, "relationship", rel);
    json_t *names = NULL;
    arr_add(&names, human_name(p, -1, C_FAMILY, C_GIVEN, NULL));
    set_opt(r, "name", names);
    set_opt(r, "telecom", telecoms(p, C_PHONE, C_MOBILE, C_EMAIL));
    static const int lines[] = {C_ADDR1, C_ADDR2};
    set_opt(r, "address", address(p, lines, 2, C_TOWN, -1, C_POSTCODE));
    set_opt(r, "period", period(&v[C_START], &v[C_END]));
    emit(p, "RelatedPerson", v[C_ID].id, r);
    return 0;
}

static json_t *qr_item(const char *link, const char *text, const char *value_key, json_t *value)
{
    json_t *it = json_object();
    json_object_set_new_nocheck(it, "linkId", json_string_nocheck(link));
    json_object_set_new_nocheck(it, "text", json_string_nocheck(text));
    json_t *answers = json_array();
    if (json_is_array(value)) { /* several answers, each already an answer object */
        json_array_extend(answers, value);
        json_decref(value);
    } else {
        json_t *a = json_object();
        json_object_set_new_nocheck(a, value_key, value);
        json_array_append_new(answers, a);
    }
    json_object_set_new_nocheck(it, "answer", answers);
    return it;
}

static int map_assessments(struct proc *p)
{
    const struct val *v = p->v;
    json_t *r = resource("QuestionnaireResponse", v[A_ID].id, "social-care-assessment");
    json_object_set_new_nocheck(r, "identifier", identifier(p->id_system, &v[A_ID]));
    json_object_set_new_nocheck(
        r, "questionnaire",
        json_string_nocheck("https://weft.nhs.uk/Questionnaire/social-care-assessment"));
    const char *status = v[A_STATUS].code ? v[A_STATUS].code->fhir : "completed";
    json_object_set_new_nocheck(r, "status", json_string_nocheck(status));
    json_object_set_new_nocheck(r, "subject", patient_ref(&v[A_PERSON]));
    json_object_set_new_nocheck(r, "authored", jdate(&v[A_DATE]));
    set_opt(r, "author", display_ref(&v[A_TEAM]));

    json_t *items = json_array();
    const struct code *t = v[A_TYPE].code;
    json_array_append_new(
        items, qr_item("type", "Assessment type", "valueCoding",
                       coding(CS_BASE "social-care-assessment-type", t->code, t->display)));
    if (v[A_OUTCOME].s)
        json_array_append_new(items,
                              qr_item("outcome", "Outcome", "valueString", jval(&v[A_OUTCOME])));
    if (v[A_NEEDS].nlist) {
        json_t *answers = json_array();
        for (size_t i = 0; i < v[A_NEEDS].nlist; i++) {
            const struct code *c = v[A_NEEDS].list[i];
            json_t *a = json_object();
            json_object_set_new_nocheck(a, "valueCoding",
                                        coding(CS_BASE "care-act-outcome", c->code, c->display));
            json_array_append_new(answers, a);
        }
        json_array_append_new(items, qr_item("eligible-needs", "Eligible needs", NULL, answers));
    }
    if (v[A_TEAM].s)
        json_array_append_new(
            items, qr_item("assessor-team", "Assessor team", "valueString", jval(&v[A_TEAM])));
    if (v[A_SUMMARY].s)
        json_array_append_new(items,
                              qr_item("summary", "Summary", "valueString", jval(&v[A_SUMMARY])));
    if (v[A_REVIEW].s)
        json_array_append_new(
            items, qr_item("review-date", "Review date", "valueDate", jdate(&v[A_REVIEW])));
    json_object_set_new_nocheck(r, "item", items);
    emit(p, "QuestionnaireResponse", v[A_ID].id, r);
    return 0;
}

static int map_services(struct proc *p)
{
    const struct val *v = p->v;
    if (date_before(p, S_END, S_START))
        return -1;
    if (v[S_HOURS].s && v[S_HOURS].dec > 168) {
        row_error(p, "hours_per_week", "more than 168 hours per week");
        return -1;
    }
    json_t *r = resource("EpisodeOfCare", v[S_ID].id, "services");
    if (v[S_HOURS].s) {
        json_t *q = json_object();
        json_object_set_new_nocheck(q, "value", json_real(v[S_HOURS].dec));
        json_object_set_new_nocheck(q, "unit", json_string_nocheck("hours per week"));
        json_object_set_new_nocheck(q, "system", json_string_nocheck("http://unitsofmeasure.org"));
        json_object_set_new_nocheck(q, "code", json_string_nocheck("h/wk"));
        json_t *ext = NULL;
        ext_add(&ext, EXT_BASE "hours-per-week", "valueQuantity", q);
        json_object_set_new_nocheck(r, "extension", ext);
    }
    json_t *ids = json_array();
    json_array_append_new(ids, identifier(p->id_system, &v[S_ID]));
    json_object_set_new_nocheck(r, "identifier", ids);
    json_object_set_new_nocheck(r, "status", json_string_nocheck(v[S_STATUS].code->fhir));
    const struct code *t = v[S_TYPE].code;
    json_t *types = json_array();
    json_array_append_new(types, cc(CS_BASE "social-care-service", t->code, t->display,
                                    json_string_nocheck(t->display)));
    json_array_append_new(types, category_cc("services", "Services"));
    json_object_set_new_nocheck(r, "type", types);
    json_object_set_new_nocheck(r, "patient", patient_ref(&v[S_PERSON]));
    if (v[S_PROVIDER].s || v[S_PROVIDER_ODS].s) {
        json_t *org = json_object();
        if (v[S_PROVIDER_ODS].s) {
            char ods[11];
            for (size_t i = 0; i <= v[S_PROVIDER_ODS].len; i++)
                ods[i] = (char)toupper((unsigned char)v[S_PROVIDER_ODS].s[i]);
            json_t *oid = json_object();
            json_object_set_new_nocheck(oid, "system", json_string_nocheck(ODS_SYSTEM));
            json_object_set_new_nocheck(oid, "value", json_string_nocheck(ods));
            json_object_set_new_nocheck(org, "identifier", oid);
        }
        set_opt(org, "display", jval(&v[S_PROVIDER]));
        json_object_set_new_nocheck(r, "managingOrganization", org);
    }
    set_opt(r, "period", period(&v[S_START], &v[S_END]));
    emit(p, "EpisodeOfCare", v[S_ID].id, r);
    return 0;
}

static int map_safeguarding(struct proc *p)
{
    const struct val *v = p->v;
    if (date_before(p, G_CLOSED, G_RAISED))
        return -1;
    json_t *r = resource("Flag", v[G_ID].id, "safeguarding");
    json_t *sec = json_array();
    json_array_append_new(
        sec, coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R", "restricted"));
    json_object_set_new_nocheck(json_object_get(r, "meta"), "security", sec);

    json_t *ext = NULL;
    struct buf text = BUF_INIT;
    buf_adds(&text, "Safeguarding concern");
    for (size_t i = 0; i < v[G_CATEGORY].nlist; i++) {
        const struct code *c = v[G_CATEGORY].list[i];
        ext_add(&ext, EXT_BASE "safeguarding-abuse-category", "valueCoding",
                coding(CS_BASE "safeguarding-abuse-category", c->code, c->display));
        buf_addf(&text, "%s%s", i ? "; " : ": ", c->display);
    }
    ext_add(&ext, EXT_BASE "safeguarding-outcome", "valueString", jval(&v[G_OUTCOME]));
    ext_add(&ext, EXT_BASE "safeguarding-summary", "valueString", jval(&v[G_SUMMARY]));
    set_opt(r, "extension", ext);
    json_t *ids = json_array();
    json_array_append_new(ids, identifier(p->id_system, &v[G_ID]));
    json_object_set_new_nocheck(r, "identifier", ids);
    json_object_set_new_nocheck(r, "status", json_string_nocheck(v[G_STATUS].code->fhir));
    json_t *cats = json_array();
    json_array_append_new(cats, category_cc("safeguarding", "Safeguarding"));
    json_array_append_new(
        cats, cc("http://terminology.hl7.org/CodeSystem/flag-category", "safety", "Safety", NULL));
    json_object_set_new_nocheck(r, "category", cats);
    json_object_set_new_nocheck(r, "code",
                                cc(CS_BASE "flag-code", "safeguarding-concern",
                                   "Safeguarding concern", jsn(text.data, text.len)));
    buf_release(&text);
    json_object_set_new_nocheck(r, "subject", patient_ref(&v[G_PERSON]));
    set_opt(r, "period", period(&v[G_RAISED], &v[G_CLOSED]));
    set_opt(r, "author", display_ref(&v[G_TEAM]));
    emit(p, "Flag", v[G_ID].id, r);
    return 0;
}

static json_t *note(const char *text, size_t len)
{
    json_t *n = json_object();
    json_object_set_new_nocheck(n, "text", jsn(text, len));
    return n;
}

/* The id for "{key}{suffix}" by the same sanitising rule (docs §3). */
static void suffixed_id(const struct val *key, const char *suffix, char out[65])
{
    struct buf b = BUF_INIT;
    buf_add(&b, key->s, key->len);
    buf_adds(&b, suffix);
    socialcare_fhir_id(b.data, b.len, out);
    buf_release(&b);
}

static int map_end_of_life(struct proc *p)
{
    const struct val *v = p->v;
    const char *ods = p->o->ods;
    json_t *ids;

    /* CarePlan: the preferences and a note per stated item */
    json_t *cp = resource("CarePlan", v[E_ID].id, "end-of-life");
    json_t *ext = NULL;
    if (v[E_PPD].code)
        ext_add(&ext, EXT_BASE "preferred-place-of-death", "valueCodeableConcept",
                cc(CS_BASE "preferred-place-of-death", v[E_PPD].code->code, v[E_PPD].code->display,
                   NULL));
    if (v[E_LPA].code)
        ext_add(&ext, EXT_BASE "lasting-power-of-attorney", "valueCoding",
                coding(CS_BASE "lasting-power-of-attorney", v[E_LPA].code->code,
                       v[E_LPA].code->display));
    set_opt(cp, "extension", ext);
    ids = json_array();
    json_array_append_new(ids, identifier(p->id_system, &v[E_ID]));
    json_object_set_new_nocheck(cp, "identifier", ids);
    json_object_set_new_nocheck(cp, "status", json_string_nocheck("active"));
    json_object_set_new_nocheck(cp, "intent", json_string_nocheck("plan"));
    json_t *cats = json_array();
    json_array_append_new(cats, category_cc("end-of-life", "End of life"));
    json_object_set_new_nocheck(cp, "category", cats);
    json_object_set_new_nocheck(cp, "title", json_string_nocheck("End of life preferences"));
    set_opt(cp, "description", jval(&v[E_PREFS]));
    json_object_set_new_nocheck(cp, "subject", patient_ref(&v[E_PERSON]));
    json_t *per = json_object();
    json_object_set_new_nocheck(per, "start", jdate(&v[E_RECORDED]));
    json_object_set_new_nocheck(cp, "period", per);
    json_object_set_new_nocheck(cp, "created", jdate(&v[E_RECORDED]));
    json_t *notes = NULL;
    struct buf b = BUF_INIT;
    if (v[E_PPD].code) {
        buf_addf(&b, "Preferred place of death: %s", v[E_PPD].code->display);
        arr_add(&notes, note(b.data, b.len));
    }
    if (v[E_DNACPR].s) {
        buf_reset(&b);
        buf_addf(&b, "DNACPR decision: %s", v[E_DNACPR].b ? "yes" : "no");
        if (v[E_DNACPR_DATE].s)
            buf_addf(&b, " (%s)", v[E_DNACPR_DATE].date);
        arr_add(&notes, note(b.data, b.len));
    }
    if (v[E_RESPECT].s) {
        buf_reset(&b);
        buf_addf(&b, "ReSPECT plan: %s", v[E_RESPECT].b ? "yes" : "no");
        if (v[E_RESPECT_DATE].s)
            buf_addf(&b, " (%s)", v[E_RESPECT_DATE].date);
        arr_add(&notes, note(b.data, b.len));
    }
    if (v[E_LPA].code || v[E_LPA_NAME].s) {
        buf_reset(&b);
        buf_addf(&b, "Lasting power of attorney: %s",
                 v[E_LPA].code ? v[E_LPA].code->display : "not stated");
        if (v[E_LPA_NAME].s)
            buf_addf(&b, " (attorney: %.*s)", (int)v[E_LPA_NAME].len, v[E_LPA_NAME].s);
        arr_add(&notes, note(b.data, b.len));
    }
    buf_release(&b);
    set_opt(cp, "note", notes);
    emit(p, "CarePlan", v[E_ID].id, cp);

    if (v[E_DNACPR].s) {
        char id[65];
        suffixed_id(&v[E_ID], "-dnacpr", id);
        json_t *c = resource("Consent", id, "end-of-life");
        ids = json_array();
        json_array_append_new(ids, identifier(p->id_system, &v[E_ID]));
        json_object_set_new_nocheck(c, "identifier", ids);
        json_object_set_new_nocheck(c, "status",
                                    json_string_nocheck(v[E_DNACPR].b ? "active" : "inactive"));
        json_object_set_new_nocheck(c, "scope",
                                    cc("http://terminology.hl7.org/CodeSystem/consentscope", "adr",
                                       "Advanced Care Directive", NULL));
        cats = json_array();
        json_array_append_new(cats, cc("http://terminology.hl7.org/CodeSystem/consentcategorycodes",
                                       "dnr", "Do Not Resuscitate",
                                       json_string_nocheck("DNACPR decision")));
        json_array_append_new(cats, category_cc("end-of-life", "End of life"));
        json_object_set_new_nocheck(c, "category", cats);
        json_object_set_new_nocheck(c, "patient", patient_ref(&v[E_PERSON]));
        json_object_set_new_nocheck(c, "dateTime",
                                    jdate(v[E_DNACPR_DATE].s ? &v[E_DNACPR_DATE] : &v[E_RECORDED]));
        char txt[96];
        snprintf(txt, sizeof txt, "DNACPR decision recorded by %s", ods);
        json_t *rule = json_object();
        json_object_set_new_nocheck(rule, "text", json_string_nocheck(txt));
        json_object_set_new_nocheck(c, "policyRule", rule);
        json_t *prov = json_object();
        json_object_set_new_nocheck(prov, "type", json_string_nocheck("deny"));
        json_t *codes = json_array();
        json_array_append_new(
            codes, cc("http://snomed.info/sct", "89666000", "Cardiopulmonary resuscitation", NULL));
        json_object_set_new_nocheck(prov, "code", codes);
        json_object_set_new_nocheck(c, "provision", prov);
        emit(p, "Consent", id, c);
    }

    if (v[E_RESPECT].s) {
        char id[65];
        suffixed_id(&v[E_ID], "-respect", id);
        json_t *d = resource("DocumentReference", id, "end-of-life");
        ids = json_array();
        json_array_append_new(ids, identifier(p->id_system, &v[E_ID]));
        json_object_set_new_nocheck(d, "identifier", ids);
        json_object_set_new_nocheck(d, "status",
                                    json_string_nocheck(v[E_RESPECT].b ? "current" : "superseded"));
        json_object_set_new_nocheck(d, "type",
                                    cc(CS_BASE "document-type", "respect-form", "ReSPECT form",
                                       json_string_nocheck("ReSPECT form")));
        cats = json_array();
        json_array_append_new(cats, category_cc("end-of-life", "End of life"));
        json_object_set_new_nocheck(d, "category", cats);
        json_object_set_new_nocheck(d, "subject", patient_ref(&v[E_PERSON]));
        char title[96];
        snprintf(title, sizeof title, "ReSPECT form held by %s", ods);
        json_t *att = json_object();
        json_object_set_new_nocheck(att, "title", json_string_nocheck(title));
        json_t *content = json_object();
        json_object_set_new_nocheck(content, "attachment", att);
        json_t *contents = json_array();
        json_array_append_new(contents, content);
        json_object_set_new_nocheck(d, "content", contents);
        json_t *ctx = json_object();
        json_t *cper = json_object();
        json_object_set_new_nocheck(
            cper, "start", jdate(v[E_RESPECT_DATE].s ? &v[E_RESPECT_DATE] : &v[E_RECORDED]));
        json_object_set_new_nocheck(ctx, "period", cper);
        json_object_set_new_nocheck(d, "context", ctx);
        emit(p, "DocumentReference", id, d);
    }
    return 0;
}

/* ---- the file ------------------------------------------------------------ */

/* Header name -> canonical column name: trimmed, lower case, ' ' and '-' as '_'. */
static void norm_header(const char *s, size_t len, char *out, size_t outsz)
{
    while (len && is_space(*s)) {
        s++;
        len--;
    }
    while (len && is_space(s[len - 1]))
        len--;
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c == ' ' || c == '-') ? '_' : (char)tolower(c);
    }
    out[j] = '\0';
}

static void file_error(struct socialcare_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void file_error(struct socialcare_report *rep, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    free(rep->file_error);
    rep->file_error = buf_detach(&b, NULL);
}

static const struct kinddef *kind_from_header(char names[][128], size_t n)
{
    int has_person = 0, has_family = 0;
    for (size_t k = 0; k < NKINDS; k++) {
        if (kinds[k].kind == SOCIALCARE_PEOPLE)
            continue;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(names[i], kinds[k].key))
                return &kinds[k];
    }
    for (size_t i = 0; i < n; i++) {
        has_person |= !strcmp(names[i], "person_id");
        has_family |= !strcmp(names[i], "family_name");
    }
    return has_person && has_family ? kind_def(SOCIALCARE_PEOPLE) : NULL;
}

/* Validate the header row; set p->k and p->colmap.  Returns 0 or a file error. */
static int header(struct proc *p, struct socialcare_report *rep, const struct csv_row *row,
                  enum socialcare_kind kind)
{
    size_t n = row->nfields;
    char(*names)[128] = xcalloc(n ? n : 1, sizeof *names);
    int rc = WEFT_EPARSE;
    for (size_t i = 0; i < n; i++) {
        norm_header(row->fields[i], row->lens[i], names[i], sizeof names[i]);
        for (size_t j = 0; j < i; j++)
            if (names[i][0] && !strcmp(names[i], names[j])) {
                file_error(rep, "duplicated column \"%s\" (columns %zu and %zu)", names[i], j + 1,
                           i + 1);
                goto out;
            }
    }
    p->k = kind ? kind_def(kind) : kind_from_header(names, n);
    if (!p->k) {
        file_error(rep, "unknown extract kind: the file name does not start with people, "
                        "contacts, assessments, services, safeguarding or end_of_life, and the "
                        "header has no key column");
        goto out;
    }
    rep->kind = p->k->kind;
    for (size_t c = 0; c < p->k->ncols; c++) {
        p->colmap[c] = -1;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(names[i], p->k->cols[c].name))
                p->colmap[c] = (int)i;
    }
    struct buf missing = BUF_INIT;
    size_t nmissing = 0;
    for (size_t c = 0; c < p->k->ncols; c++)
        if (p->colmap[c] < 0 && p->k->cols[c].req != 'O') {
            buf_addf(&missing, "%s\"%s\"", nmissing ? ", " : "", p->k->cols[c].name);
            nmissing++;
        }
    if (nmissing) {
        file_error(rep, "missing required column%s %s for a %s extract", nmissing > 1 ? "s" : "",
                   missing.data, p->k->name);
        buf_release(&missing);
        goto out;
    }
    buf_release(&missing);
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t c = 0; c < p->k->ncols && !known; c++)
            known = p->colmap[c] == (int)i;
        if (!known)
            issue_add(rep, 0, row->line, names[i][0] ? names[i] : NULL, "%s",
                      names[i][0] ? "unknown column ignored" : "unnamed column ignored");
    }
    p->nheader = n;
    snprintf(p->id_system, sizeof p->id_system, "urn:weft:id:%s:%s", p->o->ods, p->k->id_kind);
    rc = WEFT_OK;
out:
    free(names);
    return rc;
}

static void trim_field(char **s, size_t *len)
{
    char *a = *s;
    size_t n = *len;
    while (n && is_space(*a)) {
        a++;
        n--;
    }
    while (n && (is_space(a[n - 1]) || a[n - 1] == '\r' || a[n - 1] == '\n'))
        n--;
    while (n && (*a == '\r' || *a == '\n')) {
        a++;
        n--;
    }
    *s = a;
    *len = n;
}

static int all_blank(const struct csv_row *row)
{
    for (size_t i = 0; i < row->nfields; i++)
        for (size_t j = 0; j < row->lens[i]; j++) {
            char c = row->fields[i][j];
            if (!is_space(c) && c != '\r' && c != '\n')
                return 0;
        }
    return 1;
}

static void one_row(struct proc *p, const struct csv_row *row)
{
    p->line = row->line;
    if (!row->err && all_blank(row)) {
        /* ",,,," lines that spreadsheets leave at the end: not data */
        p->blank_lines++;
        return;
    }
    p->rows_read++;
    if (row->err) {
        const char *col = NULL;
        if (row->err_field >= 1 && row->err_field <= p->nheader)
            for (size_t c = 0; c < p->k->ncols; c++)
                if (p->colmap[c] == (int)row->err_field - 1)
                    col = p->k->cols[c].name;
        row_issue(p, true, col, row->errmsg);
        p->rows_rejected++;
        return;
    }
    if (row->nfields != p->nheader) {
        char msg[96];
        snprintf(msg, sizeof msg, "row has %zu field%s, header has %zu", row->nfields,
                 row->nfields == 1 ? "" : "s", p->nheader);
        row_issue(p, true, NULL, msg);
        p->rows_rejected++;
        return;
    }
    p->row_errors = 0;
    for (size_t c = 0; c < p->k->ncols; c++) {
        struct val *v = &p->v[c];
        memset(v, 0, offsetof(struct val, list));
        v->nlist = 0;
        if (p->colmap[c] < 0)
            continue;
        char *s = row->fields[p->colmap[c]];
        size_t len = row->lens[p->colmap[c]];
        trim_field(&s, &len);
        if (len) {
            v->s = s;
            v->len = len;
            s[len] = '\0'; /* the reader's buffer: ours until the next row */
        }
        check_value(p, &p->k->cols[c], v);
    }
    if (p->row_errors || p->k->map(p) != 0) {
        p->rows_rejected++;
        return;
    }
    p->rows_mapped++;
    chunk_cur(p)->rows++;
    p->batch_rows++;
    p->bundle_rows++;
    if (p->batch_rows >= (p->o->batch_rows ? p->o->batch_rows : SOCIALCARE_DEFAULT_BATCH))
        flush(p);
    else if (p->o->bundle_rows && p->bundle_rows >= p->o->bundle_rows)
        flush_bundle(p);
}

static void next_row(struct proc *p, const struct csv_row *row)
{
    one_row(p, row);
    /* without a Bundle nothing else would hand this chunk on */
    if (p->cur && !p->cur->bundle && p->cur->nissues >= CHUNK_MAX_ISSUES)
        hand(p, false);
}

/* After the last row: the last batch, then the issues of rows after it. */
static void read_end(struct proc *p)
{
    flush(p);
    if (p->cur)
        hand(p, false);
}

/* The rest of the file, on whichever thread reads it; returns the reader's
 * last result (0 at the end, or its error). */
static int read_rest(struct proc *p)
{
    struct csv_row row;
    int rrc;
    while ((rrc = csv_reader_next(p->r, &row)) == 1)
        next_row(p, &row);
    read_end(p);
    return rrc;
}

static void *read_thread(void *arg)
{
    struct proc *p = arg;
    p->rrc = read_rest(p);
    pipe_finish(p->q);
    return NULL;
}

/* The rest of the file on a second thread while this one delivers; returns
 * the reader's last result, or 1 when the thread could not be started
 * (nothing was done). */
static int read_pipelined(struct proc *p)
{
    struct pipe q = {.head = NULL};
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.can_put, NULL);
    pthread_cond_init(&q.can_take, NULL);
    p->q = &q;
    pthread_t th;
    int rrc = 1;
    if (pthread_create(&th, NULL, read_thread, p) != 0) {
        log_warn("csv", "cannot start the reading thread: processing on one thread");
        p->q = NULL;
    } else {
        struct chunk *c = NULL;
        while ((c = pipe_take(&q, c)) != NULL)
            deliver(p->out, c);
        pthread_join(th, NULL);
        chunks_free(q.spent, p->o->prep_free);
        p->q = NULL;
        rrc = p->rrc;
    }
    pthread_cond_destroy(&q.can_take);
    pthread_cond_destroy(&q.can_put);
    pthread_mutex_destroy(&q.mu);
    return rrc;
}

static void today_utc(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char tmp[32]; /* int fields: room for any value, then checked */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int opts_ok(const struct socialcare_opts *o)
{
    if (!o || !o->ods || !valid_ods(o->ods, strlen(o->ods)))
        return 0;
    if (o->prepare && !o->prep_free)
        return 0;
    if (o->today) {
        char d[11];
        if (strlen(o->today) != 10 || o->today[4] != '-' || parse_date(o->today, 10, d) != 0)
            return 0;
    }
    return 1;
}

static struct socialcare_report *report_new(const char *name, const struct socialcare_opts *o)
{
    struct socialcare_report *rep = xcalloc(1, sizeof *rep);
    rep->file = xstrdup(name ? base_name(name) : "");
    rep->org = xstrdup(o->ods);
    rep->feed = o->feed ? xstrdup(o->feed) : NULL;
    return rep;
}

/* Read and process everything from r; r is closed by the caller. */
static int run(struct csv_reader *r, const char *name, const struct socialcare_opts *o,
               socialcare_sink_fn sink, void *ctx, struct socialcare_report *rep)
{
    double t0 = now_ms();
    struct proc *p = xcalloc(1, sizeof *p);
    struct socialcare_batch *b = xcalloc(1, sizeof *b);
    atomic_init(&b->broken, 0);
    b->rep = rep;
    b->o = o;
    b->sink = sink;
    b->ctx = ctx;
    p->o = o;
    p->r = r;
    p->sink = sink;
    p->ctx = ctx;
    p->out = b;
    if (o->today)
        parse_date(o->today, 10, p->today);
    else
        today_utc(p->today);

    struct csv_row row;
    int rc = csv_reader_next(r, &row);
    enum socialcare_kind kind = o->kind ? o->kind : socialcare_kind_from_filename(name);
    rep->kind = kind;
    if (rc < 0) {
        file_error(rep, "cannot read the file: %s", weft_strerror(rc));
        rc = WEFT_EIO;
    } else if (rc == 0) {
        file_error(rep, "empty file: no header row");
        rc = WEFT_EPARSE;
    } else if (row.err && csv_reader_had_bom(r) == 2) {
        file_error(rep, "the file is UTF-16 text, not UTF-8: save the extract as \"CSV UTF-8\"");
        rc = WEFT_EPARSE;
    } else if (row.err) {
        file_error(rep, "header row (line %zu): %s", row.line, row.errmsg);
        rc = WEFT_EPARSE;
    } else {
        rc = header(p, rep, &row, kind);
    }
    if (rc == WEFT_OK) {
        /* the first pipeline_after lines on this thread: a small file stays here */
        int rrc = 1;
        size_t lines = 0;
        while (!(o->pipeline && sink && lines >= o->pipeline_after) &&
               (rrc = csv_reader_next(r, &row)) == 1) {
            next_row(p, &row);
            lines++;
        }
        if (rrc != 1)
            read_end(p);
        else if ((rrc = read_pipelined(p)) == 1)
            rrc = read_rest(p);
        rep->rows_read += p->rows_read;
        rep->rows_mapped += p->rows_mapped;
        rep->rows_rejected += p->rows_rejected;
        rep->blank_lines += p->blank_lines;
        if (rrc < 0) {
            file_error(rep, "read error after line %zu (rows before it were processed)", p->line);
            rc = WEFT_EIO;
        }
    }
    rep->blank_lines += csv_reader_blank_lines(r);
    log_info("csv",
             "extract processed kind=%s feed=%s status=%s rows=%zu mapped=%zu rejected=%zu "
             "loaded=%zu load_failed=%zu warnings=%zu bundles=%zu ms=%.1f",
             socialcare_kind_name(rep->kind), o->feed ? o->feed : "-",
             socialcare_report_status(rep), rep->rows_read, rep->rows_mapped, rep->rows_rejected,
             rep->rows_loaded, rep->rows_load_failed, rep->warnings_count, rep->bundles,
             now_ms() - t0);
    assert(!p->cur && !p->q);
    free(b->lines);
    free(b->failed_lines);
    free(b);
    free(p);
    return rc;
}

int socialcare_process_stream(FILE *fp, const char *name, const struct socialcare_opts *opts,
                              socialcare_sink_fn sink, void *ctx, struct socialcare_report **out)
{
    if (!fp || !out || !opts_ok(opts))
        return WEFT_EINVAL;
    struct csv_reader *r;
    int rc = csv_reader_open(&r, fp, &opts->csv);
    if (rc < 0)
        return rc;
    *out = report_new(name, opts);
    rc = run(r, name, opts, sink, ctx, *out);
    csv_reader_close(r);
    return rc;
}

int socialcare_process_mem(const void *data, size_t len, const char *name,
                           const struct socialcare_opts *opts, socialcare_sink_fn sink, void *ctx,
                           struct socialcare_report **out)
{
    if (!out || !opts_ok(opts))
        return WEFT_EINVAL;
    struct csv_reader *r;
    int rc = csv_reader_open_mem(&r, data, len, &opts->csv);
    if (rc < 0)
        return rc;
    *out = report_new(name, opts);
    rc = run(r, name, opts, sink, ctx, *out);
    csv_reader_close(r);
    return rc;
}

int socialcare_process_file(const char *path, const struct socialcare_opts *opts,
                            socialcare_sink_fn sink, void *ctx, struct socialcare_report **out)
{
    if (!path || !out || !opts_ok(opts))
        return WEFT_EINVAL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        *out = report_new(path, opts);
        (*out)->kind = opts->kind ? opts->kind : socialcare_kind_from_filename(path);
        file_error(*out, "cannot open the file: %s", strerror(e));
        return WEFT_EIO;
    }
    int rc = socialcare_process_stream(fp, path, opts, sink, ctx, out);
    fclose(fp);
    return rc;
}

/* ---- loading into the record --------------------------------------------- */

/* The sink runs on the calling thread; with socialcare_store_prepare as
 * opts.prepare, fhir_load_prepare() ran on the reading thread and only the
 * store half is left here. */
static bool store_broken(int rc)
{
    return rc == WEFT_EDB || rc == WEFT_EBUSY || rc == WEFT_EIO || rc == WEFT_ENOMEM ||
           rc == WEFT_EINTERNAL;
}

int socialcare_store_commit(void *arg)
{
    struct socialcare_store_sink *ss = arg;
    int rc = ss->broken;
    ss->broken = 0;
    if (ss->open) {
        assert(rc == 0);
        rc = store_commit(ss->store);
        if (rc != 0)
            store_rollback(ss->store);
        ss->open = false;
    }
    return rc;
}

int socialcare_store_sink(void *arg, json_t *bundle, struct socialcare_batch *batch)
{
    struct socialcare_store_sink *ss = arg;
    struct load_ctx lc = {.org = ss->org, .feed = ss->feed, .file = ss->file};
    if (ss->grouped) {
        /* the batch already failed: its transaction is gone */
        if (ss->broken)
            return ss->broken;
        if (!ss->open) {
            int brc = store_begin(ss->store);
            if (brc != 0) {
                ss->broken = brc;
                socialcare_batch_broken(batch);
                return brc;
            }
            ss->open = true;
        }
        lc.nested = true;
    }
    struct load_report local;
    struct load_report *lr = ss->load;
    if (!lr) {
        load_report_init(&local);
        lr = &local;
    }
    json_t *resp = NULL;
    struct load_prep *prep = socialcare_batch_prep(batch);
    int rc = prep ? fhir_load_prepared(ss->store, prep, &lc, lr, &resp)
                  : fhir_load_bundle(ss->store, bundle, &lc, lr, &resp);
    if (rc == WEFT_OK) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(resp, "entry"), i, e)
        {
            json_t *r = json_object_get(e, "response");
            const char *status = json_string_value(json_object_get(r, "status"));
            if (status && (status[0] == '4' || status[0] == '5')) {
                const char *why = json_string_value(json_object_get(
                    json_array_get(json_object_get(json_object_get(r, "outcome"), "issue"), 0),
                    "diagnostics"));
                socialcare_batch_fail(batch, i, why ? why : status);
            }
        }
    }
    json_decref(resp);
    if (lr == &local)
        load_report_free(&local);
    if (ss->grouped && store_broken(rc)) {
        /* the transaction may be half rolled back by SQLite: drop all of it so
         * that nothing of the batch is stored and every row of it fails */
        store_rollback(ss->store);
        ss->open = false;
        ss->broken = rc;
        socialcare_batch_broken(batch);
    }
    return rc;
}

void *socialcare_store_prepare(void *arg, json_t *bundle)
{
    const struct socialcare_store_sink *ss = arg;
    struct load_ctx lc = {.org = ss->org, .feed = ss->feed, .file = ss->file};
    return fhir_load_prepare(bundle, &lc);
}

void socialcare_store_prep_free(void *prep)
{
    fhir_load_prep_free(prep);
}
