/* security: placeholder. */
