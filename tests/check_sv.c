/* check_sv: every public function of common/sv.h, with each input placed against a guard page
 * so that a read one byte past a view faults, and with the empty and NULL views the decoders
 * hand over when a field is absent. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "defs.h"
#include "guard.h"
#include "sv.h"

/* A view of len bytes of text whose last byte sits right before a PROT_NONE page. Valid until
 * the next guarded() or guard_place() call. */
static sv_t guarded(const char *text, size_t len)
{
    return sv_make(guard_place(text, len), len);
}

static sv_t guarded_cstr(const char *text)
{
    return guarded(text, strlen(text));
}

static void assert_view(sv_t got, const char *want)
{
    ck_assert_uint_eq(got.len, strlen(want));
    if (got.len > 0)
        ck_assert_int_eq(memcmp(got.p, want, got.len), 0);
}

START_TEST(test_make_and_literals)
{
    static const char text[] = "INVITE";
    sv_t v = sv_make(text, 3);
    ck_assert_ptr_eq(v.p, text);
    ck_assert_uint_eq(v.len, 3);

    sv_t lit = SV_LIT("Via");
    ck_assert_uint_eq(lit.len, 3);
    ck_assert_int_eq(memcmp(lit.p, "Via", 3), 0);
    ck_assert_uint_eq(SV_LIT("").len, 0);
    /* An embedded NUL counts: SV_LIT uses sizeof, not strlen. */
    ck_assert_uint_eq(SV_LIT("a\0b").len, 3);

    ck_assert_ptr_null(SV_NULL.p);
    ck_assert_uint_eq(SV_NULL.len, 0);
}
END_TEST

START_TEST(test_from_cstr)
{
    sv_t v = sv_from_cstr(NULL);
    ck_assert_ptr_null(v.p);
    ck_assert_uint_eq(v.len, 0);

    static const char empty[] = "";
    v = sv_from_cstr(empty);
    ck_assert_ptr_eq(v.p, empty);
    ck_assert_uint_eq(v.len, 0);

    const char *g = guard_place("sip:alice@example.com", sizeof("sip:alice@example.com"));
    v = sv_from_cstr(g);
    ck_assert_ptr_eq(v.p, g);
    assert_view(v, "sip:alice@example.com");

    /* Stops at the first NUL. */
    v = sv_from_cstr("ab\0cd");
    ck_assert_uint_eq(v.len, 2);
}
END_TEST

START_TEST(test_empty)
{
    ck_assert(sv_empty(SV_NULL));
    ck_assert(sv_empty(sv_make("abc", 0)));
    ck_assert(sv_empty(sv_from_cstr("")));
    ck_assert(!sv_empty(guarded("x", 1)));
    /* A lone NUL byte is one byte, not an empty view. */
    ck_assert(!sv_empty(sv_make("\0", 1)));
}
END_TEST

START_TEST(test_eq)
{
    ck_assert(sv_eq(SV_NULL, SV_NULL));
    ck_assert(sv_eq(SV_NULL, sv_make("abc", 0)));
    ck_assert(sv_eq(sv_make("abc", 0), SV_NULL));
    ck_assert(!sv_eq(SV_NULL, SV_LIT("a")));
    ck_assert(!sv_eq(SV_LIT("a"), SV_NULL));

    ck_assert(sv_eq(guarded_cstr("BYE"), SV_LIT("BYE")));
    ck_assert(sv_eq(SV_LIT("BYE"), guarded_cstr("BYE")));
    /* Exact bytes: case matters, length matters, on both sides. */
    ck_assert(!sv_eq(guarded_cstr("BYE"), SV_LIT("bye")));
    ck_assert(!sv_eq(guarded_cstr("BYE"), SV_LIT("BY")));
    ck_assert(!sv_eq(guarded_cstr("BY"), SV_LIT("BYE")));
    ck_assert(!sv_eq(guarded_cstr("BYE"), SV_LIT("BYX")));
    ck_assert(!sv_eq(guarded_cstr("XYE"), SV_LIT("BYE")));
    /* Bytes after a NUL are still compared. */
    ck_assert(sv_eq(guarded("a\0b", 3), SV_LIT("a\0b")));
    ck_assert(!sv_eq(guarded("a\0b", 3), SV_LIT("a\0c")));
    /* Views into the same buffer. */
    static const char text[] = "abcabc";
    ck_assert(sv_eq(sv_make(text, 3), sv_make(text + 3, 3)));
    ck_assert(sv_eq(sv_make(text, 6), sv_make(text, 6)));
}
END_TEST

/* Case-insensitive comparisons: text (the view, len bytes), lit, and whether they are equal
 * ignoring ASCII case. Used for sv_eq_ci, sv_eq_sv_ci and, with prefixes, sv_starts_with_ci. */
static const struct {
    const char *text;
    size_t len;
    const char *lit;
    bool equal;
} ci_cases[] = {
    {"INVITE", 6, "invite", true},
    {"invite", 6, "INVITE", true},
    {"InViTe", 6, "iNvItE", true},
    {"Content-Length", 14, "content-length", true},
    {"Via", 3, "Via", true},
    {"", 0, "", true},
    {"Via", 3, "Vi", false},
    {"Vi", 2, "Via", false},
    {"Via", 3, "Vib", false},
    {"Via", 3, "", false},
    {"", 0, "v", false},
    /* Only A-Z fold: '@' and '`', '[' and '{', '^' and '~' are 0x20 apart but are not letters. */
    {"@", 1, "`", false},
    {"`", 1, "@", false},
    {"[", 1, "{", false},
    {"{", 1, "[", false},
    {"^", 1, "~", false},
    /* Digits and punctuation compare exactly. */
    {"tag=1;x-y", 9, "TAG=1;X-Y", true},
    {"1", 1, "q", false},
    /* No locale folding: Latin-1 and UTF-8 bytes compare exactly. */
    {"\xC4", 1, "\xE4", false},
    {"\xC3\x84", 2, "\xC3\xA4", false},
    {"\xC3\x84", 2, "\xC3\x84", true},
    /* A NUL inside the view never matches the end of the literal. */
    {"a\0", 2, "a", false},
    {"a\0b", 3, "a", false},
};

START_TEST(test_eq_ci)
{
    const char *text = ci_cases[_i].text;
    size_t len = ci_cases[_i].len;
    const char *lit = ci_cases[_i].lit;
    bool equal = ci_cases[_i].equal;

    ck_assert_msg(sv_eq_ci(guarded(text, len), lit) == equal, "sv_eq_ci(\"%.*s\", \"%s\")",
                  (int)len, text, lit);

    /* sv_eq_sv_ci in both orders, each side against the guard page in turn. */
    sv_t other = sv_from_cstr(lit);
    ck_assert_msg(sv_eq_sv_ci(guarded(text, len), other) == equal, "case %d", _i);
    ck_assert_msg(sv_eq_sv_ci(other, guarded(text, len)) == equal, "case %d", _i);
    sv_t mine = sv_make(text, len);
    ck_assert_msg(sv_eq_sv_ci(mine, guarded_cstr(lit)) == equal, "case %d", _i);
    ck_assert_msg(sv_eq_sv_ci(guarded_cstr(lit), mine) == equal, "case %d", _i);

    /* Equal ignoring case implies each starts with the other. */
    if (equal)
        ck_assert(sv_starts_with_ci(guarded(text, len), lit));
}
END_TEST

START_TEST(test_eq_ci_null)
{
    ck_assert(sv_eq_ci(SV_NULL, ""));
    ck_assert(!sv_eq_ci(SV_NULL, "a"));
    ck_assert(sv_eq_sv_ci(SV_NULL, SV_NULL));
    ck_assert(sv_eq_sv_ci(SV_NULL, sv_make("x", 0)));
    ck_assert(!sv_eq_sv_ci(SV_NULL, SV_LIT("a")));
    ck_assert(!sv_eq_sv_ci(SV_LIT("a"), SV_NULL));
}
END_TEST

START_TEST(test_eq_ci_every_letter)
{
    /* Every byte value against every other: equal only when identical or an A-Z/a-z pair. */
    for (int a = 1; a < 256; a++) {
        for (int b = 1; b < 256; b++) {
            char ta = (char)a, lb[2] = {(char)b, '\0'};
            bool letters =
                (a >= 'A' && a <= 'Z' && b == a + 32) || (a >= 'a' && a <= 'z' && b == a - 32);
            bool want = a == b || letters;
            ck_assert_msg(sv_eq_ci(sv_make(&ta, 1), lb) == want, "0x%02x vs 0x%02x", a, b);
            ck_assert_msg(sv_eq_sv_ci(sv_make(&ta, 1), sv_make(lb, 1)) == want, "0x%02x vs 0x%02x",
                          a, b);
        }
    }
}
END_TEST

START_TEST(test_starts_with_ci)
{
    ck_assert(sv_starts_with_ci(guarded_cstr("Content-Length: 5"), "content-"));
    ck_assert(sv_starts_with_ci(guarded_cstr("Content-Length: 5"), "CONTENT-LENGTH: 5"));
    ck_assert(sv_starts_with_ci(guarded_cstr("sip:bob@example.com"), "SIP:"));
    ck_assert(!sv_starts_with_ci(guarded_cstr("sips:bob@example.com"), "sip:b"));
    /* The literal is longer than the view: false, and nothing past the view is read. */
    ck_assert(!sv_starts_with_ci(guarded_cstr("Via"), "via:"));
    ck_assert(!sv_starts_with_ci(guarded("", 0), "v"));
    ck_assert(!sv_starts_with_ci(SV_NULL, "v"));
    /* The empty prefix starts everything, the NULL view included. */
    ck_assert(sv_starts_with_ci(guarded_cstr("x"), ""));
    ck_assert(sv_starts_with_ci(guarded("", 0), ""));
    ck_assert(sv_starts_with_ci(SV_NULL, ""));
    /* Only A-Z fold. */
    ck_assert(!sv_starts_with_ci(guarded_cstr("@a"), "`"));
    ck_assert(sv_starts_with_ci(guarded("a\0b", 3), "A"));
}
END_TEST

static const struct {
    const char *text;
    const char *want;
    size_t skip; /* bytes trimmed from the front */
} trims[] = {
    {"abc", "abc", 0},
    {"  abc", "abc", 2},
    {"abc  ", "abc", 0},
    {" \t\r\n abc \r\n\t ", "abc", 5},
    {"  a b\tc  ", "a b\tc", 2},
    {"\r\n", "", 2},
    {" ", "", 1},
    {"    ", "", 4},
    {"", "", 0},
    /* Only SP, HTAB, CR and LF: VT, FF and NUL stay. */
    {"\vabc\f", "\vabc\f", 0},
    {" \f x", "\f x", 1},
    {"x\x01 ", "x\x01", 0},
};

START_TEST(test_trim)
{
    const char *text = trims[_i].text;
    sv_t in = guarded_cstr(text);
    sv_t out = sv_trim(in);
    assert_view(out, trims[_i].want);
    /* The result points into the input, never into a copy. */
    ck_assert_ptr_eq(out.p, in.p + trims[_i].skip);
}
END_TEST

START_TEST(test_trim_null)
{
    sv_t out = sv_trim(SV_NULL);
    ck_assert_ptr_null(out.p);
    ck_assert_uint_eq(out.len, 0);
    /* A trailing NUL is not space. */
    out = sv_trim(guarded(" a\0", 3));
    ck_assert_uint_eq(out.len, 2);
}
END_TEST

START_TEST(test_slice)
{
    sv_t s = guarded_cstr("abcdef");
    sv_t out = sv_slice(s, 0, 6);
    ck_assert_ptr_eq(out.p, s.p);
    ck_assert_uint_eq(out.len, 6);

    out = sv_slice(s, 1, 3);
    ck_assert_ptr_eq(out.p, s.p + 1);
    assert_view(out, "bcd");

    out = sv_slice(s, 2, 0);
    ck_assert_ptr_eq(out.p, s.p + 2);
    ck_assert_uint_eq(out.len, 0);

    /* len past the end is clamped to the rest. */
    out = sv_slice(s, 4, 10);
    ck_assert_ptr_eq(out.p, s.p + 4);
    assert_view(out, "ef");
    out = sv_slice(s, 0, SIZE_MAX);
    assert_view(out, "abcdef");
    out = sv_slice(s, 5, SIZE_MAX);
    assert_view(out, "f");

    /* off at or past the end gives the empty view at the end, never beyond it. */
    out = sv_slice(s, 6, 1);
    ck_assert_ptr_eq(out.p, s.p + 6);
    ck_assert_uint_eq(out.len, 0);
    out = sv_slice(s, 7, 1);
    ck_assert_ptr_eq(out.p, s.p + 6);
    ck_assert_uint_eq(out.len, 0);
    out = sv_slice(s, SIZE_MAX, SIZE_MAX);
    ck_assert_ptr_eq(out.p, s.p + 6);
    ck_assert_uint_eq(out.len, 0);

    /* The NULL view slices to itself. */
    out = sv_slice(SV_NULL, 0, 0);
    ck_assert_ptr_null(out.p);
    ck_assert_uint_eq(out.len, 0);
    out = sv_slice(SV_NULL, 5, 5);
    ck_assert_ptr_null(out.p);
    ck_assert_uint_eq(out.len, 0);

    /* An empty (non-NULL) view slices to itself. */
    sv_t e = guarded("", 0);
    out = sv_slice(e, 3, 3);
    ck_assert_ptr_eq(out.p, e.p);
    ck_assert_uint_eq(out.len, 0);
}
END_TEST

START_TEST(test_index)
{
    sv_t s = guarded_cstr("a=b;c=d");
    ck_assert_uint_eq(sv_index(s, '='), 1);
    ck_assert_uint_eq(sv_index(s, ';'), 3);
    ck_assert_uint_eq(sv_index(s, 'a'), 0);
    /* The last byte, right before the guard page. */
    ck_assert_uint_eq(sv_index(s, 'd'), 6);
    ck_assert_uint_eq(sv_index(s, 'x'), SIZE_MAX);
    ck_assert_uint_eq(sv_index(s, 'A'), SIZE_MAX);
    /* Within the view only: the byte after it does not count. */
    static const char text[] = "abc:";
    ck_assert_uint_eq(sv_index(sv_make(text, 3), ':'), SIZE_MAX);
    /* NUL and high bytes are ordinary bytes. */
    ck_assert_uint_eq(sv_index(guarded("a\0b", 3), '\0'), 1);
    ck_assert_uint_eq(sv_index(guarded("a\xff", 2), '\xff'), 1);
    ck_assert_uint_eq(sv_index(guarded("", 0), 'a'), SIZE_MAX);
    ck_assert_uint_eq(sv_index(SV_NULL, 'a'), SIZE_MAX);
    ck_assert_uint_eq(sv_index(SV_NULL, '\0'), SIZE_MAX);
}
END_TEST

static const struct {
    const char *text;
    char sep;
    bool found;
    const char *head, *tail;
} splits[] = {
    {"a=b", '=', true, "a", "b"},   {"a=b=c", '=', true, "a", "b=c"},
    {"=b", '=', true, "", "b"},     {"a=", '=', true, "a", ""},
    {"=", '=', true, "", ""},       {"user@host", '@', true, "user", "host"},
    {"abc", '=', false, "abc", ""}, {"", '=', false, "", ""},
};

START_TEST(test_split_once)
{
    sv_t s = guarded_cstr(splits[_i].text);
    sv_t head = SV_LIT("junk"), tail = SV_LIT("junk");
    ck_assert(sv_split_once(s, splits[_i].sep, &head, &tail) == splits[_i].found);
    assert_view(head, splits[_i].head);
    assert_view(tail, splits[_i].tail);
    ck_assert_ptr_eq(head.p, s.p);
    /* The tail always points inside or just past the input; when the separator is absent it
     * is the empty view at the end. */
    ck_assert_ptr_eq(tail.p + tail.len, s.p + s.len);
}
END_TEST

START_TEST(test_split_once_null)
{
    sv_t head = SV_LIT("junk"), tail = SV_LIT("junk");
    ck_assert(!sv_split_once(SV_NULL, '=', &head, &tail));
    ck_assert_ptr_null(head.p);
    ck_assert_uint_eq(head.len, 0);
    ck_assert_ptr_null(tail.p);
    ck_assert_uint_eq(tail.len, 0);
    /* NUL is a separator like any other. */
    ck_assert(sv_split_once(guarded("a\0b", 3), '\0', &head, &tail));
    assert_view(head, "a");
    assert_view(tail, "b");
}
END_TEST

/* Numbers: text (len bytes), whether it parses as u64 and u32, and its value. */
static const struct {
    const char *text;
    size_t len;
    bool ok64, ok32;
    uint64_t value;
} numbers[] = {
    {"0", 1, true, true, 0},
    {"7", 1, true, true, 7},
    {"5060", 4, true, true, 5060},
    {"000", 3, true, true, 0},
    {"00000000000000000000000000000042", 32, true, true, 42},
    {"4294967295", 10, true, true, UINT32_MAX},
    {"04294967295", 11, true, true, UINT32_MAX},
    {"4294967296", 10, true, false, UINT64_C(4294967296)},
    {"9999999999", 10, true, false, UINT64_C(9999999999)},
    {"18446744073709551615", 20, true, false, UINT64_MAX},
    {"018446744073709551615", 21, true, false, UINT64_MAX},
    {"18446744073709551616", 20, false, false, 0},
    {"18446744073709551620", 20, false, false, 0},
    {"19999999999999999999", 20, false, false, 0},
    {"99999999999999999999", 20, false, false, 0},
    {"184467440737095516150", 21, false, false, 0},
    {"", 0, false, false, 0},
    {"+1", 2, false, false, 0},
    {"-1", 2, false, false, 0},
    {"-0", 2, false, false, 0},
    {" 1", 2, false, false, 0},
    {"1 ", 2, false, false, 0},
    {"1\r\n", 3, false, false, 0},
    {"1a", 2, false, false, 0},
    {"0x10", 4, false, false, 0},
    {"1e3", 3, false, false, 0},
    {"1.0", 3, false, false, 0},
    {"1,000", 5, false, false, 0},
    /* The bytes either side of '0'..'9' in ASCII. */
    {"/", 1, false, false, 0},
    {":", 1, false, false, 0},
    {"12/", 3, false, false, 0},
    {"12:", 3, false, false, 0},
    /* An embedded NUL ends nothing: the whole view must be digits. */
    {"12\0", 3, false, false, 0},
    {"\0"
     "12",
     3, false, false, 0},
    /* High bytes, which a signed char would turn negative. */
    {"\xb0", 1, false, false, 0},
    {"1\xb9", 2, false, false, 0},
    /* Fullwidth digit one (U+FF11). */
    {"\xef\xbc\x91", 3, false, false, 0},
};

START_TEST(test_to_u64)
{
    const char *text = numbers[_i].text;
    size_t len = numbers[_i].len;
    uint64_t v64 = UINT64_C(0xdeadbeefcafe);
    bool ok = sv_to_u64(guarded(text, len), &v64);
    ck_assert_msg(ok == numbers[_i].ok64, "sv_to_u64 case %d", _i);
    /* On failure the output is left alone. */
    ck_assert_uint_eq(v64, ok ? numbers[_i].value : UINT64_C(0xdeadbeefcafe));

    uint32_t v32 = 0xfeedfaceu;
    ok = sv_to_u32(guarded(text, len), &v32);
    ck_assert_msg(ok == numbers[_i].ok32, "sv_to_u32 case %d", _i);
    ck_assert_uint_eq(v32, ok ? (uint32_t)numbers[_i].value : 0xfeedfaceu);
}
END_TEST

START_TEST(test_to_u_null)
{
    uint64_t v64 = 99;
    uint32_t v32 = 99;
    ck_assert(!sv_to_u64(SV_NULL, &v64));
    ck_assert(!sv_to_u32(SV_NULL, &v32));
    ck_assert_uint_eq(v64, 99);
    ck_assert_uint_eq(v32, 99);
    /* Within the view only: the digits after it do not count. */
    static const char text[] = "123456";
    ck_assert(sv_to_u32(sv_make(text, 3), &v32));
    ck_assert_uint_eq(v32, 123);
}
END_TEST

/* Values around every power of ten and both limits print and parse back to themselves; one
 * more than each limit fails. */
START_TEST(test_to_u_round_trip)
{
    char buf[32];
    for (uint64_t p = 1;; p *= 10) {
        /* 2p and 5p - 1 only while they fit: 10^19 is the last power of ten that does. */
        const uint64_t around[] = {p - 1, p, p + 1, p * 2, p * 5 - 1};
        size_t n_around = p <= UINT64_MAX / 5 ? ARRAY_LEN(around) : 3;
        for (size_t i = 0; i < n_around; i++) {
            uint64_t want = around[i], got64 = 0;
            int n = snprintf(buf, sizeof(buf), "%" PRIu64, want);
            ck_assert(n > 0 && (size_t)n < sizeof(buf));
            ck_assert(sv_to_u64(guarded(buf, (size_t)n), &got64));
            ck_assert_uint_eq(got64, want);
            uint32_t got32 = 0;
            ck_assert(sv_to_u32(guarded(buf, (size_t)n), &got32) == (want <= UINT32_MAX));
            if (want <= UINT32_MAX)
                ck_assert_uint_eq(got32, want);
        }
        if (p > UINT64_MAX / 10)
            break;
    }
    for (uint64_t d = 0; d < 1000; d++) {
        uint64_t want = UINT64_MAX - d, got64 = 0;
        int n = snprintf(buf, sizeof(buf), "%" PRIu64, want);
        ck_assert(sv_to_u64(guarded(buf, (size_t)n), &got64));
        ck_assert_uint_eq(got64, want);
        want = UINT32_MAX - d;
        uint32_t got32 = 0;
        n = snprintf(buf, sizeof(buf), "%" PRIu64, want);
        ck_assert(sv_to_u32(guarded(buf, (size_t)n), &got32));
        ck_assert_uint_eq(got32, want);
        /* One to a thousand past UINT32_MAX. */
        n = snprintf(buf, sizeof(buf), "%" PRIu64, (uint64_t)UINT32_MAX + 1 + d);
        ck_assert(!sv_to_u32(guarded(buf, (size_t)n), &got32));
    }
    /* Every prefix of a long number is its own number. */
    static const char digits[] = "12345678901234567890";
    uint64_t want = 0;
    for (size_t len = 1; len < sizeof(digits) - 1; len++) {
        want = want * 10 + (uint64_t)(digits[len - 1] - '0');
        uint64_t got = 0;
        ck_assert(sv_to_u64(guarded(digits, len), &got));
        ck_assert_uint_eq(got, want);
    }
}
END_TEST

START_TEST(test_copy)
{
    char *buf = guard_buffer(8, 'x');
    /* cap 0 writes nothing. */
    ck_assert_uint_eq(sv_copy(SV_LIT("abc"), buf, 0), 0);
    ck_assert_int_eq(buf[0], 'x');

    /* Fits: every byte plus the NUL. */
    buf = guard_buffer(4, 'x');
    ck_assert_uint_eq(sv_copy(SV_LIT("abc"), buf, 4), 3);
    ck_assert_str_eq(buf, "abc");

    /* Too long: truncated to cap - 1 bytes and still terminated, the NUL in the last byte
     * before the guard page. */
    for (size_t cap = 1; cap <= 4; cap++) {
        buf = guard_buffer(cap, 'x');
        ck_assert_uint_eq(sv_copy(SV_LIT("abcdef"), buf, cap), cap - 1);
        ck_assert_uint_eq(strlen(buf), cap - 1);
        ck_assert_int_eq(strncmp(buf, "abcdef", cap - 1), 0);
    }

    /* Empty and NULL views give the empty string. */
    buf = guard_buffer(1, 'x');
    ck_assert_uint_eq(sv_copy(SV_NULL, buf, 1), 0);
    ck_assert_str_eq(buf, "");
    buf = guard_buffer(4, 'x');
    ck_assert_uint_eq(sv_copy(SV_NULL, buf, 4), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(buf[1], 'x');

    /* Bytes are copied as they are, NULs included; the count says how many. */
    char out[8];
    memset(out, 'x', sizeof(out));
    ck_assert_uint_eq(sv_copy(SV_LIT("a\0b"), out, sizeof(out)), 3);
    ck_assert_int_eq(memcmp(out, "a\0b\0", 4), 0);
    ck_assert_int_eq(out[4], 'x');

    /* A guarded source: the copy reads exactly len bytes. */
    sv_t src = guarded_cstr("sip:carol@example.org");
    char big[64];
    ck_assert_uint_eq(sv_copy(src, big, sizeof(big)), src.len);
    ck_assert_str_eq(big, "sip:carol@example.org");
}
END_TEST

/* SV_ARG's two halves, taken apart. */
static void sv_arg_halves(int *n, const char **p, int n_in, const char *p_in)
{
    *n = n_in;
    *p = p_in;
}

START_TEST(test_sv_arg)
{
    char buf[16];
    static const char text[] = "abcdef";
    sv_t v = sv_make(text, 3);
    ck_assert_int_eq(snprintf(buf, sizeof(buf), "[%.*s]", SV_ARG(v)), 5);
    ck_assert_str_eq(buf, "[abc]");
    /* NULL prints as nothing instead of "(null)" or a crash. */
    ck_assert_int_eq(snprintf(buf, sizeof(buf), "[%.*s]", SV_ARG(SV_NULL)), 2);
    ck_assert_str_eq(buf, "[]");

    /* A length past INT_MAX is clamped rather than wrapped to a negative precision. */
    int n = 0;
    const char *p = NULL;
    sv_arg_halves(&n, &p, SV_ARG(sv_make(text, (size_t)1 << 32)));
    ck_assert_int_eq(n, 0x7fffffff);
    ck_assert_ptr_eq(p, text);
    sv_arg_halves(&n, &p, SV_ARG(sv_make(text, (size_t)0x80000000u)));
    ck_assert_int_eq(n, 0x7fffffff);
    sv_arg_halves(&n, &p, SV_ARG(sv_make(text, (size_t)0x7fffffff)));
    ck_assert_int_eq(n, 0x7fffffff);
    sv_arg_halves(&n, &p, SV_ARG(SV_NULL));
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(p, "");
}
END_TEST

Suite *sv_suite(void)
{
    Suite *s = suite_create("sv");

    TCase *tc = tcase_create("views");
    tcase_add_test(tc, test_make_and_literals);
    tcase_add_test(tc, test_from_cstr);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_sv_arg);
    suite_add_tcase(s, tc);

    tc = tcase_create("compare");
    tcase_add_test(tc, test_eq);
    tcase_add_loop_test(tc, test_eq_ci, 0, (int)ARRAY_LEN(ci_cases));
    tcase_add_test(tc, test_eq_ci_null);
    tcase_add_test(tc, test_eq_ci_every_letter);
    tcase_add_test(tc, test_starts_with_ci);
    suite_add_tcase(s, tc);

    tc = tcase_create("cut");
    tcase_add_loop_test(tc, test_trim, 0, (int)ARRAY_LEN(trims));
    tcase_add_test(tc, test_trim_null);
    tcase_add_test(tc, test_slice);
    tcase_add_test(tc, test_index);
    tcase_add_loop_test(tc, test_split_once, 0, (int)ARRAY_LEN(splits));
    tcase_add_test(tc, test_split_once_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("numbers");
    tcase_add_loop_test(tc, test_to_u64, 0, (int)ARRAY_LEN(numbers));
    tcase_add_test(tc, test_to_u_null);
    tcase_add_test(tc, test_to_u_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("copy");
    tcase_add_test(tc, test_copy);
    suite_add_tcase(s, tc);
    return s;
}
