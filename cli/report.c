/* report: JSON report of analyze --json, built with jansson one record at a time. */
#include "report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "record_json.h"

struct report {
    FILE *calls; /* spooled ",\n"-joined JSON objects */
    FILE *streams;
    FILE *tls;  /* TLS connections, spooled the same way */
    FILE *dtmf; /* DTMF digits, likewise */
    unsigned long n_calls, n_streams, n_tls, n_dtmf;
    json_t *alerts; /* the latest version of each alert, by id (alerts are few: secmon caps
                       how many it raises per minute) */
    int error;
};

report_t *report_new(void)
{
    report_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->calls = tmpfile();
    r->streams = tmpfile();
    r->tls = tmpfile();
    r->dtmf = tmpfile();
    r->alerts = json_object();
    if (r->calls == NULL || r->streams == NULL || r->tls == NULL || r->dtmf == NULL ||
        r->alerts == NULL) {
        report_free(r);
        return NULL;
    }
    return r;
}

void report_free(report_t *r)
{
    if (r == NULL)
        return;
    if (r->calls)
        fclose(r->calls);
    if (r->streams)
        fclose(r->streams);
    if (r->tls)
        fclose(r->tls);
    if (r->dtmf)
        fclose(r->dtmf);
    json_decref(r->alerts);
    free(r);
}

static void spool(report_t *r, FILE *f, unsigned long *count, json_t *o)
{
    if (o == NULL) {
        r->error = -ENOMEM;
        return;
    }
    if (*count > 0)
        fputs(",\n", f);
    if (json_dumpf(o, f, JSON_COMPACT | JSON_REAL_PRECISION(16)) != 0)
        r->error = -EIO;
    (*count)++;
    json_decref(o);
}

void report_add_call(report_t *r, const call_record_t *call)
{
    spool(r, r->calls, &r->n_calls, api_call_json(call));
}

void report_add_stream(report_t *r, const stream_record_t *stream)
{
    spool(r, r->streams, &r->n_streams, api_stream_json(stream));
}

void report_add_dtmf(report_t *r, const dtmf_record_t *dtmf)
{
    spool(r, r->dtmf, &r->n_dtmf, record_json(&dtmf_record_desc, dtmf, 0));
}

void report_add_alert(report_t *r, const alert_record_t *alert)
{
    char key[32];
    snprintf(key, sizeof(key), "%lld", (long long)alert->id);
    json_t *o = api_alert_json(alert);
    if (o == NULL || json_object_set_new(r->alerts, key, o) != 0)
        r->error = -ENOMEM;
}

static int copy_spool(FILE *from, FILE *to)
{
    char buf[65536];
    size_t n;
    rewind(from);
    while ((n = fread(buf, 1, sizeof(buf), from)) > 0) {
        if (fwrite(buf, 1, n, to) != n)
            return -EIO;
    }
    return ferror(from) ? -EIO : 0;
}

void report_add_tls(report_t *r, const engine_tls_t *tls)
{
    char client[64], server[64];
    const tls_info_t *i = tls->info;
    const char *cipher = tls_cipher_name(i->cipher);
    char other[16];
    if (cipher == NULL) {
        snprintf(other, sizeof(other), "0x%04x", i->cipher);
        cipher = i->server_hello ? other : "";
    }
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I}", "client",
                  net_endpoint_str(&tls->client, client, sizeof(client)), "server",
                  net_endpoint_str(&tls->server, server, sizeof(server)), "sni", i->sni, "version",
                  i->server_hello ? tls_version_name(i->version) : "", "cipher", cipher,
                  "decrypted", i->decrypted, "records", (json_int_t)i->records, "auth_failures",
                  (json_int_t)i->auth_failures, "malformed", (json_int_t)i->malformed);
    spool(r, r->tls, &r->n_tls, o);
}

int report_write(report_t *r, const engine_totals_t *t, FILE *out)
{
    if (r->error != 0)
        return r->error;
    fprintf(out,
            "{\"packets\": %llu, \"bytes\": %llu, \"sip_messages\": %llu, \"rtp_packets\": %llu, "
            "\"rtcp_packets\": %llu, \"malformed\": %llu, \"undecoded\": %llu,",
            (unsigned long long)t->packets, (unsigned long long)t->bytes,
            (unsigned long long)t->sip_messages, (unsigned long long)t->rtp_packets,
            (unsigned long long)t->rtcp_packets, (unsigned long long)t->malformed,
            (unsigned long long)t->undecoded);
    /* Only where there was TLS, so that reports of captures without it keep their shape. */
    if (t->tls_sessions > 0)
        fprintf(out, " \"tls_sessions\": %llu, \"tls_decrypted\": %llu,",
                (unsigned long long)t->tls_sessions, (unsigned long long)t->tls_decrypted);
    /* Likewise only where frames came wrapped (tunnels, GTP-U, PPPoE, PPP in GRE, MPLS). */
    if (t->tunnels + t->gtpu + t->pppoe + t->gre_ppp + t->mpls > 0)
        fprintf(out,
                " \"encapsulations\": {\"tunnels\": %llu, \"gtpu\": %llu, \"pppoe\": %llu, "
                "\"gre_ppp\": %llu, \"mpls\": %llu},",
                (unsigned long long)t->tunnels, (unsigned long long)t->gtpu,
                (unsigned long long)t->pppoe, (unsigned long long)t->gre_ppp,
                (unsigned long long)t->mpls);
    fputs("\n\"calls\": [\n", out);
    int rc = copy_spool(r->calls, out);
    fputs("\n],\n\"streams\": [\n", out);
    if (rc == 0)
        rc = copy_spool(r->streams, out);
    fputs("\n],\n\"alerts\": [", out);
    const char *key;
    json_t *alert;
    bool first = true;
    json_object_foreach (r->alerts, key, alert) {
        fputs(first ? "\n" : ",\n", out);
        first = false;
        if (json_dumpf(alert, out, JSON_COMPACT | JSON_REAL_PRECISION(16)) != 0)
            rc = -EIO;
    }
    fputs("\n]", out);
    /* Only where there were DTMF digits, as tls. */
    if (r->n_dtmf > 0) {
        fputs(",\n\"dtmf\": [\n", out);
        if (rc == 0)
            rc = copy_spool(r->dtmf, out);
        fputs("\n]", out);
    }
    if (r->n_tls > 0) {
        fputs(",\n\"tls\": [\n", out);
        if (rc == 0)
            rc = copy_spool(r->tls, out);
        fputs("\n]", out);
    }
    fputs("\n}\n", out);
    if (fflush(out) != 0 || ferror(out))
        rc = -EIO;
    return rc;
}
