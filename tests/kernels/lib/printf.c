/* A small printf: %c %s %d %u %x %X %p %%, with an optional '0' flag and width.
   Only 32-bit arithmetic, so no libgcc is needed. */
#include "kern.h"

static void put_padded(const char *s, int len, int width, char pad)
{
    for (; width > len; width--)
        serial_putc(pad);
    while (len-- > 0)
        serial_putc(*s++);
}

static void put_unsigned(uint32_t v, unsigned base, int upper, int neg, int width, char pad)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[12];
    int i = sizeof buf;
    do {
        buf[--i] = digits[v % base];
        v /= base;
    } while (v);
    if (neg) {
        if (pad == '0') {           /* sign goes before the zeros */
            serial_putc('-');
            width--;
        } else {
            buf[--i] = '-';
        }
    }
    put_padded(buf + i, sizeof buf - i, width, pad);
}

void kvprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'c':
            serial_putc((char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            int len = 0;
            if (!s)
                s = "(null)";
            while (s[len])
                len++;
            put_padded(s, len, width, ' ');
            break;
        }
        case 'd': {
            int32_t v = va_arg(ap, int32_t);
            put_unsigned(v < 0 ? -(uint32_t)v : (uint32_t)v, 10, 0, v < 0, width, pad);
            break;
        }
        case 'u':
            put_unsigned(va_arg(ap, uint32_t), 10, 0, 0, width, pad);
            break;
        case 'x':
        case 'X':
            put_unsigned(va_arg(ap, uint32_t), 16, *fmt == 'X', 0, width, pad);
            break;
        case 'p':
            serial_puts("0x");
            put_unsigned((uint32_t)va_arg(ap, void *), 16, 0, 0, 8, '0');
            break;
        case '%':
            serial_putc('%');
            break;
        case '\0':
            return;
        default:                    /* unknown conversion: print it as is */
            serial_putc('%');
            serial_putc(*fmt);
            break;
        }
    }
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}
