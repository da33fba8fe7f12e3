/* sip_peek: a few header values of a stored SIP message's text, without the full parser
 * (decoders/sip.c) that the store and the web server don't link: enough to show and filter the
 * messages that are not calls (From, To, User-Agent). Bounded: reads only up to the empty line
 * that ends the headers, never past len. */
#ifndef SIPSCOPE_SIP_PEEK_H
#define SIPSCOPE_SIP_PEEK_H

#include "sv.h"

/* The value of the first header called name (or its compact form, one letter, 0 for none),
 * names compared without case, leading and trailing blanks cut; folded continuation lines are
 * not joined (the first line's part is given). SV_NULL when absent. */
sv_t sip_peek_header(sv_t msg, const char *name, char compact);
/* The URI of a From/To/Contact value: between '<' and '>' when there are brackets, else up to
 * the first ';' (header parameters), blanks cut. SV_NULL when empty. */
sv_t sip_peek_uri(sv_t value);
/* The user part of a sip:, sips: or tel: URI ("alice" of "sip:alice@example.com", the number of
 * "tel:+1555;phone-context=x"), without its parameters; SV_NULL when it has none. */
sv_t sip_peek_user(sv_t uri);

#endif
