/* check_retention: pruning of the per-call pcap tree by age and by size (store/retention.c). */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "retention.h"

static char root[64];

static void put_file(const char *day, const char *hour, int id, size_t bytes)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, day);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", root, day, hour);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s/%d.pcap", root, day, hour, id);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    char *zeros = calloc(1, bytes);
    ck_assert_uint_eq(fwrite(zeros, 1, bytes, f), bytes);
    free(zeros);
    fclose(f);
}

static bool exists(const char *rel)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return stat(path, &st) == 0;
}

static int64_t at(int y, int mo, int d, int h)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h};
    return (int64_t)timegm(&tm) * 1000000000;
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/sipscope-ret-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    put_file("2024-01-14", "23", 1, 1000);
    put_file("2024-01-15", "09", 2, 1000);
    put_file("2024-01-15", "10", 3, 1000);
    put_file("2024-01-15", "10", 4, 1000);
    put_file("2024-01-15", "11", 5, 1000);
    /* Not ours: left alone whatever the limits. */
    put_file("notes", "xx", 6, 10);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(age_removes_whole_hours_before_the_cutoff)
{
    /* Cutoff 10:30: the 23:00 and 09:00 hours are entirely older; 10:00 is not yet. */
    uint64_t removed = retention_prune_pcaps(root, at(2024, 1, 15, 10) + 1800000000000LL, 0);
    ck_assert_uint_eq(removed, 2);
    ck_assert(!exists("2024-01-14/23/1.pcap"));
    ck_assert(!exists("2024-01-14")); /* the emptied day goes too */
    ck_assert(!exists("2024-01-15/09"));
    ck_assert(exists("2024-01-15/10/3.pcap"));
    ck_assert(exists("2024-01-15/11/5.pcap"));
    ck_assert(exists("notes/xx/6.pcap"));
}
END_TEST

START_TEST(size_removes_oldest_hours_first_and_keeps_the_newest)
{
    /* 5000 bytes in four hours; 2500 allowed: the two oldest hours go (3000 left, still over,
     * then the 10:00 hour with 2000 goes too), and the newest hour always stays. */
    uint64_t removed = retention_prune_pcaps(root, 0, 2500);
    ck_assert_uint_eq(removed, 4);
    ck_assert(exists("2024-01-15/11/5.pcap"));
    ck_assert(!exists("2024-01-15/10"));
    /* Nothing more to do under a generous limit. */
    ck_assert_uint_eq(retention_prune_pcaps(root, 0, 1u << 30), 0);
    ck_assert(exists("2024-01-15/11/5.pcap"));
}
END_TEST

START_TEST(missing_directory_is_harmless)
{
    ck_assert_uint_eq(retention_prune_pcaps("/nonexistent/sipscope", at(2030, 1, 1, 0), 1), 0);
}
END_TEST

/* ---- size is what is on disk ---- */

/* Bytes the file rel really takes on disk (st_blocks), as retention counts them. */
static uint64_t on_disk(const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (uint64_t)st.st_blocks * 512;
}

START_TEST(size_counts_blocks_on_disk_not_apparent_size)
{
    /* A sparse file says 1 GB but takes (nearly) nothing: it must not make the tree look over
     * a 1 MB limit, which its apparent size would, and remove the older hours. */
    put_file("2024-01-15", "08", 7, 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/2024-01-15/08/7.pcap", root);
    ck_assert_int_eq(truncate(path, 1LL << 30), 0);
    uint64_t used = on_disk("2024-01-15/08/7.pcap");
    ck_assert_uint_lt(used, 1u << 20);
    ck_assert_uint_eq(retention_prune_pcaps(root, 0, 1u << 20), 0);
    ck_assert(exists("2024-01-14/23/1.pcap"));
    ck_assert(exists("2024-01-15/08/7.pcap"));
}
END_TEST

Suite *retention_suite(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("pcaps");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, age_removes_whole_hours_before_the_cutoff);
    tcase_add_test(tc, size_removes_oldest_hours_first_and_keeps_the_newest);
    tcase_add_test(tc, missing_directory_is_harmless);
    tcase_add_test(tc, size_counts_blocks_on_disk_not_apparent_size);
    suite_add_tcase(s, tc);
    return s;
}
