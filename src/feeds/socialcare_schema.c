/*
 * socialcare_schema.c - the social care extracts' schema in executable form
 * (docs/feeds/csv-social-care.md): the code list of each coded column, the
 * table of columns of each extract kind, and the kinds with their names.
 * Read-only data, shared by every file processed; all lookups are linear
 * scans of tables of a few dozen entries.
 */
#include "feeds/socialcare_int.h"

#include <string.h>
#include <strings.h>

/* ---- code lists ---------------------------------------------------------- */

static const struct code sex_codes[] = {
    {"male", "Male", NULL, "m"},
    {"female", "Female", NULL, "f"},
    {"other", "Other", NULL, "o|i|indeterminate"},
    {"unknown", "Unknown", NULL, "u|not-known|not-specified"},
    {0},
};

const struct code sc_nhs_ver_codes[] = {
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
const struct code sc_relationships[] = {
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

static const struct coldef people_cols[P_N] = {
    [P_ID] = {"person_id", 'R', F_KEY, NULL, 0},
    [P_NHS] = {"nhs_number", 'H', F_NHS, NULL, 0},
    [P_NHS_VER] = {"nhs_number_verified", 'O', F_CODE, sc_nhs_ver_codes, 0},
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

/* ---- kinds and names ----------------------------------------------------- */

static const struct kinddef kinds[] = {
    {SOCIALCARE_PEOPLE, "people", "person_id", "person", people_cols, P_N, sc_map_people},
    {SOCIALCARE_CONTACTS, "contacts", "contact_id", "contact", contacts_cols, C_N, sc_map_contacts},
    {SOCIALCARE_ASSESSMENTS, "assessments", "assessment_id", "assessment", assessments_cols, A_N,
     sc_map_assessments},
    {SOCIALCARE_SERVICES, "services", "service_id", "service", services_cols, S_N, sc_map_services},
    {SOCIALCARE_SAFEGUARDING, "safeguarding", "concern_id", "safeguarding-concern",
     safeguarding_cols, G_N, sc_map_safeguarding},
    {SOCIALCARE_END_OF_LIFE, "end_of_life", "record_id", "end-of-life-record", eol_cols, E_N,
     sc_map_end_of_life},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

const struct kinddef *sc_kind_def(enum socialcare_kind k)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i].kind == k)
            return &kinds[i];
    return NULL;
}

const char *socialcare_kind_name(enum socialcare_kind kind)
{
    const struct kinddef *k = sc_kind_def(kind);
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

const struct kinddef *sc_kind_from_header(char names[][128], size_t n)
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
    return has_person && has_family ? sc_kind_def(SOCIALCARE_PEOPLE) : NULL;
}
