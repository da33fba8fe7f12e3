/* json: the records' JSON shapes, named for the report and the API; the descriptors of
 * common/record_desc.h say what is in them and common/record_json.c writes them. */
#include "json.h"

#include "record_json.h"

double api_time(int64_t ns)
{
    return record_json_seconds(ns);
}

json_t *api_time_json(int64_t ns)
{
    return record_json_time(ns);
}

json_t *api_endpoint_json(const net_endpoint_t *e)
{
    return record_json_endpoint(e);
}

json_t *api_call_json(const call_record_t *c)
{
    return record_json(&call_record_desc, c, 0);
}

json_t *api_call_row_json(const call_record_t *c)
{
    return record_json(&call_record_desc, c, RECORD_JSON_API);
}

json_t *api_stream_json(const stream_record_t *s)
{
    return record_json(&stream_record_desc, s, 0);
}

json_t *api_stream_row_json(const stream_record_t *s)
{
    return record_json(&stream_record_desc, s, RECORD_JSON_API);
}

json_t *api_sample_json(const sample_record_t *r)
{
    return record_json(&sample_record_desc, r, RECORD_JSON_API);
}

json_t *api_message_json(int64_t id, const message_record_t *m, bool with_raw)
{
    /* The row id is not part of the record: the store hands it over beside it. */
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, "id", json_integer(id)) != 0 ||
        record_json_add(o, &message_record_desc, m, with_raw ? RECORD_JSON_RAW : 0) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *api_alert_json(const alert_record_t *a)
{
    return record_json(&alert_record_desc, a, RECORD_JSON_API);
}

json_t *api_registration_json(const registration_record_t *r)
{
    return record_json(&registration_record_desc, r, RECORD_JSON_API);
}
