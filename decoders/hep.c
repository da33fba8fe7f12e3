/* hep: placeholder. */
