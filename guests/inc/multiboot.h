/* Multiboot v1 (the Multiboot Specification 0.6.96), what the kernel uses. */
#ifndef JOS_INC_MULTIBOOT_H
#define JOS_INC_MULTIBOOT_H

#define MULTIBOOT_HEADER_MAGIC  0x1BADB002
#define MULTIBOOT_BOOT_MAGIC    0x2BADB002
/* Header flags: bit 0 page-align modules, bit 1 pass memory information. */
#define MULTIBOOT_HEADER_FLAGS  0x00000003

/* Info flags. */
#define MBI_MEM         0x001   /* mem_lower, mem_upper valid */
#define MBI_CMDLINE     0x004   /* cmdline valid */

#define MBI_COPY_SIZE   32      /* bytes of the info structure entry.S keeps */
#define CMDLINE_MAX     1024    /* bytes of the command line entry.S keeps */

#ifndef __ASSEMBLER__
#include <types.h>
struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower;     /* KiB below 1 MiB */
	uint32_t mem_upper;     /* KiB above 1 MiB, up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline;       /* physical address of a NUL-terminated string */
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t pad;
};
#endif

#endif
