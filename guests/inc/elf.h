/* The few ELF32 structures the kernel's program loader reads (System V gABI). */
#ifndef JOS_INC_ELF_H
#define JOS_INC_ELF_H

#include <types.h>

#define ELF_MAGIC 0x464C457FU   /* "\x7FELF" little-endian */

struct Elf {
	uint32_t e_magic;
	uint8_t e_elf[12];
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint32_t e_entry;
	uint32_t e_phoff;
	uint32_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize;
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
};

struct Proghdr {
	uint32_t p_type;
	uint32_t p_offset;
	uint32_t p_vaddr;
	uint32_t p_paddr;
	uint32_t p_filesz;
	uint32_t p_memsz;
	uint32_t p_flags;
	uint32_t p_align;
};

#define ELF_PROG_LOAD   1
#define ELF_PROG_DYNAMIC 2
#define ELF_PROG_FLAG_W 2

#define ELF_TYPE_EXEC   2
#define ELF_TYPE_DYN    3

/* The dynamic section (gABI "Dynamic Section"): tag and value or address. */
struct Elf_Dyn {
	int32_t d_tag;
	uint32_t d_val;
};

#define DT_NULL         0
#define DT_NEEDED       1       /* string table offset of a library's name */
#define DT_PLTRELSZ     2
#define DT_HASH         4
#define DT_STRTAB       5
#define DT_SYMTAB       6
#define DT_REL          17
#define DT_RELSZ        18
#define DT_RELENT       19
#define DT_PLTREL       20
#define DT_TEXTREL      22      /* relocations may write read-only segments */
#define DT_JMPREL       23
#define DT_FLAGS        30
#define DF_TEXTREL      0x4

/* A symbol of .dynsym. */
struct Elf_Sym {
	uint32_t st_name;
	uint32_t st_value;
	uint32_t st_size;
	uint8_t st_info;
	uint8_t st_other;
	uint16_t st_shndx;
};

#define SHN_UNDEF       0
#define ELF_ST_BIND(info) ((info) >> 4)
#define STB_WEAK        2

/* A relocation without addend (i386 uses REL: the addend is in place). */
struct Elf_Rel {
	uint32_t r_offset;
	uint32_t r_info;
};

#define ELF_R_SYM(info)  ((info) >> 8)
#define ELF_R_TYPE(info) ((info) & 0xFF)

/* i386 psABI relocation types; S symbol, A addend, P place, B base. */
#define R_386_NONE      0
#define R_386_32        1       /* S + A */
#define R_386_PC32      2       /* S + A - P */
#define R_386_GLOB_DAT  6       /* S */
#define R_386_JMP_SLOT  7       /* S */
#define R_386_RELATIVE  8       /* B + A */

#endif
