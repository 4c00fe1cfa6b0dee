#include "common/secmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_MEMCHECK 1
#endif

/* Size classes served from arenas; anything larger gets its own locked mapping. */
#define ARENA_SIZE (64u * 1024u)
#define NCLASSES   7
static const size_t class_size[NCLASSES] = {32, 64, 128, 256, 512, 1024, 2048};

/* Every block starts with this header (kept to 16 bytes so payloads stay 16-aligned). */
struct block_hdr {
    uint32_t magic;
    uint32_t cls;  /* class index, or NCLASSES for a direct mapping */
    uint64_t size; /* usable size (class size or mapping payload size) */
};
#define HDR_MAGIC 0x53494731u /* "SIG1" */

struct arena {
    struct arena *next;
    uint8_t *base;
    size_t len;
};

struct free_node {
    struct free_node *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct free_node *free_lists[NCLASSES];
static struct arena *arenas;   /* arena list (for ownership checks) */
static struct arena *big_maps; /* direct mappings */
static size_t in_use;

void sigil_wipe(void *p, size_t n)
{
    if (p == NULL || n == 0) {
        return;
    }
    explicit_bzero(p, n);
    /* The barrier makes the compiler assume p's memory is read, so the stores stay. */
    __asm__ __volatile__("" : : "r"(p) : "memory");
#if defined(SIGIL_VALGRIND) && defined(HAVE_MEMCHECK)
    (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#endif
}

void sigil_declassify(const void *p, size_t n)
{
#if defined(HAVE_MEMCHECK)
    (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#else
    (void)p;
    (void)n;
#endif
}

int sigil_ct_memeq(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= (uint8_t)(x[i] ^ y[i]);
    }
    /* 1 when d == 0, without a branch on d. */
    return (int)(1 & (((uint32_t)d - 1) >> 8));
}

static void *map_locked(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
    /* mlock can fail under a small RLIMIT_MEMLOCK; the memory is still excluded from dumps
     * and wiped, so carry on rather than refuse to run. */
    (void)mlock(p, len);
    (void)madvise(p, len, MADV_DONTDUMP);
    return p;
}

static void unmap_locked(void *p, size_t len)
{
    sigil_wipe(p, len);
    (void)munlock(p, len);
    (void)munmap(p, len);
}

static int class_for(size_t n)
{
    for (int i = 0; i < NCLASSES; i++) {
        if (n + sizeof(struct block_hdr) <= class_size[i]) {
            return i;
        }
    }
    return -1;
}

static bool add_arena(int cls)
{
    uint8_t *base = map_locked(ARENA_SIZE);
    if (base == NULL) {
        return false;
    }
    /* The arena descriptor lives in the arena's first block so no plain heap is involved. */
    struct arena *ar = (struct arena *)base;
    ar->base = base;
    ar->len = ARENA_SIZE;
    ar->next = arenas;
    arenas = ar;
    size_t cs = class_size[cls];
    size_t first = (sizeof(struct arena) + cs - 1) / cs * cs;
    for (size_t off = first; off + cs <= ARENA_SIZE; off += cs) {
        struct free_node *fn = (struct free_node *)(base + off);
        fn->next = free_lists[cls];
        free_lists[cls] = fn;
    }
    return true;
}

void *sigil_secure_alloc(size_t n)
{
    if (n == 0 || n > (SIZE_MAX / 2)) {
        return NULL;
    }
    int cls = class_for(n);
    struct block_hdr *h = NULL;
    pthread_mutex_lock(&lock);
    if (cls >= 0) {
        if (free_lists[cls] == NULL && !add_arena(cls)) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        struct free_node *fn = free_lists[cls];
        free_lists[cls] = fn->next;
        h = (struct block_hdr *)fn;
        h->cls = (uint32_t)cls;
        h->size = class_size[cls] - sizeof *h;
    } else {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t len = (n + sizeof(struct arena) + sizeof *h + page - 1) / page * page;
        uint8_t *base = map_locked(len);
        if (base == NULL) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        struct arena *ar = (struct arena *)base;
        ar->base = base;
        ar->len = len;
        ar->next = big_maps;
        big_maps = ar;
        h = (struct block_hdr *)(base + sizeof(struct arena));
        h->cls = NCLASSES;
        h->size = len - sizeof(struct arena) - sizeof *h;
    }
    h->magic = HDR_MAGIC;
    in_use += h->size;
    pthread_mutex_unlock(&lock);
    void *p = h + 1;
    memset(p, 0, h->size);
    return p;
}

char *sigil_secure_strdup(const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    size_t n = strlen(s);
    char *p = sigil_secure_alloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n + 1);
    }
    return p;
}

void sigil_secure_free(void *p)
{
    if (p == NULL) {
        return;
    }
    struct block_hdr *h = (struct block_hdr *)p - 1;
    pthread_mutex_lock(&lock);
    if (h->magic != HDR_MAGIC) {
        pthread_mutex_unlock(&lock);
        abort();
    }
    in_use -= h->size;
    h->magic = 0;
    explicit_bzero(p, h->size);
    uint32_t cls = h->cls;
    if (cls < NCLASSES) {
        /* the free-list link overwrites the header, so read cls first */
        struct free_node *fn = (struct free_node *)h;
        fn->next = free_lists[cls];
        free_lists[cls] = fn;
    } else {
        struct arena **pp = &big_maps;
        while (*pp != NULL && (uint8_t *)(*pp)->base + sizeof(struct arena) != (uint8_t *)h) {
            pp = &(*pp)->next;
        }
        if (*pp == NULL) {
            pthread_mutex_unlock(&lock);
            abort();
        }
        struct arena *ar = *pp;
        *pp = ar->next;
        unmap_locked(ar->base, ar->len);
    }
    pthread_mutex_unlock(&lock);
}

static bool in_list(const struct arena *a, const uint8_t *q)
{
    for (; a != NULL; a = a->next) {
        if (q >= a->base && q < a->base + a->len) {
            return true;
        }
    }
    return false;
}

bool sigil_secure_owns(const void *p)
{
    const uint8_t *q = p;
    pthread_mutex_lock(&lock);
    bool owned = in_list(arenas, q) || in_list(big_maps, q);
    pthread_mutex_unlock(&lock);
    return owned;
}

size_t sigil_secure_in_use(void)
{
    pthread_mutex_lock(&lock);
    size_t n = in_use;
    pthread_mutex_unlock(&lock);
    return n;
}

bool sigil_harden_process(void)
{
    bool ok = true;
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_CORE, &rl) != 0) {
        ok = false;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        ok = false;
    }
    return ok;
}

bool sigil_random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}
