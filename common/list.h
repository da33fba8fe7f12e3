/* list: the two intrusive doubly linked lists the bounded tables use for their queues and LRUs.
 *
 * list_t links nodes embedded in heap objects (CONTAINER_OF gets the object back); ilist_t
 * links entries of a preallocated array by index, so that tables of fixed size need no
 * pointers and their links can live apart from the entries. Neither allocates. */
#ifndef SIPSCOPE_LIST_H
#define SIPSCOPE_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "defs.h"

/* ---- list_t: pointer nodes; head is the oldest when pushed at the tail. */

typedef struct list_node {
    struct list_node *prev, *next;
} list_node_t;

typedef struct {
    list_node_t *head, *tail;
} list_t;

static inline void list_push_tail(list_t *l, list_node_t *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

/* n must be on l. */
static inline void list_remove(list_t *l, list_node_t *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
}

/* ---- ilist_t: entries numbered from 1 (0 is "none"); links[i - 1] holds entry i's links. */

typedef struct {
    uint32_t prev, next;
} ilist_link_t;

typedef struct {
    ilist_link_t *links; /* borrowed: one per entry of the table */
    uint32_t head, tail;
} ilist_t;

static inline void ilist_init(ilist_t *l, ilist_link_t *links)
{
    l->links = links;
    l->head = l->tail = 0;
}

/* i must be on l. */
static inline void ilist_remove(ilist_t *l, uint32_t i)
{
    ilist_link_t *n = &l->links[i - 1];
    if (n->prev)
        l->links[n->prev - 1].next = n->next;
    else
        l->head = n->next;
    if (n->next)
        l->links[n->next - 1].prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = 0;
}

static inline void ilist_push_head(ilist_t *l, uint32_t i)
{
    ilist_link_t *n = &l->links[i - 1];
    n->prev = 0;
    n->next = l->head;
    if (l->head)
        l->links[l->head - 1].prev = i;
    else
        l->tail = i;
    l->head = i;
}

static inline void ilist_push_tail(ilist_t *l, uint32_t i)
{
    ilist_link_t *n = &l->links[i - 1];
    n->next = 0;
    n->prev = l->tail;
    if (l->tail)
        l->links[l->tail - 1].next = i;
    else
        l->head = i;
    l->tail = i;
}

/* LRU use with the most recent at the head: move i (on l) there. */
static inline void ilist_touch(ilist_t *l, uint32_t i)
{
    if (l->head != i) {
        ilist_remove(l, i);
        ilist_push_head(l, i);
    }
}

#endif
