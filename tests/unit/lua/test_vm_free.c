/* A vm gives back all of its memory when freed: the server builds one for every reload (to
 * load and probe the new scripts), so anything a vm leaves behind grows the process with each
 * reload. LuaJIT's arena is mapped memory that LeakSanitizer does not track, hence RSS here. */
#include <stdio.h>

#include "observe/log.h"
#include "base/options.h"
#include "test.h"
#include "lua/vm.h"

static long rss_kib(void)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static int new_and_free(const mf_options_t *o, int n)
{
    char err[256];
    for (int i = 0; i < n; i++) {
        mf_vm_t *vm = mf_vm_new(o, err, sizeof err);
        if (!vm) {
            printf("  mf_vm_new: %s\n", err);
            return -1;
        }
        mf_vm_free(vm);
    }
    return 0;
}

TEST(a_freed_vm_leaves_no_memory_behind)
{
    mf_options_t o;
    char err[256];
    ASSERT_EQ_INT(mf_options_load(&o, 0, NULL, err, sizeof err), 0);
    ASSERT_EQ_INT(new_and_free(&o, 10), 0); /* warm-up: libraries' one-time allocations */
    long before = rss_kib();
    ASSERT_EQ_INT(new_and_free(&o, 200), 0);
    long grown = rss_kib() - before;
    /* Leaking LuaJIT's arena cost about 170 KiB a vm, 34 MiB here. */
    if (grown > 8192)
        printf("  RSS grew by %ld KiB over 200 vms\n", grown);
    ASSERT_TRUE(grown <= 8192);
}

int main(void)
{
    mf_log_setup(MF_LOG_ERROR, 0);
    RUN(a_freed_vm_leaves_no_memory_behind);
    TEST_MAIN_END();
}
