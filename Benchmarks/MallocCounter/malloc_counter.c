// Counts heap allocations for the replay benchmark (allocations per message) without valgrind: this executable
// defines malloc and friends, so the dynamic linker binds every library's calls (the Swift runtime, Foundation) to
// these, which count and forward to glibc's own entry points. Linked only into trace-bridge-bench.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

#include "malloc_counter.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TB_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TB_SANITIZED 1
#endif

#ifndef TB_SANITIZED

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static uint64_t calls;
static uint64_t bytes;

static inline void count(size_t size) {
    __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&bytes, size, __ATOMIC_RELAXED);
}

void *malloc(size_t size) {
    count(size);
    return __libc_malloc(size);
}

void *calloc(size_t count_, size_t size) {
    count(count_ * size);
    return __libc_calloc(count_, size);
}

void *realloc(void *pointer, size_t size) {
    count(size);
    return __libc_realloc(pointer, size);
}

void free(void *pointer) { __libc_free(pointer); }

void *memalign(size_t alignment, size_t size) {
    count(size);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    count(size);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    count(size);
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

#else
// Under a sanitizer (make sanitize builds every target), its runtime owns malloc: count nothing.
static uint64_t calls;
static uint64_t bytes;
#endif

uint64_t tb_malloc_calls(void) { return __atomic_load_n(&calls, __ATOMIC_RELAXED); }
uint64_t tb_malloc_bytes(void) { return __atomic_load_n(&bytes, __ATOMIC_RELAXED); }
int tb_malloc_counting(void) { return tb_malloc_calls() > 0; }

uint64_t tb_heap_in_use(void) {
    return (uint64_t)mallinfo2().uordblks;
}
