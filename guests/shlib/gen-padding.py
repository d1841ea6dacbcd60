#!/usr/bin/env python3
"""Writes guests/shlib/padding.g.c: the bulk of libshared.so, in blocks.

    python3 guests/shlib/gen-padding.py > guests/shlib/padding.g.c

Each block is about 32 KiB of code, read-only data and writable data, in the
shapes real libraries have: loops over constant tables, switch statements
(jump tables), string handling through the library's own exported functions,
straight-line arithmetic, tables of pointers, and calls into the block
before (through the PLT in the PIC build, as text relocations in the
non-PIC one).  Compiling the file with -DPADDING_BLOCK=k gives block k only;
with -DPADDING_BLOCKS=n, the registry of blocks 0 to n-1 that shlib.c reads.
The output depends only on this script (a fixed seed), so running it again
gives the same file.
"""
import random

BLOCKS = 64            # 64 x 32 KiB: the 2 MiB library
FUNCS = 88             # functions per block
WORDS = 24             # strings per block

rng = random.Random(0x5EED)
SYLLABLES = ["ka", "lo", "mer", "tan", "vi", "sup", "dra", "quo", "ne", "xel",
             "pri", "mo", "gal", "set", "ru", "bin", "cha", "dex", "fon", "hil"]


def word():
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 9)))


def c32():
    return "0x%08xu" % rng.getrandbits(32)


def table_init(name_macro, seed):
    return "%s(0x%08xu)" % (name_macro, seed)


def shape_loop(b, f):
    n = rng.randint(6, 14)
    return f"""static __attribute__((noinline)) uint32_t f{b}_{f}(uint32_t x)
{{
	uint32_t h = {c32()};
	for (unsigned i = 0; i < {n}u; i++) {{
		h ^= tab32_{b}[(x + i * {rng.randint(3, 997)}u) & 1023];
		h = (h << {rng.randint(1, 31)}) | (h >> (32 - {rng.randint(1, 31)}));
		h += {c32()} ^ i;
		if (h & {1 << rng.randint(0, 31)}u)
			h ^= tab16_{b}[(h >> {rng.randint(1, 20)}) & 1023];
	}}
	return h ^ state_{b}[x & 1023];
}}
"""


def shape_switch(b, f):
    cases = []
    for c in range(12):
        op = rng.choice([
            f"x = x * {c32()} + {c32()};",
            f"x ^= x >> {rng.randint(1, 31)}; x += {c32()};",
            f"x = (x << {rng.randint(1, 31)}) ^ tab32_{b}[x & 1023];",
            f"x -= tab16_{b}[(x >> 3) & 1023] * {rng.randint(3, 99)}u;",
            f"x = ~x + state_{b}[(x >> 5) & 1023];",
        ])
        cases.append(f"\tcase {c}:\n\t\t{op}\n\t\tbreak;")
    body = "\n".join(cases)
    return f"""static __attribute__((noinline)) uint32_t f{b}_{f}(uint32_t x)
{{
	switch ((x ^ {c32()}) % 12u) {{
{body}
	}}
	return x ^ tab16_{b}[x & 1023];
}}
"""


def shape_string(b, f):
    return f"""static __attribute__((noinline)) uint32_t f{b}_{f}(uint32_t x)
{{
	char buf[96];
	const char *w = words_{b}[(x + {rng.randint(0, 99)}u) % {WORDS}u];
	size_t n = strlen(w);
	memcpy(buf, w, n + 1);
	uint32_t h = (uint32_t)n * {c32()};
	for (size_t i = 0; i < n; i++)
		h = h * {rng.choice([31, 33, 37, 131, 65599])}u + (uint8_t)buf[i] + {rng.randint(1, 255)}u;
	if (strcmp(buf, words_{b}[{rng.randint(0, WORDS - 1)}]) == 0)
		h ^= {c32()};
	return h;
}}
"""


def shape_arith(b, f):
    ops = []
    vs = "abcd"
    for _ in range(rng.randint(14, 24)):
        d, s = rng.choice(vs), rng.choice(vs)
        ops.append(rng.choice([
            f"{d} += {s} ^ {c32()};",
            f"{d} ^= {s} >> {rng.randint(1, 31)};",
            f"{d} = {d} * {c32()} + {s};",
            f"{d} -= ({s} << {rng.randint(1, 31)}) | {rng.randint(1, 65535)}u;",
            f"{d} ^= tab32_{b}[{s} & 1023];",
        ]))
    body = "\n\t".join(ops)
    return f"""static __attribute__((noinline)) uint32_t f{b}_{f}(uint32_t x)
{{
	uint32_t a = x ^ {c32()}, b = x + {c32()}, c = x * {c32()}, d = ~x;
	{body}
	return a ^ b ^ c ^ d;
}}
"""


def shape_call(b, f, leaves):
    g, h = rng.sample(leaves, 2)
    prev = f"padding_{b - 1}_{rng.randint(0, 1)}(x ^ {c32()})" if b > 0 else c32()
    return f"""static __attribute__((noinline)) uint32_t f{b}_{f}(uint32_t x)
{{
	uint32_t r = f{b}_{g}(x + {c32()});
	r ^= f{b}_{h}(r ^ x);
	return r + {prev};
}}
"""


def block(b):
    out = [f"#if PADDING_BLOCK == {b}"]
    if b > 0:
        out.append(f"uint32_t padding_{b - 1}_0(uint32_t x);\nuint32_t padding_{b - 1}_1(uint32_t x);")
    out.append(f"static const uint32_t tab32_{b}[1024] = {{ {table_init('T1024', rng.getrandbits(32))} }};")
    out.append(f"static const uint16_t tab16_{b}[1024] = {{ {table_init('H1024', rng.getrandbits(32))} }};")
    out.append(f"static uint32_t state_{b}[1024] = {{ {table_init('T1024', rng.getrandbits(32))} }};")
    words = ",\n\t".join('"%s"' % word() for _ in range(WORDS))
    out.append(f"static const char *const words_{b}[{WORDS}] = {{\n\t{words},\n}};")
    leaves = []
    for f in range(FUNCS):
        if f >= 4 and rng.random() < 0.2:
            out.append(shape_call(b, f, leaves))
            continue
        shape = rng.choice([shape_loop, shape_switch, shape_string, shape_arith, shape_arith])
        out.append(shape(b, f))
        leaves.append(f)
    # Two functions other blocks may call: exported, so interposable.
    for e in range(2):
        out.append(f"uint32_t padding_{b}_{e}(uint32_t x);")
        out.append(f"uint32_t padding_{b}_{e}(uint32_t x)\n{{\n\treturn f{b}_{rng.choice(leaves)}(x) ^ {c32()};\n}}\n")
    fns = ", ".join(f"f{b}_{f}" for f in range(FUNCS))
    out.append(f"static const padding_fn funcs_{b}[{FUNCS}] = {{ {fns} }};")
    out.append(f"const struct padding_block padding_block_{b} = {{ funcs_{b}, {FUNCS}, state_{b} }};")
    out.append("#endif\n")
    return "\n".join(out)


def main():
    print("/* Generated by guests/shlib/gen-padding.py: do not edit. */")
    print('#include "padding.h"\n')
    print("#ifdef PADDING_BLOCK")
    for b in range(BLOCKS):
        print(block(b))
    print("#endif\n")
    print("#ifdef PADDING_BLOCKS")
    for b in range(BLOCKS):
        print(f"#if PADDING_BLOCKS > {b}\nextern const struct padding_block padding_block_{b};\n#endif")
    print("const struct padding_block *const padding_blocks[] = {")
    for b in range(BLOCKS):
        print(f"#if PADDING_BLOCKS > {b}\n\t&padding_block_{b},\n#endif")
    print("\t0,\n};")
    print("const unsigned padding_nblocks = PADDING_BLOCKS;")
    print("#endif")


main()
