/*
 * names.c - tables of UK-shaped names, streets and the towns of a Kent and
 * Medway-like region (see names.h).  The tables are small on purpose: the
 * generator's realism comes from combining them, and a short table keeps
 * identity matching honest (many people share names, as in a real region).
 */
#include <stdio.h>
#include <string.h>

#include "synth/names.h"

static const char *const male[] = {
    "Oliver",  "George",    "Harry",    "Jack",      "Jacob",    "Noah",     "Charlie",
    "Thomas",  "Oscar",     "William",  "James",     "Joshua",   "Alfie",    "Henry",
    "Leo",     "Archie",    "Ethan",    "Joseph",    "Freddie",  "Samuel",   "Alexander",
    "Logan",   "Daniel",    "Isaac",    "Max",       "Mohammed", "Benjamin", "Mason",
    "Lucas",   "Edward",    "Harrison", "Jake",      "Dylan",    "Riley",    "Finley",
    "Theo",    "Sebastian", "Adam",     "Matthew",   "Robert",   "David",    "John",
    "Michael", "Richard",   "Peter",    "Paul",      "Stephen",  "Andrew",   "Christopher",
    "Anthony", "Mark",      "Kevin",    "Gary",      "Brian",    "Kenneth",  "Ronald",
    "Dennis",  "Raymond",   "Terence",  "Frederick", "Albert",   "Arthur",   "Stanley",
    "Leonard", "Gurpreet",  "Rajesh",   "Tomasz",    "Piotr",    "Kwame",    "Chinedu"};
static const char *const female[] = {
    "Olivia",    "Amelia",    "Isla",      "Ava",       "Emily",    "Isabella", "Mia",
    "Poppy",     "Ella",      "Lily",      "Sophia",    "Grace",    "Evie",     "Jessica",
    "Charlotte", "Ruby",      "Sophie",    "Chloe",     "Freya",    "Florence", "Alice",
    "Daisy",     "Phoebe",    "Matilda",   "Elizabeth", "Margaret", "Susan",    "Patricia",
    "Jennifer",  "Catherine", "Deborah",   "Rebecca",   "Victoria", "Samantha", "Rachel",
    "Sarah",     "Emma",      "Hannah",    "Helen",     "Julie",    "Karen",    "Linda",
    "Barbara",   "Dorothy",   "Joan",      "Doreen",    "Sheila",   "Irene",    "Jean",
    "Maureen",   "Valerie",   "Christine", "Pauline",   "Janet",    "Priya",    "Harpreet",
    "Aisha",     "Fatima",    "Agnieszka", "Zofia",     "Abimbola", "Ngozi"};
static const char *const family[] = {
    "Smith",     "Jones",     "Williams", "Taylor",     "Brown",      "Davies",     "Evans",
    "Wilson",    "Thomas",    "Johnson",  "Roberts",    "Robinson",   "Thompson",   "Wright",
    "Walker",    "White",     "Edwards",  "Hughes",     "Green",      "Hall",       "Lewis",
    "Harris",    "Clarke",    "Patel",    "Jackson",    "Wood",       "Turner",     "Martin",
    "Cooper",    "Hill",      "Ward",     "Morris",     "Moore",      "Clark",      "Lee",
    "King",      "Baker",     "Harrison", "Morgan",     "Allen",      "James",      "Scott",
    "Phillips",  "Watson",    "Davis",    "Parker",     "Price",      "Bennett",    "Young",
    "Griffiths", "Mitchell",  "Kelly",    "Cook",       "Carter",     "Richardson", "Bailey",
    "Collins",   "Bell",      "Shaw",     "Murphy",     "Miller",     "Cox",        "Richards",
    "Khan",      "Marshall",  "Anderson", "Simpson",    "Ellis",      "Adams",      "Singh",
    "Begum",     "Wilkinson", "Foster",   "Chapman",    "Powell",     "Webb",       "Rogers",
    "Gray",      "Mason",     "Ali",      "Hunt",       "Hussain",    "Campbell",   "Matthews",
    "Owen",      "Palmer",    "Holmes",   "Mills",      "Barnes",     "Knight",     "Lloyd",
    "Butler",    "Russell",   "Barker",   "Fisher",     "Stevens",    "Jenkins",    "Murray",
    "Dixon",     "Harvey",    "O'Brien",  "Fitzgerald", "Kowalski",   "Nowak",      "Okafor",
    "Mensah",    "Ahmed",     "Sharma",   "Gill",       "Pennington", "Ashdown",    "Fairbrass",
    "Quested",   "Hukins",    "Kemsley",  "Mersh"};
static const char *const streets[] = {
    "High Street",         "Station Road",       "Church Lane",    "London Road",
    "Victoria Road",       "Green Lane",         "Manor Road",     "Park Road",
    "Queens Road",         "Kings Road",         "The Street",     "Mill Lane",
    "School Lane",         "New Road",           "Grove Road",     "Canterbury Road",
    "Dover Road",          "Maidstone Road",     "Tonbridge Road", "Ashford Road",
    "Chatham Hill",        "Watling Street",     "Hythe Road",     "Sandgate Road",
    "Marine Parade",       "Sea View Road",      "Orchard Close",  "Hop Garden Way",
    "Oast Close",          "Cherry Tree Avenue", "Priory Road",    "Albion Place",
    "Castle Street",       "Bower Mount Road",   "Tufton Street",  "Mount Pleasant",
    "Beech Avenue",        "Willow Way",         "Medway Street",  "Pier Road",
    "Northdown Road",      "Hawkhurst Road",     "Malling Road",   "Pilgrims Way",
    "Downs View",          "Weald Close",        "Saxon Way",      "Roman Road",
    "Cinque Ports Avenue", "Cliftonville Avenue"};

/* Weights roughly follow the towns' populations. */
const struct synth_town synth_towns[] = {
    {"Maidstone", {"ME14", "ME15", "ME16", NULL}, 110, 0, 0},
    {"Chatham", {"ME4", "ME5", NULL, NULL}, 75, 1, 1},
    {"Rochester", {"ME1", "ME2", NULL, NULL}, 60, 1, 1},
    {"Gillingham", {"ME7", "ME8", NULL, NULL}, 80, 1, 1},
    {"Sittingbourne", {"ME10", NULL, NULL, NULL}, 50, 1, 0},
    {"Sheerness", {"ME12", NULL, NULL, NULL}, 25, 1, 0},
    {"Faversham", {"ME13", NULL, NULL, NULL}, 20, 2, 0},
    {"Canterbury", {"CT1", "CT2", NULL, NULL}, 55, 2, 0},
    {"Whitstable", {"CT5", NULL, NULL, NULL}, 32, 2, 0},
    {"Herne Bay", {"CT6", NULL, NULL, NULL}, 38, 2, 0},
    {"Margate", {"CT9", NULL, NULL, NULL}, 62, 2, 0},
    {"Broadstairs", {"CT10", NULL, NULL, NULL}, 25, 2, 0},
    {"Ramsgate", {"CT11", "CT12", NULL, NULL}, 40, 2, 0},
    {"Deal", {"CT14", NULL, NULL, NULL}, 30, 2, 0},
    {"Dover", {"CT16", "CT17", NULL, NULL}, 32, 2, 0},
    {"Folkestone", {"CT19", "CT20", NULL, NULL}, 46, 2, 0},
    {"Hythe", {"CT21", NULL, NULL, NULL}, 15, 2, 0},
    {"Ashford", {"TN23", "TN24", "TN25", NULL}, 75, 2, 0},
    {"Tenterden", {"TN30", NULL, NULL, NULL}, 8, 2, 0},
    {"New Romney", {"TN28", NULL, NULL, NULL}, 7, 2, 0},
    {"Tonbridge", {"TN9", "TN10", "TN11", NULL}, 41, 0, 0},
    {"Royal Tunbridge Wells", {"TN1", "TN2", "TN4", NULL}, 58, 0, 0},
    {"Sevenoaks", {"TN13", "TN14", NULL, NULL}, 30, 0, 0},
    {"Edenbridge", {"TN8", NULL, NULL, NULL}, 8, 0, 0},
    {"Cranbrook", {"TN17", NULL, NULL, NULL}, 7, 0, 0},
    {"Dartford", {"DA1", "DA2", NULL, NULL}, 55, 3, 0},
    {"Gravesend", {"DA11", "DA12", NULL, NULL}, 56, 3, 0},
    {"Swanley", {"BR8", NULL, NULL, NULL}, 17, 3, 0},
};
const size_t synth_ntowns = sizeof synth_towns / sizeof synth_towns[0];

static const struct {
    const char *given, *nick;
} nicks[] = {
    {"William", "Bill"},     {"Robert", "Bob"},        {"Richard", "Dick"},   {"Margaret", "Peggy"},
    {"Elizabeth", "Liz"},    {"Catherine", "Kate"},    {"Thomas", "Tom"},     {"James", "Jim"},
    {"Anthony", "Tony"},     {"Christopher", "Chris"}, {"Alexander", "Alex"}, {"Samuel", "Sam"},
    {"Benjamin", "Ben"},     {"Joseph", "Joe"},        {"Daniel", "Dan"},     {"Michael", "Mike"},
    {"Frederick", "Fred"},   {"Albert", "Bert"},       {"Leonard", "Len"},    {"Kenneth", "Ken"},
    {"Ronald", "Ron"},       {"Terence", "Terry"},     {"Edward", "Ted"},     {"Matthew", "Matt"},
    {"Stephen", "Steve"},    {"Andrew", "Andy"},       {"Peter", "Pete"},     {"Patricia", "Pat"},
    {"Jennifer", "Jenny"},   {"Deborah", "Debbie"},    {"Rebecca", "Becky"},  {"Victoria", "Vicky"},
    {"Samantha", "Sam"},     {"Susan", "Sue"},         {"Dorothy", "Dot"},    {"Valerie", "Val"},
    {"Christine", "Chris"},  {"Barbara", "Babs"},      {"Jessica", "Jess"},   {"Isabella", "Bella"},
    {"Charlotte", "Lottie"}, {"Florence", "Flo"},      {"Matilda", "Tilly"},  {"Oliver", "Ollie"},
    {"Harry", "Haz"},        {"Archie", "Arch"},       {"Stanley", "Stan"},   {"Raymond", "Ray"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *synth_name_given(struct synth_rng *r, int sex)
{
    if (sex == 1)
        return male[synth_rng_below(r, NELEM(male))];
    return female[synth_rng_below(r, NELEM(female))];
}

const char *synth_name_family(struct synth_rng *r)
{
    /* Skew towards the common names (a real surname distribution is very
     * heavy at the top): half the draws come from the first 30. */
    if (synth_rng_chance(r, 0.5))
        return family[synth_rng_below(r, 30)];
    return family[synth_rng_below(r, NELEM(family))];
}

const char *synth_name_street(struct synth_rng *r)
{
    return streets[synth_rng_below(r, NELEM(streets))];
}

const char *synth_name_nickname(const char *given)
{
    for (size_t i = 0; i < NELEM(nicks); i++)
        if (strcmp(nicks[i].given, given) == 0)
            return nicks[i].nick;
    return NULL;
}

int synth_name_town(struct synth_rng *r)
{
    unsigned w[sizeof synth_towns / sizeof synth_towns[0]];
    for (size_t i = 0; i < synth_ntowns; i++)
        w[i] = synth_towns[i].weight;
    return (int)synth_rng_weighted(r, w, synth_ntowns);
}

void synth_name_postcode(struct synth_rng *r, int t, char *out, size_t outlen)
{
    /* Inward code: sector digit then two letters from the set Royal Mail
     * uses (no C I K M O V). */
    static const char letters[] = "ABDEFGHJLNPQRSTUWXYZ";
    const struct synth_town *town = &synth_towns[t];
    size_t nd = 0;
    while (nd < 4 && town->districts[nd])
        nd++;
    const char *d = town->districts[synth_rng_below(r, (uint32_t)nd)];
    char in[4];
    in[0] = (char)('0' + synth_rng_below(r, 10));
    in[1] = letters[synth_rng_below(r, sizeof letters - 1)];
    in[2] = letters[synth_rng_below(r, sizeof letters - 1)];
    in[3] = 0;
    snprintf(out, outlen, "%s %s", d, in);
}

void synth_name_typo(struct synth_rng *r, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    if (n + 2 > outlen || n < 2) {
        snprintf(out, outlen, "%s", name);
        return;
    }
    memcpy(out, name, n + 1);
    size_t i = 1 + synth_rng_below(r, (uint32_t)(n - 1)); /* keep the initial */
    switch (synth_rng_below(r, 4)) {
    case 0: /* swap with the previous letter, or double it when equal */
        if (out[i] != out[i - 1]) {
            char c = out[i];
            out[i] = out[i - 1];
            out[i - 1] = c;
            if (i == 1 && out[0] >= 'a' && out[0] <= 'z') {
                out[0] = (char)(out[0] - 32);
                out[1] = (char)(out[1] >= 'A' && out[1] <= 'Z' ? out[1] + 32 : out[1]);
            }
            break;
        }
        /* fall through */
    case 1: /* double a letter */
        memmove(out + i + 1, out + i, n - i + 1);
        out[i] = out[i + 1];
        break;
    case 2: /* drop a letter */
        memmove(out + i, out + i + 1, n - i);
        break;
    default: { /* replace with a neighbouring vowel or consonant */
        char c = out[i];
        char nc = (c == 'e') ? 'a' : (c == 'a') ? 'e' : (c == 'i') ? 'y' : (c == 'y') ? 'i' : 'e';
        if (nc == c)
            nc = 'o';
        out[i] = nc;
        break;
    }
    }
    if (strcmp(out, name) == 0) { /* e.g. replaced with the same letter */
        memmove(out + i + 1, out + i, strlen(out + i) + 1);
        out[i] = out[i + 1] ? out[i + 1] : 'e';
    }
}
