/* client: whether a request's client is still there, so that its query need not run on. */
#include <poll.h>

#include <microhttpd.h>

#include "api_int.h"

int api_client_gone(void *ctx)
{
    api_req_t *req = ctx;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return 0;
    /* A FIN (POLLRDHUP), a reset or an error. A client that half-closes after its request and
     * waits for the answer reads as gone too; HTTP clients do not do that. */
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}
