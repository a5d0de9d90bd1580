/* The process_* families every Prometheus client exports, read from /proc at each scrape. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "observe/metrics.h"
#include "observe/metrics_private.h"

/* Seconds since the epoch at boot (btime of /proc/stat), 0 when unknown. */
static double boot_time(void)
{
    char line[256];
    double t = 0;
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "btime ", 6)) {
            t = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return t;
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

void mf_metrics_process_collect(mf_metrics_writer_t *w)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which may itself hold spaces and parentheses. */
    const char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    if (p && sscanf(p + 2,
                    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                    "%*d %llu %llu %lld",
                    &utime, &stime, &start, &vsize, &rss) == 5) {
        double tick = (double)sysconf(_SC_CLK_TCK);
        double page = (double)sysconf(_SC_PAGESIZE);
        mf_metrics_family(w, "process_cpu_seconds_total", "counter",
                          "Total user and system CPU time spent in seconds.");
        mf_metrics_sample(w, "process_cpu_seconds_total", NULL, (double)(utime + stime) / tick);
        mf_metrics_family(w, "process_start_time_seconds", "gauge",
                          "Start time of the process since unix epoch in seconds.");
        mf_metrics_sample(w, "process_start_time_seconds", NULL,
                          boot_time() + (double)start / tick);
        mf_metrics_family(w, "process_virtual_memory_bytes", "gauge",
                          "Virtual memory size in bytes.");
        mf_metrics_sample(w, "process_virtual_memory_bytes", NULL, (double)vsize);
        mf_metrics_family(w, "process_resident_memory_bytes", "gauge",
                          "Resident memory size in bytes.");
        mf_metrics_sample(w, "process_resident_memory_bytes", NULL, (double)rss * page);
    }
    int fds = open_fds();
    if (fds >= 0) {
        mf_metrics_family(w, "process_open_fds", "gauge", "Number of open file descriptors.");
        mf_metrics_sample(w, "process_open_fds", NULL, fds);
    }
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        mf_metrics_family(w, "process_max_fds", "gauge",
                          "Maximum number of open file descriptors.");
        mf_metrics_sample(w, "process_max_fds", NULL,
                          rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
    }
}
