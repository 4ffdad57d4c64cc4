/* Wine 8 (Debian 12) has no bcryptprimitives.dll, which the Rust standard library for Windows
 * imports ProcessPrng from (real Windows 10 and later ship it). This stand-in, built by the
 * tests beside the program under wine, forwards to RtlGenRandom (SystemFunction036). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
