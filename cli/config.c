/* config: INI-like config files expanded into command-line options. */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIG_LINES 512
#define MAX_LINE         4096

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static const char *find_config_path(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

/* Append "--key[=value]" to out; returns false on allocation failure. */
static bool push_option(char **out, int *n, const char *key, const char *value)
{
    size_t len = strlen(key) + (value ? strlen(value) + 1 : 0) + 3;
    char *opt = malloc(len);
    if (opt == NULL)
        return false;
    int w = value ? snprintf(opt, len, "--%s=%s", key, value) : snprintf(opt, len, "--%s", key);
    if (w < 0 || (size_t)w >= len) {
        free(opt);
        return false;
    }
    out[(*n)++] = opt;
    return true;
}

/* The option key names exactly (no abbreviations in a file), or NULL. */
static const struct option *known_option(const struct option *known, const char *key)
{
    for (const struct option *o = known; o->name != NULL; o++) {
        if (strcmp(o->name, key) == 0)
            return o;
    }
    return NULL;
}

int config_expand_argv(int argc, char **argv, const struct option *known, int *new_argc,
                       char ***new_argv, char *err, size_t errlen)
{
    const char *path = find_config_path(argc, argv);
    char **out = calloc((size_t)argc + MAX_CONFIG_LINES + 1, sizeof(*out));
    int n = 0;
    if (out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out[n++] = strdup(argv[0]);
    if (path != NULL) {
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        char line[MAX_LINE];
        int lineno = 0;
        while (fgets(line, sizeof(line), f) != NULL) {
            lineno++;
            if (strchr(line, '\n') == NULL && !feof(f)) {
                snprintf(err, errlen, "%s:%d: line too long", path, lineno);
                fclose(f);
                goto fail;
            }
            char *s = trim(line);
            if (*s == '\0' || *s == '#' || *s == ';' || *s == '[')
                continue;
            char *eq = strchr(s, '=');
            char *value = NULL;
            if (eq != NULL) {
                *eq = '\0';
                value = trim(eq + 1);
                size_t vlen = strlen(value);
                if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
                    value[vlen - 1] = '\0';
                    value++;
                }
            }
            char *key = trim(s);
            bool key_ok = *key != '\0';
            for (const char *k = key; *k; k++)
                key_ok = key_ok && (isalnum((unsigned char)*k) || *k == '-' || *k == '_');
            if (!key_ok) {
                snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
                fclose(f);
                goto fail;
            }
            if (strcmp(key, "config") == 0)
                continue;
            const struct option *o = known_option(known, key);
            bool bad = true;
            if (o == NULL)
                snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, key);
            else if (o->has_arg == required_argument && value == NULL)
                snprintf(err, errlen, "%s:%d: '%s' needs a value ('%s = VALUE')", path, lineno, key,
                         key);
            else if (o->has_arg == no_argument && value != NULL)
                snprintf(err, errlen, "%s:%d: '%s' is a flag: no value (a line with just '%s')",
                         path, lineno, key, key);
            else
                bad = false;
            if (bad) {
                fclose(f);
                goto fail;
            }
            if (n >= MAX_CONFIG_LINES || !push_option(out, &n, key, value)) {
                snprintf(err, errlen, "%s: too many settings", path);
                fclose(f);
                goto fail;
            }
        }
        fclose(f);
    }
    for (int i = 1; i < argc; i++)
        out[n++] = strdup(argv[i]);
    out[n] = NULL;
    for (int i = 0; i < n; i++) {
        if (out[i] == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    *new_argc = n;
    *new_argv = out;
    return 0;
fail:
    config_free_argv(n, out);
    return -1;
}

void config_free_argv(int argc, char **argv)
{
    if (argv == NULL)
        return;
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}
