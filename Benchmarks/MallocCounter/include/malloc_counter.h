#ifndef TB_MALLOC_COUNTER_H
#define TB_MALLOC_COUNTER_H

#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, aligned forms) made by the whole process since it started.
uint64_t tb_malloc_calls(void);
/// Bytes requested by those allocations.
uint64_t tb_malloc_bytes(void);
/// 1 when this file's malloc replaced the C library's for the process (the counts are real), else 0.
int tb_malloc_counting(void);
/// Bytes of heap in use now (glibc's mallinfo2().uordblks: allocated and not freed), for the memory benchmark.
uint64_t tb_heap_in_use(void);

#endif
