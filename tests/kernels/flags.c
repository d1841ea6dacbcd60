/* flags: every integer ALU, shift, rotate, double-shift, bit-test, bit-scan, multiply, divide and BCD
   form (register, memory and immediate operands), run over edge operands (0, 1, the sign boundaries of
   each size, all ones, ...), shift counts 0-33 in CL and eight as immediates, and four sets of initial
   flags.  Per form it prints one line: an FNV-1a hash of every case's
   result registers and arithmetic flags (OF SF ZF AF PF CF), whether it raised #DE, and the number of
   cases.  The flags Intel leaves undefined are hashed too: the golden, recorded on QEMU, is what
   MiniHv must match. */
#include "kern.h"

#define ARITH 0x8D5u    /* OF SF ZF AF PF CF */

static const uint32_t values[] = {
    0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
    0x7FFFFFFF, 0x80000000u, 0x80000001u, 0xFFFFFFFEu, 0xFFFFFFFFu, 0x12345678, 0xA5A5A5A5u,
};
#define NVALUES (sizeof values / sizeof values[0])

/* Initial EFLAGS: none, CF only, all but CF, all six (bit 1 is always set). */
static const uint32_t initial_flags[] = { 0x2, 0x3, 0x2 | (ARITH & ~1u), 0x2 | ARITH };

/* A divide that faults resumes at the address the form stored here, with divide_faulted set. */
volatile uint32_t divide_resume;
volatile uint32_t divide_faulted;

static void on_divide_error(struct trapframe *tf)
{
    divide_faulted = 1;
    tf->eip = divide_resume;
}

/* One case: a and b are operands, c a count or a second operand, fl the initial EFLAGS.
   r1 and r2 receive the result registers, fo the final EFLAGS. */
typedef void (*form_fn)(uint32_t a, uint32_t b, uint32_t c, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo);

#define SET_FLAGS "pushl %[fl]\n\tpopfl\n\t"
#define GET_FLAGS "\n\tpushfl\n\tpopl %[fo]"

/* op b, a (two registers; cmp and test leave a as it was). */
#define BINARY(name, insn, T, C)                                                                   \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)c_;                                                                                  \
        T a = (T)a_, b = (T)b_;                                                                    \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS insn " %[b], %[a]" GET_FLAGS                                        \
                     : [a] "+" C(a), [fo] "=&r"(f) : [b] C(b), [fl] "r"(fl) : "cc");               \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* op a */
#define UNARY(name, insn, T, C)                                                                    \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)b_; (void)c_;                                                                        \
        T a = (T)a_;                                                                               \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS insn " %[a]" GET_FLAGS                                              \
                     : [a] "+" C(a), [fo] "=&r"(f) : [fl] "r"(fl) : "cc");                         \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* op %cl, a (c is the count) */
#define SHIFT_CL(name, insn, T, C)                                                                 \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)b_;                                                                                  \
        T a = (T)a_;                                                                               \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS insn " %%cl, %[a]" GET_FLAGS                                        \
                     : [a] "+" C(a), [fo] "=&r"(f) : "c"(c_), [fl] "r"(fl) : "cc");                \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* op $1, a: the one-bit form (opcodes D0/D1), counts ignored */
#define SHIFT_1(name, insn, T, C)                                                                  \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)b_; (void)c_;                                                                        \
        T a = (T)a_;                                                                               \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS insn " %[a]" GET_FLAGS                                              \
                     : [a] "+" C(a), [fo] "=&r"(f) : [fl] "r"(fl) : "cc");                         \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* shld/shrd %cl, b, a */
#define DOUBLE_SHIFT(name, insn, T)                                                                \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        T a = (T)a_, b = (T)b_;                                                                    \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS insn " %%cl, %[b], %[a]" GET_FLAGS                                  \
                     : [a] "+r"(a), [fo] "=&r"(f) : [b] "r"(b), "c"(c_), [fl] "r"(fl) : "cc");     \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* mul/imul/div/idiv with one operand b: the accumulator pair is (c:a), c the high half */
#define ACCUMULATOR(name, insn, T)                                                                 \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        uint32_t eax = a_, edx = c_, f;                                                            \
        T b = (T)b_;                                                                               \
        asm volatile("movl $1f, divide_resume\n\t" SET_FLAGS insn " %[b]\n1:" GET_FLAGS           \
                     : "+a"(eax), "+d"(edx), [fo] "=&r"(f) : [b] "b"(b), [fl] "S"(fl)              \
                     : "cc", "memory");                                                            \
        *r1 = eax; *r2 = edx; *fo = f;                                                             \
    }

/* daa, das, aaa, aas, aam, aad on AX = a */
#define ADJUST(name, insn)                                                                         \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)b_; (void)c_;                                                                        \
        uint32_t eax = a_, f;                                                                      \
        asm volatile("movl $1f, divide_resume\n\t" SET_FLAGS insn "\n1:" GET_FLAGS                \
                     : "+a"(eax), [fo] "=&r"(f) : [fl] "S"(fl) : "cc", "memory");                  \
        *r1 = eax; *r2 = 0; *fo = f;                                                               \
    }

/* op $imm, a */
#define IMMEDIATE(name, insn, imm, T, C)                                                           \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)b_; (void)c_;                                                                        \
        T a = (T)a_;                                                                               \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS insn " $" #imm ", %[a]" GET_FLAGS                                   \
                     : [a] "+" C(a), [fo] "=&r"(f) : [fl] "r"(fl) : "cc");                         \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* op b, (memory a): the read-modify-write forms */
#define MEMORY(name, insn, T)                                                                      \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)c_;                                                                                  \
        volatile T a = (T)a_;                                                                      \
        T b = (T)b_;                                                                               \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS insn " %[b], %[a]" GET_FLAGS                                        \
                     : [a] "+m"(a), [fo] "=&r"(f) : [b] "r"(b), [fl] "r"(fl) : "cc");              \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* op %cl, (memory a) */
#define MEMORY_SHIFT(name, insn, T)                                                                \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)b_;                                                                                  \
        volatile T a = (T)a_;                                                                      \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS insn " %%cl, %[a]" GET_FLAGS                                        \
                     : [a] "+m"(a), [fo] "=&r"(f) : "c"(c_), [fl] "r"(fl) : "cc");                 \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* op $n, a for the shift counts 0, 1, 2, 8, 16, 17, 31 and 33 (c picks one): the C0/C1 forms */
#define SHIFT_IMM_CASE(k, n, insn)                                                                 \
    case k: asm volatile(SET_FLAGS insn " $" #n ", %[a]" GET_FLAGS                                 \
                         : [a] "+r"(a), [fo] "=&r"(f) : [fl] "r"(fl) : "cc"); break;
#define SHIFT_IMM(name, insn, T)                                                                   \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)b_;                                                                                  \
        T a = (T)a_;                                                                               \
        uint32_t f = 0;                                                                            \
        switch (c_) {                                                                              \
        SHIFT_IMM_CASE(0, 0, insn) SHIFT_IMM_CASE(1, 1, insn) SHIFT_IMM_CASE(2, 2, insn)           \
        SHIFT_IMM_CASE(3, 8, insn) SHIFT_IMM_CASE(4, 16, insn) SHIFT_IMM_CASE(5, 17, insn)         \
        SHIFT_IMM_CASE(6, 31, insn) default: SHIFT_IMM_CASE(7, 33, insn)                           \
        }                                                                                          \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* shld/shrd $n, b, a for the same counts */
#define DOUBLE_IMM_CASE(k, n, insn)                                                                \
    case k: asm volatile(SET_FLAGS insn " $" #n ", %[b], %[a]" GET_FLAGS                           \
                         : [a] "+r"(a), [fo] "=&r"(f) : [b] "r"(b), [fl] "r"(fl) : "cc"); break;
#define DOUBLE_IMM(name, insn, T)                                                                  \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        T a = (T)a_, b = (T)b_;                                                                    \
        uint32_t f = 0;                                                                            \
        switch (c_) {                                                                              \
        DOUBLE_IMM_CASE(0, 0, insn) DOUBLE_IMM_CASE(1, 1, insn) DOUBLE_IMM_CASE(2, 2, insn)        \
        DOUBLE_IMM_CASE(3, 8, insn) DOUBLE_IMM_CASE(4, 16, insn) DOUBLE_IMM_CASE(5, 17, insn)      \
        DOUBLE_IMM_CASE(6, 31, insn) default: DOUBLE_IMM_CASE(7, 33, insn)                         \
        }                                                                                          \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

/* imul $imm, a, (a fresh register) */
#define IMUL3(name, imm, T)                                                                        \
    static void name(uint32_t a_, uint32_t b_, uint32_t c_, uint32_t fl, uint32_t *r1, uint32_t *r2, uint32_t *fo) \
    {                                                                                              \
        (void)b_; (void)c_;                                                                        \
        T a = 0, b = (T)a_;                                                                        \
        uint32_t f;                                                                                \
        asm volatile(SET_FLAGS "imul $" #imm ", %[b], %[a]" GET_FLAGS                              \
                     : [a] "=&r"(a), [fo] "=&r"(f) : [b] "r"(b), [fl] "r"(fl) : "cc");             \
        *r1 = a; *r2 = 0; *fo = f;                                                                 \
    }

#define ALU_SIZES(op)                          \
    BINARY(op##8, #op, uint8_t, "q")           \
    BINARY(op##16, #op, uint16_t, "r")         \
    BINARY(op##32, #op, uint32_t, "r")
ALU_SIZES(add) ALU_SIZES(or) ALU_SIZES(adc) ALU_SIZES(sbb) ALU_SIZES(and)
ALU_SIZES(sub) ALU_SIZES(xor) ALU_SIZES(cmp) ALU_SIZES(test)

/* The immediate forms: a sign-extended imm8 (-1, 0x7F) and a full immediate (the sign bit alone). */
#define IMM_SIZES(op)                                         \
    IMMEDIATE(op##8i, #op, 0x80, uint8_t, "q")                \
    IMMEDIATE(op##16i, #op, -1, uint16_t, "r")                \
    IMMEDIATE(op##16i8, #op, 0x7F, uint16_t, "r")             \
    IMMEDIATE(op##32i, #op, 0x80000000, uint32_t, "r")        \
    IMMEDIATE(op##32i8, #op, -1, uint32_t, "r")               \
    MEMORY(op##8m, #op "b", uint8_t)                          \
    MEMORY(op##16m, #op "w", uint16_t)                        \
    MEMORY(op##32m, #op "l", uint32_t)
IMM_SIZES(add) IMM_SIZES(or) IMM_SIZES(adc) IMM_SIZES(sbb) IMM_SIZES(and)
IMM_SIZES(sub) IMM_SIZES(xor) IMM_SIZES(cmp) IMM_SIZES(test)

#define UNARY_SIZES(op)                        \
    UNARY(op##8, #op, uint8_t, "q")            \
    UNARY(op##16, #op, uint16_t, "r")          \
    UNARY(op##32, #op, uint32_t, "r")
UNARY_SIZES(inc) UNARY_SIZES(dec) UNARY_SIZES(neg) UNARY_SIZES(not)

#define SHIFT_SIZES(op)                        \
    SHIFT_CL(op##8, #op, uint8_t, "q")         \
    SHIFT_CL(op##16, #op, uint16_t, "r")       \
    SHIFT_CL(op##32, #op, uint32_t, "r")       \
    SHIFT_1(op##8_1, #op, uint8_t, "q")        \
    SHIFT_1(op##16_1, #op, uint16_t, "r")      \
    SHIFT_1(op##32_1, #op, uint32_t, "r")
SHIFT_SIZES(shl) SHIFT_SIZES(shr) SHIFT_SIZES(sar) SHIFT_SIZES(rol)
SHIFT_SIZES(ror) SHIFT_SIZES(rcl) SHIFT_SIZES(rcr)

#define SHIFT_MORE(op)                         \
    SHIFT_IMM(op##8i, #op, uint8_t)            \
    SHIFT_IMM(op##16i, #op, uint16_t)          \
    SHIFT_IMM(op##32i, #op, uint32_t)          \
    MEMORY_SHIFT(op##16m, #op "w", uint16_t)   \
    MEMORY_SHIFT(op##32m, #op "l", uint32_t)
SHIFT_MORE(shl) SHIFT_MORE(shr) SHIFT_MORE(sar) SHIFT_MORE(rol)
SHIFT_MORE(ror) SHIFT_MORE(rcl) SHIFT_MORE(rcr)
DOUBLE_IMM(shld16i, "shld", uint16_t) DOUBLE_IMM(shld32i, "shld", uint32_t)
DOUBLE_IMM(shrd16i, "shrd", uint16_t) DOUBLE_IMM(shrd32i, "shrd", uint32_t)
IMUL3(imul16i, -3, uint16_t) IMUL3(imul16i8, 0x7F, uint16_t) IMUL3(imul32i, 0x12345, uint32_t)
IMUL3(imul32i8, -128, uint32_t)

DOUBLE_SHIFT(shld16, "shld", uint16_t) DOUBLE_SHIFT(shld32, "shld", uint32_t)
DOUBLE_SHIFT(shrd16, "shrd", uint16_t) DOUBLE_SHIFT(shrd32, "shrd", uint32_t)

#define WIDE_SIZES(op)                         \
    BINARY(op##16, #op, uint16_t, "r")         \
    BINARY(op##32, #op, uint32_t, "r")
WIDE_SIZES(bt) WIDE_SIZES(bts) WIDE_SIZES(btr) WIDE_SIZES(btc)
WIDE_SIZES(bsf) WIDE_SIZES(bsr) WIDE_SIZES(imul)

#define ACCUMULATOR_SIZES(name, op)            \
    ACCUMULATOR(name##8, op "b", uint8_t)      \
    ACCUMULATOR(name##16, op "w", uint16_t)    \
    ACCUMULATOR(name##32, op "l", uint32_t)
ACCUMULATOR_SIZES(mul, "mul") ACCUMULATOR_SIZES(imul1, "imul")
ACCUMULATOR_SIZES(div, "div") ACCUMULATOR_SIZES(idiv, "idiv")

ADJUST(daa, "daa") ADJUST(das, "das") ADJUST(aaa, "aaa") ADJUST(aas, "aas")
ADJUST(aam10, "aam $10") ADJUST(aam16, "aam $16") ADJUST(aam0, "aam $0")
ADJUST(aad10, "aad $10") ADJUST(aad7, "aad $7")

/* How a form's cases are drawn. */
enum shape {
    PAIRS,      /* a and b over the edge values */
    SINGLE,     /* a over the edge values */
    COUNTS,     /* a over the edge values, counts 0-33 */
    DOUBLE,     /* a and b over the edge values, counts 0-33 */
    ACC,        /* a and b over the edge values, the high half from the edge values too */
    IMMS,       /* a over the edge values, each of the eight immediate counts */
    DOUBLE_IMMS, /* a and b over the edge values, each of the eight immediate counts */
    BYTE_AX,    /* AX: AH over a few values, AL 0-255 */
};

struct form {
    const char *name;
    form_fn fn;
    enum shape shape;
};

#define F(n, s) { #n, n, s }
#define F3(op, s) F(op##8, s), F(op##16, s), F(op##32, s)
#define S6(op) F3(op, COUNTS), F(op##8_1, SINGLE), F(op##16_1, SINGLE), F(op##32_1, SINGLE)
#define F2(op, s) F(op##16, s), F(op##32, s)
#define FI(op) F(op##8i, SINGLE), F(op##16i, SINGLE), F(op##16i8, SINGLE), F(op##32i, SINGLE), \
    F(op##32i8, SINGLE), F(op##8m, PAIRS), F(op##16m, PAIRS), F(op##32m, PAIRS)
#define FS(op) F(op##8i, IMMS), F(op##16i, IMMS), F(op##32i, IMMS), F(op##16m, COUNTS), F(op##32m, COUNTS)

static const struct form forms[] = {
    F3(add, PAIRS), F3(or, PAIRS), F3(adc, PAIRS), F3(sbb, PAIRS), F3(and, PAIRS),
    F3(sub, PAIRS), F3(xor, PAIRS), F3(cmp, PAIRS), F3(test, PAIRS),
    F3(inc, SINGLE), F3(dec, SINGLE), F3(neg, SINGLE), F3(not, SINGLE),
    S6(shl), S6(shr), S6(sar), S6(rol), S6(ror), S6(rcl), S6(rcr),
    F2(shld, DOUBLE), F2(shrd, DOUBLE),
    F2(bt, PAIRS), F2(bts, PAIRS), F2(btr, PAIRS), F2(btc, PAIRS),
    F2(bsf, PAIRS), F2(bsr, PAIRS), F2(imul, PAIRS),
    F3(mul, ACC), F3(imul1, ACC), F3(div, ACC), F3(idiv, ACC),
    F(daa, BYTE_AX), F(das, BYTE_AX), F(aaa, BYTE_AX), F(aas, BYTE_AX),
    F(aam10, BYTE_AX), F(aam16, BYTE_AX), F(aam0, BYTE_AX), F(aad10, BYTE_AX), F(aad7, BYTE_AX),
    FI(add), FI(or), FI(adc), FI(sbb), FI(and), FI(sub), FI(xor), FI(cmp), FI(test),
    FS(shl), FS(shr), FS(sar), FS(rol), FS(ror), FS(rcl), FS(rcr),
    F(shld16i, DOUBLE_IMMS), F(shld32i, DOUBLE_IMMS), F(shrd16i, DOUBLE_IMMS), F(shrd32i, DOUBLE_IMMS),
    F(imul16i, SINGLE), F(imul16i8, SINGLE), F(imul32i, SINGLE), F(imul32i8, SINGLE),
};

static uint32_t hash;
static uint32_t cases;

static void mix(uint32_t word)
{
    for (int i = 0; i < 4; i++) {
        hash ^= (word >> (8 * i)) & 0xFF;
        hash *= 16777619u;
    }
}

static void run_case(const struct form *f, uint32_t a, uint32_t b, uint32_t c)
{
    for (unsigned k = 0; k < sizeof initial_flags / sizeof initial_flags[0]; k++) {
        uint32_t r1, r2, fo;
        divide_faulted = 0;
        f->fn(a, b, c, initial_flags[k], &r1, &r2, &fo);
        mix(r1);
        mix(r2);
        mix(fo & ARITH);
        mix(divide_faulted);
        cases++;
    }
}

/* The quotient of the most negative dividend by -1 overflows, which is #DE; QEMU 7.2 computes it on the
   host first and dies of SIGFPE for IDIV r/m16 and r/m32, so no golden could hold those cases. */
static int kills_qemu(const struct form *f, uint32_t a, uint32_t b, uint32_t c)
{
    if (f->fn == idiv16)
        return (c & 0xFFFF) == 0x8000 && (a & 0xFFFF) == 0 && (b & 0xFFFF) == 0xFFFF;
    if (f->fn == idiv32)
        return c == 0x80000000u && a == 0 && b == 0xFFFFFFFFu;
    return 0;
}

static const uint32_t high_bytes[] = { 0x00, 0x01, 0x09, 0x7F, 0x80, 0xFF };

static void run_form(const struct form *f)
{
    hash = 2166136261u;
    cases = 0;
    switch (f->shape) {
    case PAIRS:
        for (unsigned i = 0; i < NVALUES; i++)
            for (unsigned j = 0; j < NVALUES; j++)
                run_case(f, values[i], values[j], 0);
        break;
    case SINGLE:
        for (unsigned i = 0; i < NVALUES; i++)
            run_case(f, values[i], 0, 0);
        break;
    case COUNTS:
        for (unsigned i = 0; i < NVALUES; i++)
            for (uint32_t n = 0; n <= 33; n++)
                run_case(f, values[i], 0, n);
        break;
    case DOUBLE:
        for (unsigned i = 0; i < NVALUES; i++)
            for (unsigned j = 0; j < NVALUES; j += 3)
                for (uint32_t n = 0; n <= 33; n++)
                    run_case(f, values[i], values[j], n);
        break;
    case ACC:
        for (unsigned i = 0; i < NVALUES; i++)
            for (unsigned j = 0; j < NVALUES; j++)
                for (unsigned h = 0; h < NVALUES; h += 4)
                    if (!kills_qemu(f, values[i], values[j], values[h]))
                        run_case(f, values[i], values[j], values[h]);
        break;
    case IMMS:
        for (unsigned i = 0; i < NVALUES; i++)
            for (uint32_t n = 0; n < 8; n++)
                run_case(f, values[i], 0, n);
        break;
    case DOUBLE_IMMS:
        for (unsigned i = 0; i < NVALUES; i++)
            for (unsigned j = 0; j < NVALUES; j += 3)
                for (uint32_t n = 0; n < 8; n++)
                    run_case(f, values[i], values[j], n);
        break;
    case BYTE_AX:
        for (unsigned h = 0; h < sizeof high_bytes / sizeof high_bytes[0]; h++)
            for (uint32_t al = 0; al < 256; al++)
                run_case(f, 0xABCD0000u | high_bytes[h] << 8 | al, 0, 0);
        break;
    }
    kprintf("%s: %08x %u cases\n", f->name, hash, cases);
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    set_handler(0, on_divide_error);
    for (unsigned i = 0; i < sizeof forms / sizeof forms[0]; i++)
        run_form(&forms[i]);
    kprintf("flags: %u forms\n", (unsigned)(sizeof forms / sizeof forms[0]));
    qemu_exit(0);
}
