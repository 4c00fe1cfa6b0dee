/* Secret memory: the one locked allocator and the one wipe primitive.
 *
 * Every buffer that holds key material, a password, a seed or a KDF output comes from
 * sigil_secure_alloc: pages are mlock'ed (never swapped) and marked MADV_DONTDUMP (never in a
 * core file), and sigil_secure_free wipes before returning memory. Small objects are carved from
 * locked 64 KiB arenas so that 10,000 keys cost kilobytes of locked memory, not 10,000 pages. */
#ifndef SIGIL_COMMON_SECMEM_H
#define SIGIL_COMMON_SECMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns zeroed, locked memory of at least n bytes, or NULL when out of memory.
 * n == 0 returns NULL. Thread-safe. */
void *sigil_secure_alloc(size_t n);

/* Wipes and frees p (NULL is a no-op). p must come from sigil_secure_alloc. */
void sigil_secure_free(void *p);

/* A NUL-terminated copy of s in secure memory (free with sigil_secure_free); NULL when s is NULL or
 * memory is short. For credential strings such as session tokens and database URLs. */
char *sigil_secure_strdup(const char *s);

/* Returns true when p points into memory owned by the secure allocator. The logger uses this
 * to refuse to print anything that lives in secret memory. */
bool sigil_secure_owns(const void *p);

/* Number of bytes currently handed out (for tests and metrics). */
size_t sigil_secure_in_use(void);

/* Overwrites n bytes at p with zeros in a way the compiler cannot elide. Under valgrind the
 * wiped memory is then marked undefined, so a read after wipe is reported. */
void sigil_wipe(void *p, size_t n);

/* Marks n bytes at p as public for the valgrind constant-time test (a no-op outside valgrind).
 * Call it only on values that are public by design — a verdict the caller will publish anyway,
 * a public key, a signature — right before ordinary code branches on them, with a comment. */
void sigil_declassify(const void *p, size_t n);

/* Constant-time equality of two n-byte buffers: 1 when equal, 0 otherwise. */
int sigil_ct_memeq(const void *a, const void *b, size_t n);

/* Process-level hardening for processes that hold secrets: not dumpable (no ptrace by
 * same-uid processes, no core), core size limit 0. Returns false if a step failed. */
bool sigil_harden_process(void);

/* Fills buf with n bytes from the OS CSPRNG (getrandom). Returns false on failure. */
bool sigil_random_bytes(void *buf, size_t n) __attribute__((warn_unused_result));

#endif
