/* Strings kept for the life of the process, one copy of each: for names something may still
 * report after what gave the name is gone (a request's route, logged when its response is sent,
 * after the worker has moved to a new version and released the old one). Thread-safe; never
 * freed, so they cost a copy per distinct string ever interned. */
#ifndef MF_INTERN_H
#define MF_INTERN_H

/* The process's copy of s (NUL-terminated): the same pointer for equal strings. */
const char *mf_intern(const char *s);

#endif
