/* corr: placeholder. */
