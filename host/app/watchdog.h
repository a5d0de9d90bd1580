/* One thread that interrupts handlers past MAYFLY_REQUEST_TIMEOUT (mf_vm_enforce_deadline). */
#ifndef MF_WATCHDOG_H
#define MF_WATCHDOG_H

#include "lua/vm.h"

typedef struct mf_watchdog mf_watchdog_t;

/* Watches vms[0..n) every period_ms. The array must outlive the watchdog. */
mf_watchdog_t *mf_watchdog_start(mf_vm_t **vms, int n, int period_ms);
/* Stops and joins the thread; NULL is a no-op. */
void mf_watchdog_stop(mf_watchdog_t *wd);

#endif
