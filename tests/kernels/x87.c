/* x87: every x87 instruction form of a Pentium Pro over a matrix of operands
   (signed zeros, denormals, infinities, quiet and signaling NaNs, an unnormal, the largest and smallest
   finite values, values on rounding boundaries at 24, 53 and 64 bits) under every rounding control and
   every precision control, all exceptions masked.  Per form it prints one line: an FNV-1a hash of every
   case's status word (TOP, condition codes, exception flags), tag word, the non-empty registers, the
   stored result for stores and EFLAGS for FCOMI, and the number of cases.  The golden is QEMU's.
   Where QEMU 7.2 departs from the Intel SDM the kernel does not look: the status bits mix_state and
   the forms' masks leave out; FRNDINT, FPREM and FPREM1 run only at 64-bit precision because QEMU
   applies the precision control to them (the SDM: only FADD, FSUB, FMUL, FDIV and FSQRT), and so do
   the forms with a double or integer memory operand, which QEMU rounds to the precision control as it
   converts them (the SDM: exactly); FSCALE leaves out the cases where both operands are NaNs, where
   QEMU returns ST(1)'s rather than following the SDM's table 4-7; FPREM1's quotient bits (C0 C3 C1),
   which QEMU leaves clear, are not hashed.  F2XM1, FYL2X, FYL2XP1 and FPATAN also take the operands in
   their ranges (extras below); FPATAN leaves out the three pairs in fpatan_misrounded, which QEMU 7.2
   rounds to the wrong neighbour in round-to-nearest (MiniHv gives the correctly rounded result; the
   unit tests check those).  Stack overflow and underflow are not exercised: QEMU 7.2 does not detect
   them (the unit tests check MiniHv's). */
#include "kern.h"

struct x80 {
    uint64_t m;
    uint16_t se;
} __attribute__((packed));

#define X(se, m) { m##ull, se }
static const struct x80 values[] = {
    X(0x0000, 0x0000000000000000), X(0x8000, 0x0000000000000000),    /* +0, -0 */
    X(0x3FFF, 0x8000000000000000), X(0xBFFF, 0xC000000000000000),    /* 1, -1.5 */
    X(0x4000, 0xC000000000000000), X(0x4000, 0xC90FDAA22168C235),    /* 3, pi */
    X(0x3FFF, 0x8000000000000001), X(0x3FFF, 0x8000008000000000),    /* 1 + 2^-63, 1 + 2^-24 */
    X(0xBFFF, 0x8000000000000400), X(0x3FFE, 0xFFFFFFFFFFFFFFFF),    /* -(1 + 2^-53), 1 - 2^-65 */
    X(0x7FFE, 0xFFFFFFFFFFFFFFFF), X(0x0001, 0x8000000000000000),    /* largest, smallest normal */
    X(0x0000, 0x0000000000000001), X(0x8000, 0x4000000000000000),    /* denormals */
    X(0x7FFF, 0x8000000000000000), X(0xFFFF, 0x8000000000000000),    /* +inf, -inf */
    X(0x7FFF, 0xC000000000000001), X(0xFFFF, 0xA000000000000000),    /* QNaN, SNaN */
    X(0x403E, 0x8000000000000000), X(0xC01D, 0xFFFFFFFF00000000),    /* 2^63, -(2^31 - 1/2) */
    X(0x4000, 0x4000000000000000), X(0x3C00, 0xAAAAAAAAAAAAAAAB),    /* unnormal, a small odd value */
};
#define NVALUES (sizeof values / sizeof values[0])

/* More operands for F2XM1 (|x| <= 1), FYL2XP1 (1 + x within [sqrt(1/2), sqrt(2)]) and the others. */
static const struct x80 extras[] = {
    X(0x3FFE, 0x8000000000000000), X(0xBFFE, 0x8000000000000000),    /* 1/2, -1/2 */
    X(0x3FFD, 0x95F619980C4336F7), X(0xBFFD, 0x95F619980C4336F7),    /* +-(1 - sqrt(1/2)) */
    X(0x3FFD, 0xD413CCCFE7799211), X(0x3FFE, 0xB504F333F9DE6484),    /* sqrt(2) - 1, sqrt(1/2) */
    X(0x3FBF, 0x8000000000000000), X(0xBFFE, 0xFFFFFFFFFFFFFFFF),    /* 2^-64, -(1 - 2^-64) */
    X(0x3FE0, 0xC90FDAA22168C235), X(0xBFF0, 0xAAAAAAAAAAAAAAAB),    /* pi * 2^-32, -(2/3) * 2^-15 */
};
#define NEXTRAS (sizeof extras / sizeof extras[0])

/* FPATAN's (ST(0), ST(1)) pairs whose exact result lies within a hair of halfway between two extended
   values, where QEMU 7.2's result is the farther one: atan2(+-(1 - 2^-64), 3) is 0.5002 ulp above
   +-3ffd:a4bc7d1934f70923, and atan2(2^-64, 1 - 2^-64) just over half an ulp above 3fbf:8000000000000000. */
static const struct x80 fpatan_misrounded[][2] = {
    { X(0x4000, 0xC000000000000000), X(0x3FFE, 0xFFFFFFFFFFFFFFFF) },
    { X(0x4000, 0xC000000000000000), X(0xBFFE, 0xFFFFFFFFFFFFFFFF) },
    { X(0x3FFE, 0xFFFFFFFFFFFFFFFF), X(0x3FBF, 0x8000000000000000) },
};

static const struct x80 *operand(unsigned k)
{
    return k < NVALUES ? &values[k] : &extras[k - NVALUES];
}

/* Memory operands: single, double, 16/32/64-bit integers and packed BCD, edge values of each. */
static const uint32_t f32s[] = { 0, 0x80000000u, 0x3F800000, 0xBFC00000u, 0x7F7FFFFF, 0x00800000, 0x00000001,
    0x807FFFFFu, 0x7F800000, 0xFF800000u, 0x7FC00001, 0x7F800001, 0x4B000001, 0x3EAAAAAB };
static const uint64_t f64s[] = { 0, 0x8000000000000000ull, 0x3FF0000000000000ull, 0xC00C000000000000ull,
    0x7FEFFFFFFFFFFFFFull, 0x0010000000000000ull, 0x0000000000000001ull, 0x800FFFFFFFFFFFFFull,
    0x7FF0000000000000ull, 0xFFF0000000000000ull, 0x7FF8000000000001ull, 0x7FF0000000000001ull,
    0x4330000000000001ull, 0x3FD5555555555555ull };
static const uint64_t ints[] = { 0, 1, 0xFFFFFFFFFFFFFFFFull, 0x7FFF, 0xFFFFFFFFFFFF8000ull, 0x7FFFFFFF,
    0xFFFFFFFF80000000ull, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, 12345, 0xFFFFFFFFFFFFFFF9ull,
    0x0020000000000001ull };
#define COUNT(a) (sizeof a / sizeof a[0])

/* The operands and results the forms' instructions name by symbol. */
struct x80 xa, xb, xm80;
uint16_t xcw, xm16;
uint32_t xm32, xflags;
uint64_t xm64;
uint8_t xbcd[10];
uint8_t xsave[108];

/* Status word bits a form's hash leaves out (besides DE, see below): the condition codes the SDM leaves
   undefined after it, and C1 where it reports rounding up. */
#define CC_UNDEF 0x4500u   /* C3 C2 C0 */
#define C1 0x200u
#define ARITH (CC_UNDEF | C1)
/* FSIN, FCOS, FSINCOS, FPTAN: C2 (out of range) and the results are compared; MiniHv follows QEMU 7.2's
   host-double computation (cpu/Fpu/Cpu.FpuTrigonometry.cs) and, like it, reports no exception flags. */
#define TRIG (0x4100u | C1 | 0x3Fu)

static uint32_t hash, cases;

/* With "trace=FORM" on the command line, that form prints every case instead of only its hash
   (for finding which case differs from the golden). */
static const char *trace;
static int tracing;

static void mix_byte(uint8_t b)
{
    hash ^= b;
    hash *= 16777619u;
}

static void mix(const void *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        mix_byte(((const uint8_t *)p)[i]);
}

/* After a case: the status and tag words of the FNSAVE image, and every non-empty register.  DE is
   left out everywhere: QEMU 7.2 does not raise it for denormal operands of arithmetic (the unit tests
   check MiniHv's DE against the SDM); C1 only counts as a stack-fault indicator when SF is set. */
static void mix_state(uint16_t ignore)
{
    uint16_t sw = *(uint16_t *)(xsave + 4), tw = *(uint16_t *)(xsave + 8);
    if (sw & 0x40)
        ignore &= ~C1;
    sw &= ~(ignore | 0x02);
    unsigned top = (sw >> 11) & 7;
    mix(&sw, 2);
    mix(&tw, 2);
    for (unsigned st = 0; st < 8; st++)
        if (((tw >> (((top + st) & 7) * 2)) & 3) != 3)
            mix(xsave + 28 + st * 10, 10);
    cases++;
}

/* Every form starts from FNINIT with the case's control word, ST(1) = b and ST(0) = a. */
#define PROLOGUE "fninit\n\tfldcw xcw\n\tfldt xb\n\tfldt xa\n\t"
#define EPILOGUE "\n\tfnsave xsave"
#define FORM(name, insn) static void name(void) { asm volatile(PROLOGUE insn EPILOGUE ::: "memory", "cc"); }
#define FORM_FLAGS(name, insn) static void name(void) \
    { asm volatile(PROLOGUE "xorl %%eax, %%eax\n\tpushl %%eax\n\tpopfl\n\t" insn "\n\tpushfl\n\tpopl xflags" EPILOGUE ::: "memory", "cc", "eax"); }
#define FORM_LOAD(name, insn) static void name(void) { asm volatile("fninit\n\tfldcw xcw\n\tfldt xb\n\t" insn EPILOGUE ::: "memory"); }

FORM(fadd_st, "fadd %%st(1), %%st")        FORM(fsub_st, "fsub %%st(1), %%st")
FORM(fsubr_st, "fsubr %%st(1), %%st")      FORM(fmul_st, "fmul %%st(1), %%st")
FORM(fdiv_st, "fdiv %%st(1), %%st")        FORM(fdivr_st, "fdivr %%st(1), %%st")
FORM(fadd_sti, "fadd %%st, %%st(1)")       FORM(fsubp_sti, "fsubrp %%st, %%st(1)")
FORM(fdivp_sti, "fdivrp %%st, %%st(1)")    FORM(fmulp_sti, "fmulp %%st, %%st(1)")
FORM(fscale_, "fscale")                  FORM(fprem_, "fprem")
FORM(fprem1_, "fprem1")                  FORM(fsqrt_, "fsqrt")
FORM(frndint_, "frndint")                FORM(fxtract_, "fxtract")
FORM(fchs_, "fchs")                      FORM(fabs_, "fabs")
FORM(fsin_, "fsin")                      FORM(fcos_, "fcos")
FORM(fsincos_, "fsincos")                FORM(fptan_, "fptan")
FORM(f2xm1_, "f2xm1")                    FORM(fyl2x_, "fyl2x")
FORM(fyl2xp1_, "fyl2xp1")                FORM(fpatan_, "fpatan")
FORM(fxam_, "fxam")                      FORM(ftst_, "ftst")
FORM(fcom_, "fcom %%st(1)")               FORM(fcomp_, "fcomp %%st(1)")
FORM(fcompp_, "fcompp")                  FORM(fucom_, "fucom %%st(1)")
FORM(fucompp_, "fucompp")                FORM(fxch_, "fxch %%st(1)")
FORM(fst_sti, "fst %%st(1)")              FORM(fstp_sti, "fstp %%st(1)")
FORM(ffree_, "ffree %%st(1)")             FORM(fincstp_, "fincstp")
FORM(fdecstp_, "fdecstp\n\tfdecstp")     FORM(fld_sti, "fld %%st(1)")
FORM_FLAGS(fcomi_, "fcomi %%st(1), %%st")  FORM_FLAGS(fucomip_, "fucomip %%st(1), %%st")
FORM_FLAGS(fcmovb_, "stc\n\tfcmovb %%st(1), %%st")  FORM_FLAGS(fcmovnbe_, "fcmovnbe %%st(1), %%st")
FORM(fadd_m32, "fadds xm32")             FORM(fsub_m64, "fsubl xm64")
FORM(fmul_m32, "fmuls xm32")             FORM(fdivr_m64, "fdivrl xm64")
FORM(fcomp_m64, "fcompl xm64")           FORM(fucom_m32, "fcoms xm32")
FORM(fiadd_m16, "fiadds xm16")           FORM(fidiv_m32, "fidivl xm32")
FORM(fisubr_m32, "fisubrl xm32")         FORM(ficomp_m16, "ficomps xm16")
FORM(fst_m32, "fsts xm32")               FORM(fstp_m64, "fstpl xm64")
FORM(fstp_m80, "fstpt xm80")             FORM(fist_m16, "fists xm16")
FORM(fist_m32, "fistl xm32")             FORM(fistp_m64, "fistpll xm64")
FORM(fbstp_, "fbstp xbcd")
FORM_LOAD(fld_m32, "flds xm32")          FORM_LOAD(fld_m64, "fldl xm64")
FORM_LOAD(fld_m80, "fldt xm80")          FORM_LOAD(fild_m16, "filds xm16")
FORM_LOAD(fild_m32, "fildl xm32")        FORM_LOAD(fild_m64, "fildll xm64")
FORM_LOAD(fbld_, "fbld xbcd")            FORM_LOAD(fld1_, "fld1")
FORM_LOAD(fldl2t_, "fldl2t")             FORM_LOAD(fldl2e_, "fldl2e")
FORM_LOAD(fldpi_, "fldpi")               FORM_LOAD(fldlg2_, "fldlg2")
FORM_LOAD(fldln2_, "fldln2")             FORM_LOAD(fldz_, "fldz")

enum shape {
    PAIRS,      /* a and b over the values */
    SINGLE,     /* a over the values (b = 1) */
    MEM32F,     /* a over the values, xm32 over the singles */
    MEM64F,     /* a over the values, xm64 over the doubles */
    MEMINT,     /* a over the values, xm16/xm32/xm64 over the integers */
    STORE,      /* a over the values; the stored bytes are hashed */
    LOAD,       /* every memory operand of every kind once (b = 1) */
    FLAGS,      /* PAIRS, EFLAGS' ZF PF CF hashed too */
    XPAIRS,     /* a and b over the values and the extras */
    XSINGLE,    /* a over the values and the extras (b = 1) */
};


struct form {
    const char *name;
    void (*fn)(void);
    enum shape shape;
    uint16_t ignore;
    int full_precision_only;
};

#define F(n, s) { #n, n, s, ARITH, 0 }
#define FC(n, s, ign) { #n, n, s, ign, 0 }
#define F64(n, s, ign) { #n, n, s, ign, 1 }
static const struct form forms[] = {
    F(fadd_st, PAIRS), F(fsub_st, PAIRS), F(fsubr_st, PAIRS), F(fmul_st, PAIRS), F(fdiv_st, PAIRS),
    F(fdivr_st, PAIRS), F(fadd_sti, PAIRS), F(fsubp_sti, PAIRS), F(fdivp_sti, PAIRS), F(fmulp_sti, PAIRS),
    F(fscale_, PAIRS), F64(fprem_, PAIRS, 0), F64(fprem1_, PAIRS, 0x4300), F(fsqrt_, SINGLE),
    F64(frndint_, SINGLE, ARITH), F(fxtract_, SINGLE), F(fchs_, SINGLE), F(fabs_, SINGLE),
    FC(fxam_, SINGLE, 0), FC(fsin_, SINGLE, TRIG), FC(fcos_, SINGLE, TRIG), FC(fsincos_, SINGLE, TRIG),
    FC(fptan_, SINGLE, TRIG), F(f2xm1_, XSINGLE), F(fyl2x_, XPAIRS), F(fyl2xp1_, XPAIRS), F(fpatan_, XPAIRS),
    FC(ftst_, SINGLE, 0),
    FC(fcom_, PAIRS, 0), FC(fcomp_, PAIRS, 0), FC(fcompp_, PAIRS, 0), FC(fucom_, PAIRS, 0), FC(fucompp_, PAIRS, 0),
    F(fxch_, PAIRS), F(fst_sti, SINGLE), F(fstp_sti, SINGLE), F(ffree_, SINGLE), F(fincstp_, SINGLE),
    F(fdecstp_, SINGLE), F(fld_sti, SINGLE),
    FC(fcomi_, FLAGS, 0), FC(fucomip_, FLAGS, 0), F(fcmovb_, FLAGS), F(fcmovnbe_, FLAGS),
    F(fadd_m32, MEM32F), F64(fsub_m64, MEM64F, ARITH), F(fmul_m32, MEM32F), F64(fdivr_m64, MEM64F, ARITH),
    F64(fcomp_m64, MEM64F, 0), FC(fucom_m32, MEM32F, 0), F64(fiadd_m16, MEMINT, ARITH), F64(fidiv_m32, MEMINT, ARITH),
    F64(fisubr_m32, MEMINT, ARITH), F64(ficomp_m16, MEMINT, 0),
    F(fst_m32, STORE), F(fstp_m64, STORE), F(fstp_m80, STORE), F(fist_m16, STORE), F(fist_m32, STORE),
    F(fistp_m64, STORE), F(fbstp_, STORE),
    F(fld_m32, LOAD), F64(fld_m64, LOAD, ARITH), F(fld_m80, LOAD), F64(fild_m16, LOAD, ARITH), F64(fild_m32, LOAD, ARITH),
    F64(fild_m64, LOAD, ARITH), F64(fbld_, LOAD, ARITH), F(fld1_, LOAD), F(fldl2t_, LOAD), F(fldl2e_, LOAD), F(fldpi_, LOAD),
    F(fldlg2_, LOAD), F(fldln2_, LOAD), F(fldz_, LOAD),
};

/* Rounding control 0-3 with precision control 24, 53 and 64 bits; every exception masked. */
static uint16_t control_word(unsigned k)
{
    static const uint16_t pc[] = { 0x000, 0x200, 0x300 };
    return (uint16_t)(0x7F | pc[k % 3] | (k / 3) << 10);
}

/* Packed BCD of a 32-bit integer (ten digits of the eighteen) and its sign, for FBLD. */
static void to_bcd(int32_t v)
{
    uint32_t mag = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    for (int i = 0; i < 9; i++) {
        uint32_t d0 = mag % 10, d1 = (mag / 10) % 10;
        mag /= 100;
        xbcd[i] = (uint8_t)(d0 | d1 << 4);
    }
    xbcd[9] = v < 0 ? 0x80 : 0;
}

static void run_case(const struct form *f, unsigned k)
{
    xcw = control_word(k);
    f->fn();
    mix_state(f->ignore);
    if (f->shape == FLAGS)
        mix_byte((uint8_t)(xflags & 0x45));
    if (tracing) {
        uint16_t sw = *(uint16_t *)(xsave + 4), tw = *(uint16_t *)(xsave + 8);
        kprintf("cw %04x a %04x:%08x%08x b %04x:%08x%08x m %08x %08x%08x | sw %04x tw %04x st0 %04x:%08x%08x st1 %04x:%08x%08x fl %x m %08x %08x%08x %04x\n",
                xcw, xa.se, (uint32_t)(xa.m >> 32), (uint32_t)xa.m, xb.se, (uint32_t)(xb.m >> 32), (uint32_t)xb.m,
                xm32, (uint32_t)(xm64 >> 32), (uint32_t)xm64, sw, tw,
                *(uint16_t *)(xsave + 36), *(uint32_t *)(xsave + 32), *(uint32_t *)(xsave + 28),
                *(uint16_t *)(xsave + 46), *(uint32_t *)(xsave + 42), *(uint32_t *)(xsave + 38),
                xflags & 0x45, xm32, (uint32_t)(xm64 >> 32), (uint32_t)xm64, xm16);
    }
}

static int is_nan(const struct x80 *v)
{
    return (v->se & 0x7FFF) == 0x7FFF && (v->m << 1) != 0;
}

static int misrounded(const struct x80 *a, const struct x80 *b)
{
    for (unsigned k = 0; k < sizeof fpatan_misrounded / sizeof fpatan_misrounded[0]; k++)
        if (a->se == fpatan_misrounded[k][0].se && a->m == fpatan_misrounded[k][0].m
            && b->se == fpatan_misrounded[k][1].se && b->m == fpatan_misrounded[k][1].m)
            return 1;
    return 0;
}

static int same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == 0 && (*b == 0 || *b == ' ');
}

static const char *find_trace(const struct multiboot_info *mbi)
{
    if (!(mbi->flags & 4))
        return 0;
    for (const char *p = (const char *)mbi->cmdline; *p; p++)
        if (p[0] == 't' && p[1] == 'r' && p[2] == 'a' && p[3] == 'c' && p[4] == 'e' && p[5] == '=')
            return p + 6;
    return 0;
}

static void run_form(const struct form *f)
{
    hash = 2166136261u;
    cases = 0;
    tracing = trace && same(f->name, trace);
    for (unsigned k = 0; k < 12; k++) {
        if (f->full_precision_only && k % 3 != 2)
            continue;
        switch (f->shape) {
        case PAIRS:
        case FLAGS:
            for (unsigned i = 0; i < NVALUES; i++)
                for (unsigned j = 0; j < NVALUES; j++) {
                    if (f->fn == fscale_ && is_nan(&values[i]) && is_nan(&values[j]))
                        continue;
                    xa = values[i];
                    xb = values[j];
                    run_case(f, k);
                }
            break;
        case XPAIRS:
            for (unsigned i = 0; i < NVALUES + NEXTRAS; i++)
                for (unsigned j = 0; j < NVALUES + NEXTRAS; j++) {
                    if (f->fn == fpatan_ && misrounded(operand(i), operand(j)))
                        continue;
                    xa = *operand(i);
                    xb = *operand(j);
                    run_case(f, k);
                }
            break;
        case XSINGLE:
            for (unsigned i = 0; i < NVALUES + NEXTRAS; i++) {
                xa = *operand(i);
                xb = values[2];
                run_case(f, k);
            }
            break;
        case SINGLE:
        case STORE:
            for (unsigned i = 0; i < NVALUES; i++) {
                xa = values[i];
                xb = values[2];
                xm16 = 0x5A5A; xm32 = 0x5A5A5A5A; xm64 = 0x5A5A5A5A5A5A5A5Aull;
                xm80.m = xm64; xm80.se = 0x5A5A;
                for (int b = 0; b < 10; b++)
                    xbcd[b] = 0x5A;
                run_case(f, k);
                if (f->shape == STORE) {
                    mix(&xm16, 2); mix(&xm32, 4); mix(&xm64, 8); mix(&xm80, 10); mix(xbcd, 10);
                }
            }
            break;
        case MEM32F:
        case MEM64F:
        case MEMINT:
            for (unsigned i = 0; i < NVALUES; i++) {
                unsigned n = f->shape == MEM32F ? COUNT(f32s) : f->shape == MEM64F ? COUNT(f64s) : COUNT(ints);
                for (unsigned j = 0; j < n; j++) {
                    xa = values[i];
                    xb = values[2];
                    if (f->shape == MEM32F)
                        xm32 = f32s[j];
                    else if (f->shape == MEM64F)
                        xm64 = f64s[j];
                    else {
                        xm16 = (uint16_t)ints[j];
                        xm32 = (uint32_t)ints[j];
                    }
                    run_case(f, k);
                }
            }
            break;
        case LOAD:
            xb = values[2];
            for (unsigned j = 0; j < COUNT(f32s); j++) {
                xm32 = f32s[j];
                xm64 = f64s[j];
                xm16 = (uint16_t)ints[j % COUNT(ints)];
                xm80 = values[j];
                if (f->fn == fild_m32)
                    xm32 = (uint32_t)ints[j % COUNT(ints)];
                if (f->fn == fild_m64)
                    xm64 = ints[j % COUNT(ints)];
                to_bcd((int32_t)ints[j % COUNT(ints)]);
                run_case(f, k);
            }
            for (unsigned j = COUNT(f32s); j < NVALUES; j++) {
                xm80 = values[j];
                run_case(f, k);
            }
            break;
        }
    }
    kprintf("%s: %08x %u cases\n", f->name, hash, cases);
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    trace = find_trace(mbi);
    serial_init();
    gdt_init();
    idt_init();
    for (unsigned i = 0; i < sizeof forms / sizeof forms[0]; i++)
        run_form(&forms[i]);
    kprintf("x87: %u forms\n", (unsigned)(sizeof forms / sizeof forms[0]));
    qemu_exit(0);
}
