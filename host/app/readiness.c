#include "app/readiness.h"

#define MAX_CHECKS 8
static struct {
    const char *name;
    mf_ready_check_fn fn;
    void *ud;
} checks[MAX_CHECKS];
static int nchecks;

void mf_readiness_add_check(const char *name, mf_ready_check_fn fn, void *ud)
{
    if (nchecks < MAX_CHECKS)
        checks[nchecks++] = (typeof(checks[0])){name, fn, ud};
}

int mf_readiness_count(void)
{
    return nchecks;
}

int mf_readiness_check(int i, const char **name, char *why, size_t whylen)
{
    *name = checks[i].name;
    why[0] = '\0';
    return checks[i].fn(checks[i].ud, why, whylen);
}
