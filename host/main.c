/* mayfly: HTTP handlers in Lua, a fresh environment per request, built for replicas. */
#include <stdio.h>
#include <string.h>

#include "app/scripts_load.h"
#include "base/options.h"
#include "cmd/check.h"
#include "cmd/scaffold.h"
#include "cmd/test_runner.h"
#include "observe/log.h"
#include "serve/server.h"

static const char usage[] =
    "usage: mayfly <command> [flags]\n"
    "\n"
    "commands:\n"
    "  serve [flags]      serve the scripts folder over HTTP\n"
    "  check [dir]        compile every script, print the routes; exit 1 if it would not serve\n"
    "  test [paths]       run the *_spec.lua files (busted-style); mayfly test --help\n"
    "  new NAME           create the folder NAME with a handler, its spec and a config key\n"
    "  version [dir]      print the version, and that of the scripts folder\n"
    "  help, --help       this text\n"
    "\n"
    "serve's settings (environment variable first, the flag overrides it):\n";

static void print_help(FILE *f)
{
    fputs(usage, f);
    mf_options_print_help(f);
}

/* The version `serve` would report for the scripts folder (dir, else MAYFLY_SCRIPTS), the one
 * /readyz shows as checks.scripts.version. A folder that does not load is an error (exit 1) only
 * when it was named. */
static int print_scripts_version(const char *dir)
{
    mf_options_t opts;
    mf_scripts_t *s;
    char err[1024];
    if (mf_options_load(&opts, 0, NULL, err, sizeof err))
        return dir ? MF_EXIT_USAGE : 0;
    mf_log_setup(MF_LOG_ERROR + 1, 0);
    if (mf_scripts_load(dir ? dir : opts.scripts_dir, &opts, &s, err, sizeof err)) {
        if (dir)
            fprintf(stderr, "mayfly version: %s\n", err);
        return dir ? MF_EXIT_START : 0;
    }
    printf("scripts %s (%s)\n", s->version, dir ? dir : opts.scripts_dir);
    mf_scripts_release(s);
    return 0;
}

int main(int argc, char **argv)
{
    mf_options_t opts;
    char err[512];

    if (argc < 2) {
        print_help(stderr);
        return MF_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        print_help(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("mayfly %s\n", MAYFLY_VERSION);
        return print_scripts_version(argc > 2 ? argv[2] : NULL);
    }
    if (!strcmp(cmd, "new"))
        return mf_scaffold_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "serve")) {
        if (mf_options_load(&opts, argc - 2, argv + 2, err, sizeof err)) {
            fprintf(stderr, "mayfly serve: %s\n", err);
            return MF_EXIT_USAGE;
        }
        mf_log_setup(opts.log_level, opts.access_log);
        if (mf_log_set_fields(opts.log_fields, err, sizeof err)) {
            fprintf(stderr, "mayfly serve: %s\n", err);
            return MF_EXIT_USAGE;
        }
        return mf_server_run(&opts);
    }
    if (!strcmp(cmd, "test"))
        return mf_test_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "check")) {
        const char *dir = NULL;
        int nflags = 0;
        char *flags[64];
        for (int i = 2; i < argc; i++) {
            if (argv[i][0] != '-' && !dir)
                dir = argv[i];
            else if (nflags < 64)
                flags[nflags++] = argv[i];
        }
        if (mf_options_load(&opts, nflags, flags, err, sizeof err)) {
            fprintf(stderr, "mayfly check: %s\n", err);
            return MF_EXIT_USAGE;
        }
        mf_log_setup(MF_LOG_WARN, 0);
        return mf_check_run(&opts, dir ? dir : opts.scripts_dir);
    }
    fprintf(stderr, "mayfly: unknown command '%s'\n\n", cmd);
    print_help(stderr);
    return MF_EXIT_USAGE;
}
