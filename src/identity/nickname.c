/*
 * nickname.c - the UK nickname table (see nickname.h for its source).
 *
 * One string per group: the formal name first, then its diminutives,
 * separated by spaces.  Looked up by scanning: about 150 groups, compared
 * only when two given names differ and neither is an initial, so a few
 * microseconds per candidate pair at most.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "identity/nickname.h"

static const char *const groups[] = {
    "ABIGAIL ABBY ABBIE GAIL",
    "ALBERT BERT BERTIE AL",
    "ALEXANDER ALEX ALEC SANDY XANDER AL",
    "ALEXANDRA ALEX SANDRA LEXI ALEXA SANDY",
    "ALFRED ALF ALFIE FRED",
    "ALISON ALI ALLY",
    "AMANDA MANDY",
    "ANDREW ANDY DREW",
    "ANGELA ANGIE",
    "ANN ANNIE NAN NANCY",
    "ANNE ANNIE NAN NANCY",
    "ANTHONY TONY ANT",
    "ARCHIBALD ARCHIE ARCH",
    "ARCHIE ARCH",
    "ARTHUR ART ARTIE",
    "BARBARA BABS BARB BARBIE",
    "BARRY BAZ",
    "BENJAMIN BEN BENNY BENJI",
    "BERNARD BERNIE BARNEY",
    "BEATRICE BEA BEATTIE TRIXIE",
    "BRADLEY BRAD",
    "CALLUM CAL",
    "CAMERON CAM",
    "CAROLINE CARRIE CARO LINE",
    "CATHERINE CATH CATHY KATE KATIE KAT KITTY",
    "CHARLES CHARLIE CHAS CHUCK",
    "CHARLOTTE CHARLIE LOTTIE LOTTY",
    "CHRISTINA CHRIS TINA CHRISSIE",
    "CHRISTINE CHRIS CHRISSIE TINA",
    "CHRISTOPHER CHRIS KIT TOPHER",
    "CLIFFORD CLIFF",
    "CYNTHIA CINDY",
    "DANIEL DAN DANNY",
    "DAVID DAVE DAVY",
    "DEBORAH DEBBIE DEB DEBS",
    "DENNIS DEN",
    "DOMINIC DOM",
    "DONALD DON DONNY",
    "DOROTHY DOT DOTTIE DOLLY DOT",
    "DOUGLAS DOUG",
    "EDWARD ED EDDIE TED TEDDY NED",
    "EDMUND ED EDDIE TED NED",
    "ELEANOR ELLIE NELL NELLIE ELLA",
    "ELIZABETH LIZ LIZZIE BETH BETTY BETSY ELIZA LIBBY BESS BESSIE LISA ELSIE",
    "ELLEN ELLIE NELL",
    "EMILY EM EMMIE MILLIE",
    "ERNEST ERNIE",
    "EUGENE GENE",
    "FLORENCE FLO FLOSS FLOSSIE",
    "FRANCES FRAN FRANNIE FANNY",
    "FRANCIS FRANK FRANKIE",
    "FREDERICK FRED FREDDIE FREDDY",
    "GABRIEL GABE",
    "GABRIELLE GABBY GABI",
    "GEOFFREY GEOFF",
    "GEORGE GEORDIE",
    "GEORGINA GEORGIE GINA",
    "GERALD GERRY JERRY",
    "GERALDINE GERRY",
    "GILBERT GIL BERT",
    "GREGORY GREG",
    "GWENDOLINE GWEN",
    "HAROLD HARRY HAL",
    "HARRY HAZ HAL",
    "HELEN NELL",
    "HENRY HARRY HAL HANK",
    "HERBERT HERB BERT",
    "ISABEL IZZY BELLA ISSY",
    "ISABELLA BELLA IZZY ISSY",
    "ISOBEL IZZY BELLA ISSY",
    "JACQUELINE JACKIE JACQUI",
    "JAMES JIM JIMMY JAMIE JIMMIE",
    "JANET JAN",
    "JENNIFER JEN JENNY JENNI",
    "JESSICA JESS JESSIE",
    "JOANNA JO",
    "JOANNE JO",
    "JOHN JACK JOHNNY JOHNNIE",
    "JONATHAN JON JONNY",
    "JOSEPH JOE JOEY",
    "JOSEPHINE JO JOSIE",
    "JOSHUA JOSH",
    "JUDITH JUDY JUDE",
    "KATHERINE KATH KATHY KATE KATIE KAT KITTY",
    "KATHLEEN KATH KATHY KATE",
    "KATHRYN KATH KATHY KATE KATIE",
    "KENNETH KEN KENNY",
    "KIMBERLEY KIM",
    "LAWRENCE LAURIE LARRY",
    "LAURENCE LAURIE LARRY",
    "LEONARD LEN LENNY LEO",
    "LESLIE LES",
    "LEWIS LOU LEW",
    "LOUISE LOU LOUIE",
    "MARGARET MAGGIE PEGGY PEG MEG MARGE MADGE MAISIE GRETA RITA DAISY",
    "MARJORIE MARGE MARJ",
    "MARY MOLLY POLLY MAY MAE",
    "MATILDA TILLY TILLIE MATTIE",
    "MATTHEW MATT MATTY",
    "MAXIMILIAN MAX",
    "MAXWELL MAX",
    "MICHAEL MIKE MICK MICKY MIKEY",
    "MILDRED MILLIE",
    "NATHAN NATE NAT",
    "NATHANIEL NATE NAT NATHAN",
    "NATALIE NAT",
    "NICHOLAS NICK NICKY",
    "NICOLA NICKY NIC",
    "NORMAN NORM",
    "OLIVER OLLIE OLLY",
    "OLIVIA LIV LIVVY OLLIE",
    "PAMELA PAM",
    "PATRICIA PAT PATSY TRISH TRICIA",
    "PATRICK PAT PADDY",
    "PENELOPE PENNY",
    "PETER PETE",
    "PHILIP PHIL PIP",
    "PHILLIP PHIL PIP",
    "RAYMOND RAY",
    "REBECCA BECKY BECCA BEX",
    "REGINALD REG REGGIE",
    "RICHARD RICH RICHIE RICK RICKY DICK DICKIE",
    "ROBERT ROB ROBBIE BOB BOBBY BERT",
    "RODNEY ROD",
    "RONALD RON RONNIE",
    "ROSEMARY ROSE ROSIE",
    "SAMANTHA SAM SAMMY",
    "SAMUEL SAM SAMMY",
    "SANDRA SANDY",
    "SARAH SALLY SADIE",
    "SEBASTIAN SEB",
    "SIMON SI",
    "SOPHIA SOPHIE",
    "STANLEY STAN",
    "STEPHEN STEVE STEVIE",
    "STEVEN STEVE STEVIE",
    "STUART STU",
    "SUSAN SUE SUSIE SUZY",
    "SUZANNE SUE SUZY",
    "TERENCE TERRY TEL",
    "THEODORE THEO TED TEDDY",
    "THOMAS TOM TOMMY",
    "TIMOTHY TIM TIMMY",
    "VALERIE VAL",
    "VICTORIA VICKY VICKI TORI",
    "VINCENT VINCE VINNIE",
    "WALTER WALT WALLY",
    "WILLIAM BILL BILLY WILL WILLIE LIAM",
    "WINIFRED WINNIE",
    "ZACHARY ZACH ZAK",
};

#define NGROUPS (int)(sizeof groups / sizeof groups[0])

int nickname_groups(void)
{
    return NGROUPS;
}

/* The table indexed once: every word with the groups it is in, sorted by
 * word, so a comparison is two binary searches, not a scan of the table
 * (the scan was the largest single cost of a relink). */
#define NICK_MAXG 6
struct nick_word {
    char w[16];
    short g[NICK_MAXG];
    int ng;
};
static struct nick_word *words;
static int nwords;
static pthread_once_t words_once = PTHREAD_ONCE_INIT;

static int by_word(const void *x, const void *y)
{
    return strcmp(((const struct nick_word *)x)->w, ((const struct nick_word *)y)->w);
}

static void words_free(void)
{
    free(words);
}

static void words_build(void)
{
    int cap = 0;
    for (int i = 0; i < NGROUPS; i++)
        for (const char *p = groups[i]; *p; p++)
            cap += *p == ' ';
    cap += NGROUPS;
    words = xcalloc((size_t)cap, sizeof *words);
    for (int i = 0; i < NGROUPS; i++) {
        for (const char *p = groups[i]; *p;) {
            size_t l = strcspn(p, " ");
            struct nick_word key = {{0}, {0}, 0};
            snprintf(key.w, sizeof key.w, "%.*s", (int)l, p);
            int k = 0;
            while (k < nwords && strcmp(words[k].w, key.w) != 0)
                k++;
            if (k == nwords)
                words[nwords++] = key;
            if (words[k].ng < NICK_MAXG)
                words[k].g[words[k].ng++] = (short)i;
            p += l;
            while (*p == ' ')
                p++;
        }
    }
    qsort(words, (size_t)nwords, sizeof *words, by_word);
    atexit(words_free);
}

static const struct nick_word *word_find(const char *w)
{
    struct nick_word key;
    if (strlen(w) >= sizeof key.w)
        return NULL;
    snprintf(key.w, sizeof key.w, "%s", w);
    return bsearch(&key, words, (size_t)nwords, sizeof *words, by_word);
}

bool nickname_same(const char *a, const char *b)
{
    if (!a[0] || !b[0])
        return false;
    pthread_once(&words_once, words_build);
    const struct nick_word *x = word_find(a);
    if (!x)
        return false;
    const struct nick_word *y = word_find(b);
    if (!y)
        return false;
    for (int i = 0; i < x->ng; i++)
        for (int j = 0; j < y->ng; j++)
            if (x->g[i] == y->g[j])
                return true;
    return false;
}
