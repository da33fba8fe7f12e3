/* store_write: calls, streams, samples and messages into the batch; the capture totals. */
#include "store.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "defs.h"
#include "store_int.h"
#include "sv.h"

/* The user part of a SIP/SIPS/TEL URI: "sip:alice:pw@host;x" -> "alice",
 * "sip:+1555;npdi@host" -> "+1555", "tel:+1555;phone-context=x" -> "+1555", "sip:host" -> "".
 * Tolerates a name-addr ("Bob <sip:bob@x>"). A view into uri; empty if none. */
static sv_t uri_user(const char *uri)
{
    sv_t s = sv_from_cstr(uri);
    size_t lt = sv_index(s, '<');
    if (lt != SIZE_MAX)
        s = sv_slice(s, lt + 1, SIZE_MAX);
    s = sv_trim(s);
    size_t colon = sv_index(s, ':');
    bool tel = false;
    if (colon != SIZE_MAX) {
        sv_t scheme = sv_slice(s, 0, colon);
        if (sv_eq_ci(scheme, "sip") || sv_eq_ci(scheme, "sips") || sv_eq_ci(scheme, "tel")) {
            tel = sv_eq_ci(scheme, "tel");
            s = sv_slice(s, colon + 1, SIZE_MAX);
        }
    }
    /* The userinfo ends at the first '@' before any header part or closing '>'. */
    size_t end = 0;
    while (end < s.len && s.p[end] != '@' && s.p[end] != '>' && s.p[end] != '?')
        end++;
    sv_t user;
    if (end < s.len && s.p[end] == '@')
        user = sv_slice(s, 0, end);
    else if (tel)
        user = sv_slice(s, 0, end);
    else
        return sv_make(s.p, 0);
    /* Drop a password (':') and user parameters (';'). */
    size_t cut = 0;
    while (cut < user.len && user.p[cut] != ':' && user.p[cut] != ';')
        cut++;
    return sv_slice(user, 0, cut);
}

/* ---- Records. Each binds its row in the column order of its statement (write_sql, store.c). */

int store_put_call(store_t *s, const call_record_t *c)
{
    binder_t b;
    int err = store_int_put_begin(s, ST_PUT_CALL, &b);
    if (err != 0)
        return err;
    sv_t from_user = uri_user(c->from_uri), to_user = uri_user(c->to_uri);
    b_i64(&b, c->id);
    b_str(&b, c->call_id);
    b_str(&b, c->from_uri);
    b_str(&b, c->to_uri);
    b_text(&b, c->from_uri ? from_user.p : NULL, from_user.len);
    b_text(&b, c->to_uri ? to_user.p : NULL, to_user.len);
    b_str(&b, c->from_tag);
    b_str(&b, c->to_tag);
    b_str(&b, c->user_agent);
    b_endpoint(&b, &c->caller);
    b_endpoint(&b, &c->callee);
    b_str(&b, call_state_name(c->state));
    if (c->final_status)
        b_i64(&b, c->final_status);
    else
        b_null(&b);
    b_time(&b, c->invite_ns);
    b_time(&b, c->ringing_ns);
    b_time(&b, c->answer_ns);
    b_time(&b, c->end_ns);
    if (c->post_dial_delay_ns >= 0)
        b_dbl(&b, (double)c->post_dial_delay_ns / 1e6);
    else
        b_null(&b);
    if (c->duration_ns >= 0)
        b_dbl(&b, (double)c->duration_ns / 1e9);
    else
        b_null(&b);
    b_i64(&b, c->one_way);
    b_i64(&b, c->nat);
    b_i64(&b, c->sip_messages);
    if (c->mos > 0)
        b_dbl(&b, c->mos);
    else
        b_null(&b);
    return store_int_put_end(s, &b, "put call");
}

int store_put_stream(store_t *s, const stream_record_t *r)
{
    binder_t b;
    int err = store_int_put_begin(s, ST_PUT_STREAM, &b);
    if (err != 0)
        return err;
    b_i64(&b, r->id);
    if (r->call_row)
        b_i64(&b, r->call_row);
    else
        b_null(&b);
    b_str(&b, r->call_id);
    b_endpoint(&b, &r->src);
    b_endpoint(&b, &r->dst);
    b_i64(&b, r->ssrc);
    b_i64(&b, r->payload_type);
    b_str(&b, r->codec);
    b_i64(&b, r->clock_rate);
    b_time(&b, r->first_ns);
    b_time(&b, r->last_ns);
    b_i64(&b, (int64_t)r->packets);
    b_i64(&b, r->lost);
    b_i64(&b, (int64_t)r->duplicates);
    b_i64(&b, (int64_t)r->out_of_order);
    b_i64(&b, (int64_t)r->seq_errors);
    b_dbl(&b, r->max_delta_ms);
    b_dbl(&b, r->mean_jitter_ms);
    b_dbl(&b, r->max_jitter_ms);
    b_dbl(&b, r->mos);
    b_i64(&b, r->sdp_mismatch);
    if (r->have_rtcp) {
        b_dbl(&b, r->rtcp_fraction_lost);
        b_i64(&b, r->rtcp_cumulative_lost);
        b_dbl(&b, r->rtcp_jitter_ms);
        if (r->rtcp_rtt_ms >= 0)
            b_dbl(&b, r->rtcp_rtt_ms);
        else
            b_null(&b);
    } else {
        for (int i = 0; i < 4; i++)
            b_null(&b);
    }
    return store_int_put_end(s, &b, "put stream");
}

int store_put_sample(store_t *s, const sample_record_t *r)
{
    binder_t b;
    int err = store_int_put_begin(s, ST_PUT_SAMPLE, &b);
    if (err != 0)
        return err;
    b_i64(&b, r->stream_row);
    b_dbl(&b, store_int_ns_to_sec(r->start_ns)); /* part of the key: never NULL */
    b_i64(&b, r->packets);
    b_i64(&b, r->lost);
    b_dbl(&b, r->jitter_ms);
    b_dbl(&b, r->max_jitter_ms);
    b_dbl(&b, r->mos);
    return store_int_put_end(s, &b, "put sample");
}

int store_put_message(store_t *s, const message_record_t *m)
{
    return store_put_message_id(s, m, NULL);
}

int store_put_message_id(store_t *s, const message_record_t *m, int64_t *id_out)
{
    binder_t b;
    int err = store_int_put_begin(s, ST_PUT_MESSAGE, &b);
    if (err != 0)
        return err;
    if (m->call_row)
        b_i64(&b, m->call_row);
    else
        b_null(&b);
    b_str(&b, m->call_id);
    b_time(&b, m->ts_ns);
    b_endpoint(&b, &m->src);
    b_endpoint(&b, &m->dst);
    b_i64(&b, m->transport);
    b_i64(&b, m->is_request);
    b_str(&b, m->method);
    if (m->status)
        b_i64(&b, m->status);
    else
        b_null(&b);
    b_i64(&b, m->cseq);
    b_text(&b, m->raw, m->raw ? m->raw_len : 0);
    if (m->has_probe)
        b_i64(&b, m->probe_id);
    else
        b_null(&b);
    err = store_int_put_end(s, &b, "put message");
    if (err == 0 && id_out != NULL)
        *id_out = sqlite3_last_insert_rowid(store_int_db(s));
    return err;
}

/* ---- Totals: counters added up across captures, kept in meta.
 *
 * The totals and their meta keys, in one place. */
static const struct {
    const char *key;
    size_t off;
} totals[] = {
    {"packets", offsetof(store_meta_t, packets)},
    {"bytes", offsetof(store_meta_t, bytes)},
    {"sip_messages", offsetof(store_meta_t, sip_messages)},
    {"rtp_packets", offsetof(store_meta_t, rtp_packets)},
    {"rtcp_packets", offsetof(store_meta_t, rtcp_packets)},
    {"malformed", offsetof(store_meta_t, malformed)},
};

#define NTOTALS ARRAY_LEN(totals)

int store_add_totals(store_t *s, const store_meta_t *m)
{
    int err = 0;
    for (size_t i = 0; err == 0 && i < NTOTALS; i++) {
        uint64_t v;
        memcpy(&v, (const char *)m + totals[i].off, sizeof(v));
        binder_t b;
        err = store_int_put_begin(s, ST_ADD_META, &b);
        if (err == 0) {
            b_str(&b, totals[i].key);
            b_i64(&b, v > INT64_MAX ? INT64_MAX : (int64_t)v);
            err = store_int_put_end(s, &b, "add totals");
        }
    }
    return err;
}

int store_get_totals(store_t *s, store_meta_t *out)
{
    int err = 0;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; err == 0 && i < NTOTALS; i++) {
        int64_t v = 0;
        err = store_get_meta_i64(s, totals[i].key, &v);
        if (err == -ENOENT)
            err = 0;
        uint64_t u = v > 0 ? (uint64_t)v : 0;
        memcpy((char *)out + totals[i].off, &u, sizeof(u));
    }
    return err;
}

/* ---- Ids. */

int64_t store_next_id(store_t *s)
{
    int64_t max = 0;
    int err = store_int_check_open(s);
    if (err == 0)
        err = store_int_query_i64(s,
                                  "SELECT max(coalesce((SELECT max(id) FROM calls), 0),"
                                  " coalesce((SELECT max(id) FROM rtp_streams), 0))",
                                  &max);
    return err == 0 && max < INT64_MAX ? max + 1 : 0;
}
