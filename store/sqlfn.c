/* sqlfn: SQL functions the store's queries use, registered on every connection at open.
 *
 *   sipscope_ip_in(endpoint, net, prefix): 1 when the "IP:PORT" text endpoint (or a bare
 *   address) lies in the network net ("10.0.0.0", "2001:db8::") of prefix bits, else 0; NULL
 *   or unparsable endpoints give 0. The network is parsed once per statement (auxdata).
 *   sipscope_sip_user_is(raw, user): 1 when user is the user part of the From or To URI of the
 *   SIP message text raw (exact), else 0. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "netaddr.h"
#include "sip_peek.h"

/* Does a lie in net's first prefix bits (same family)? */
bool store_int_addr_in_net(const net_addr_t *a, const net_addr_t *net, unsigned prefix)
{
    if (a->family == 0 || a->family != net->family)
        return false;
    unsigned bits = a->family == 4 ? 32 : 128;
    if (prefix > bits)
        prefix = bits;
    unsigned whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a->bytes, net->bytes, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->bytes[whole] & mask) == (net->bytes[whole] & mask);
}

static void fn_ip_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    net_addr_t *net = sqlite3_get_auxdata(ctx, 1);
    if (net == NULL) {
        const unsigned char *t = sqlite3_value_text(argv[1]);
        net = calloc(1, sizeof(*net));
        if (net == NULL) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (t == NULL ||
            !net_addr_parse(sv_make((const char *)t, (size_t)sqlite3_value_bytes(argv[1])), net))
            net->family = 0; /* matches nothing */
        sqlite3_set_auxdata(ctx, 1, net, free);
        net = sqlite3_get_auxdata(ctx, 1);
        if (net == NULL) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    const unsigned char *e = sqlite3_value_text(argv[0]);
    int64_t prefix = sqlite3_value_int64(argv[2]);
    net_endpoint_t ep;
    net_addr_t a = {0};
    if (e != NULL) {
        sv_t text = sv_make((const char *)e, (size_t)sqlite3_value_bytes(argv[0]));
        if (net_endpoint_parse(text, &ep))
            a = ep.addr;
        else if (!net_addr_parse(text, &a))
            memset(&a, 0, sizeof(a));
    }
    sqlite3_result_int(ctx, prefix >= 0 && store_int_addr_in_net(&a, net, (unsigned)prefix));
}

static bool header_user_is(sv_t msg, const char *name, char compact, sv_t user)
{
    sv_t u = sip_peek_user(sip_peek_uri(sip_peek_header(msg, name, compact)));
    return u.len > 0 && sv_eq(u, user);
}

static void fn_sip_user_is(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *raw = sqlite3_value_text(argv[0]);
    const unsigned char *user = sqlite3_value_text(argv[1]);
    if (raw == NULL || user == NULL) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    sv_t msg = sv_make((const char *)raw, (size_t)sqlite3_value_bytes(argv[0]));
    sv_t u = sv_make((const char *)user, (size_t)sqlite3_value_bytes(argv[1]));
    sqlite3_result_int(ctx,
                       header_user_is(msg, "From", 'f', u) || header_user_is(msg, "To", 't', u));
}

int store_int_register_functions(store_t *s)
{
    const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    int rc = sqlite3_create_function(store_int_db(s), "sipscope_ip_in", 3, flags, NULL, fn_ip_in,
                                     NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(store_int_db(s), "sipscope_sip_user_is", 2, flags, NULL,
                                     fn_sip_user_is, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_int_fail_sql(s, rc, "register SQL functions");
}
